/** What every benchmark gets from `test/bench/main.ts`. */
export interface BenchContext {
  /** Fewer runs and trials, shorter windows: a smoke run. */
  quick: boolean;
  /** Aborts the whole run (deadline or Ctrl-C). */
  signal: AbortSignal;
  /** A temp folder for this run's files; removed by main at the end. */
  tmp: string;
  /** When set, service processes run with `--cpu-prof` writing here. */
  profileDir: string | undefined;
  /** Echo the output of service processes (registry, log service) to stderr. */
  verbose: boolean;
  /** Prints one progress line (stderr). */
  progress: (line: string) => void;
}

/** An `onLine` for a service process: echoes its output when verbose. */
export function echo(context: BenchContext, name: string): { onLine?: (line: string) => void } {
  if (!context.verbose) return {};
  return { onLine: (line) => process.stderr.write(`  ${name} | ${line}\n`) };
}

/** Node flags for a target process: CPU profiling when asked for, nothing otherwise. */
export function profileArgs(context: BenchContext, name: string): string[] {
  if (!context.profileDir) return [];
  const file = `${name}-${process.hrtime.bigint()}.cpuprofile`;
  return ["--cpu-prof", `--cpu-prof-dir=${context.profileDir}`, `--cpu-prof-name=${file}`];
}
