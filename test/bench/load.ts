import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { ConnectionLog } from "./entries.ts";
import { parseLoadResult, type LoadConfig, type LoadResult } from "./loadwire.ts";
import { spawnNode, type Spawned } from "../support/spawn.ts";
import { cpuMs, machineCpuMs } from "./usage.ts";

/** One load run against one target, whichever generator drove it. */
export interface LoadRun {
  /** Which generator produced the figure, e.g. "node:net ×1" or "wrk -t1". */
  generator: string;
  /** Requests per second answered 200 in the measured window. */
  rate: number;
  ok: number;
  /** Other statuses, and failed or refused requests, in the window. */
  bad: number;
  errors: number;
  firstError: string;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** CPU use of the target over the window, % of one core. */
  targetCpu: number;
  /** CPU use of the generator over the window, % of one core (summed over its processes). */
  generatorCpu: number;
  /** The generator's busiest process or thread, % of one core: near 100 it was the limit. */
  generatorPeakCpu: number;
  /** CPU use of everything else on the machine over the window, % of one core. */
  otherCpu: number;
  /** What each connection sent, keyed `run:connection` (node:net generator only). */
  sent: Map<string, ConnectionLog>;
}

/** What one run is asked to do. */
export type RunConfig = Omit<LoadConfig, "firstConnection" | "run">;

/** A load generator, reused for every run so its JIT is equally warm for each. */
export interface LoadGenerator {
  /** The generator's name for tables, e.g. "node:net ×2". */
  readonly name: string;
  /**
   * Drives `config.url` and samples the CPU of the target, the generator and the whole machine
   * from /proc over the measured window. Rejects when the generator fails or overruns (it is
   * killed then; later runs reject too).
   */
  run(config: RunConfig, targetPid: number): Promise<LoadRun>;
  /** Stops the generator processes. */
  close(): Promise<void>;
}

type Worker = Spawned;

async function forkWorker(): Promise<Worker> {
  const script = fileURLToPath(new URL("./loadgen.js", import.meta.url));
  const worker = spawnNode("load generator", [script], {
    ipc: true,
    onLine: (line) => process.stderr.write(`${line}\n`),
  });
  const ready = await Promise.race([
    once(worker.child, "message").then(() => true),
    worker.exited.then(() => false),
  ]);
  if (!ready) throw new Error("bench: load generator exited at start");
  return worker;
}

// Sends one config to one worker; resolves with its result, reporting the window's edges.
function runWorker(worker: Worker, config: LoadConfig, edge: (type: string) => void):
  Promise<LoadResult> {
  const { child, exited } = worker;
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.reject(new Error("bench: load generator is gone"));
  }
  let onMessage = (_message: unknown) => {};
  const limit = setTimeout(() => child.kill("SIGKILL"),
    config.warmupMs + config.durationMs + 30_000);
  return new Promise<LoadResult>((resolve, reject) => {
    onMessage = (message: unknown) => {
      const type = (message as { type?: unknown } | null)?.type;
      if (type === "measuring" || type === "ended") {
        edge(type);
      } else if (type === "result") {
        try {
          resolve(parseLoadResult(message));
        } catch (error) {
          reject(error);
        }
      }
    };
    child.on("message", onMessage);
    void exited.then(({ code, signal }) =>
      reject(new Error(`bench: load generator exited (${code ?? signal})`)));
    child.send(config);
  }).finally(() => {
    clearTimeout(limit);
    child.off("message", onMessage);
  });
}

/** CPU counters at one edge of the measured window. */
interface Sample {
  target: number;
  generators: number[];
  machine: number;
  at: number;
}

async function sample(targetPid: number, generatorPids: readonly number[]): Promise<Sample> {
  const [target, machine, ...generators] = await Promise.all([cpuMs(targetPid),
    machineCpuMs(), ...generatorPids.map((pid) => cpuMs(pid))]);
  return { target: target ?? 0, machine: machine ?? 0, generators, at: performance.now() };
}

/** The CPU figures of a window between two samples, in % of one core. */
export function cpuShares(begin: Sample, end: Sample): Pick<LoadRun,
  "targetCpu" | "generatorCpu" | "generatorPeakCpu" | "otherCpu"> {
  const wall = Math.max(1, end.at - begin.at);
  const share = (used: number) => (100 * used) / wall;
  const generators = end.generators.map((used, i) => used - (begin.generators[i] ?? 0));
  const generator = generators.reduce((sum, used) => sum + used, 0);
  const target = end.target - begin.target;
  return {
    targetCpu: share(target),
    generatorCpu: share(generator),
    generatorPeakCpu: share(Math.max(0, ...generators)),
    otherCpu: share(end.machine - begin.machine - target - generator),
  };
}

/**
 * Forks `processes` node:net generators (test/bench/loadgen.ts) and splits every run's
 * connections among them. Each is a process of its own so its CPU is visible and it never
 * shares an event loop with the orchestration.
 */
export async function startLoadGenerator(processes = 1): Promise<LoadGenerator> {
  const workers = await Promise.all(Array.from({ length: processes }, () => forkWorker()));
  const pids = workers.map((worker) => worker.child.pid ?? 0);
  let runs = 0;

  const run = async (config: RunConfig, targetPid: number): Promise<LoadRun> => {
    const id = ++runs;
    let begin: Promise<Sample> | undefined;
    let end: Promise<Sample> | undefined;
    // Every worker reports the edges; the first report of each is the one sampled.
    const edge = (type: string) => {
      if (type === "measuring") begin ??= sample(targetPid, pids);
      else end ??= sample(targetPid, pids);
    };
    let first = 0;
    const results = await Promise.all(workers.map((worker, index) => {
      const connections = Math.floor(config.connections / processes) +
        (index < config.connections % processes ? 1 : 0);
      const firstConnection = first;
      first += connections;
      return runWorker(worker, { ...config, connections, firstConnection, run: id }, edge);
    }));
    const shares = begin && end
      ? cpuShares(await begin, await end)
      : { targetCpu: NaN, generatorCpu: NaN, generatorPeakCpu: NaN, otherCpu: NaN };
    const sent = new Map<string, ConnectionLog>();
    let connection = 0;
    for (const result of results) {
      for (const log of result.connections) sent.set(`${id}:${connection++}`, log);
    }
    const sum = (pick: (result: LoadResult) => number) =>
      results.reduce((total, result) => total + pick(result), 0);
    const ok = sum((result) => result.ok);
    return {
      generator: `node:net ×${processes}`,
      rate: (ok * 1_000) / config.durationMs,
      ok,
      bad: sum((result) => result.bad),
      errors: sum((result) => result.errors),
      firstError: results.find((result) => result.firstError)?.firstError ?? "",
      // The slowest process's figures: an upper bound when several share the run.
      latencyP50Ms: Math.max(...results.map((result) => result.latencyP50Ms)),
      latencyP99Ms: Math.max(...results.map((result) => result.latencyP99Ms)),
      ...shares,
      sent,
    };
  };

  return {
    name: `node:net ×${processes}`,
    run,
    close: async () => {
      await Promise.all(workers.map(async ({ child, exited }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.disconnect();
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }));
    },
  };
}
