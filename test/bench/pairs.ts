import type { LoadGenerator, LoadRun, RunConfig } from "./load.ts";
import { fmt, median } from "./stats.ts";

/** Other processes using more than this (% of one core) during a run make it noisy. */
const noisyCpu = 25;
/** A generator process busier than this (% of one core) may itself be the limit. */
export const saturatedCpu = 90;

/** A target of a paired run. */
export interface Target {
  url: string;
  pid: number;
}

/** The runs of a paired comparison, noisy pairs already sorted out. */
export interface Pairs {
  base: LoadRun[];
  subject: LoadRun[];
  /** Pairs measured while other processes were busy, left out (unless too few were clean). */
  noisy: number;
  /** Too few clean pairs: the noisy ones are included. */
  busy: boolean;
}

/** Options of `measurePairs`. */
export interface PairOptions {
  runs: number;
  /** Pairs measured at most beyond `runs`, when some were noisy. */
  extra: number;
  signal: AbortSignal;
  progress: (line: string) => void;
  label: string;
}

/**
 * Drives `base` and `subject` in alternating runs of the same generator (so a drift in the
 * machine's speed hits both alike) until `runs` clean pairs are in. A pair during which other
 * processes used more than a quarter of a core is measured again, within `extra` attempts.
 */
export async function measurePairs(generator: LoadGenerator, config: Omit<RunConfig, "url">,
  base: Target, subject: Target, options: PairOptions): Promise<Pairs> {
  const { runs, extra, signal, progress, label } = options;
  const result: Pairs = { base: [], subject: [], noisy: 0, busy: false };
  const noisyBase: LoadRun[] = [];
  const noisySubject: LoadRun[] = [];
  const drive = (target: Target) => generator.run({ ...config, url: `${target.url}/log` },
    target.pid);
  for (let attempt = 0; attempt < runs + extra && result.base.length < runs; attempt++) {
    if (signal.aborted) break;
    let b: LoadRun;
    let s: LoadRun;
    if (attempt % 2 === 0) {
      b = await drive(base);
      s = await drive(subject);
    } else {
      s = await drive(subject);
      b = await drive(base);
    }
    const noisy = Math.max(b.otherCpu, s.otherCpu) > noisyCpu;
    progress(`${label}: pair ${attempt + 1}${noisy ? " (noisy)" : ""}: bare ${describeRun(b)}; ` +
      `log ${describeRun(s)}; ratio ${fmt(s.rate / b.rate, 2)}`);
    if (noisy) {
      result.noisy++;
      noisyBase.push(b);
      noisySubject.push(s);
    } else {
      result.base.push(b);
      result.subject.push(s);
    }
  }
  if (result.base.length < Math.min(2, runs)) {
    result.busy = true;
    result.base.push(...noisyBase);
    result.subject.push(...noisySubject);
  }
  return result;
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
