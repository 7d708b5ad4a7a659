import type { LoadGenerator, LoadRun, RunConfig } from "./load.ts";
import { fmt, median } from "./stats.ts";

/** Other processes using more than this (% of one core) during a run make it noisy. */
const noisyCpu = 25;
/** A generator process busier than this (% of one core) may itself be the limit. */
export const saturatedCpu = 90;

/** A target of a comparison: where to send the load, and its processes (for their CPU). */
export interface Target {
  url: string;
  pids: readonly number[];
}

/** The runs of a comparison, noisy rounds already sorted out. */
export interface Rounds {
  /** The baseline's runs (the bare server). */
  base: LoadRun[];
  /** Each subject's runs, in the order of the subjects; run i of each was beside base run i. */
  subjects: LoadRun[][];
  /** Rounds measured while other processes were busy, left out (unless too few were clean). */
  noisy: number;
  /** Too few clean rounds: the noisy ones are included. */
  busy: boolean;
}

/** Options of `measureRounds`. */
export interface RoundOptions {
  runs: number;
  /** Rounds measured at most beyond `runs`, when some were noisy. */
  extra: number;
  signal: AbortSignal;
  progress: (line: string) => void;
  label: string;
}

/**
 * Drives `base` and every subject in rounds of runs of the same generator, the order turning
 * each round (so a drift in the machine's speed hits all alike), until `runs` clean rounds are
 * in. A round during which other processes used more than a quarter of a core is measured
 * again, within `extra` attempts.
 */
export async function measureRounds(generator: LoadGenerator, config: Omit<RunConfig, "url">,
  base: Target, subjects: readonly Target[], options: RoundOptions): Promise<Rounds> {
  const { runs, extra, signal, progress, label } = options;
  const targets = [base, ...subjects];
  const clean: LoadRun[][] = targets.map(() => []);
  const noisy: LoadRun[][] = targets.map(() => []);
  let noisyRounds = 0;
  for (let attempt = 0; attempt < runs + extra && (clean[0]?.length ?? 0) < runs; attempt++) {
    if (signal.aborted) break;
    const round: LoadRun[] = [];
    for (let k = 0; k < targets.length; k++) {
      const index = (attempt + k) % targets.length;
      const target = targets[index] ?? base;
      round[index] = await generator.run({ ...config, url: `${target.url}/log` }, target.pids);
    }
    const isNoisy = Math.max(...round.map((run) => run.otherCpu)) > noisyCpu;
    const bare = round[0];
    progress(`${label}: round ${attempt + 1}${isNoisy ? " (noisy)" : ""}: ` +
      round.map((run, i) => `${i === 0 ? "bare" : `log ${i}`} ${describeRun(run)}` +
        (i > 0 && bare ? ` ratio ${fmt(run.rate / bare.rate, 2)}` : "")).join("; "));
    if (isNoisy) noisyRounds++;
    round.forEach((run, i) => (isNoisy ? noisy : clean)[i]?.push(run));
  }
  const busy = (clean[0]?.length ?? 0) < Math.min(2, runs);
  const runsOf = (i: number) => [...(clean[i] ?? []), ...(busy ? noisy[i] ?? [] : [])];
  return { base: runsOf(0), subjects: subjects.map((_, i) => runsOf(i + 1)), noisy: noisyRounds,
    busy };
}

/** The CPU a target spent per answered request, µs (median over runs). */
export function cpuPerRequest(runs: readonly LoadRun[]): number {
  return median(runs.map((run) => (run.targetCpu * 10_000) / Math.max(1, run.rate)));
}

/** Whether the generator's busiest process was near a full core in the median run. */
export function saturated(runs: readonly LoadRun[]): boolean {
  return median(runs.map((run) => run.generatorPeakCpu)) >= saturatedCpu;
}

/** One run as a progress line. */
export function describeRun(run: LoadRun): string {
  const extra = run.bad + run.errors > 0
    ? `, ${run.bad} bad, ${run.errors} errors ${run.firstError}`
    : "";
  return `${fmt(run.rate)} req/s (target CPU ${fmt(run.targetCpu)}%, ${run.generator} ` +
    `${fmt(run.generatorCpu)}%, others ${fmt(run.otherCpu)}%, ` +
    `p50 ${fmt(run.latencyP50Ms, 2)} ms, p99 ${fmt(run.latencyP99Ms, 1)} ms${extra})`;
}
