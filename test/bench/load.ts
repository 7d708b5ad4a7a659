import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseLoadResult, type LoadConfig, type LoadResult } from "./loadgen.ts";
import { cpuMs, machineCpuMs } from "./proc.ts";

/** A load run's result plus the CPU the target and the generator used while measured. */
export interface LoadRun extends LoadResult {
  /** Requests per second answered 200 in the measured window. */
  rate: number;
  /** CPU use of the target over the window, % of one core. */
  targetCpu: number;
  /** CPU use of the generator over the window, % of one core. */
  generatorCpu: number;
  /** CPU use of everything else on the machine over the window, % of one core. */
  otherCpu: number;
}

/** A load generator process, reused for every run so its JIT is equally warm for each. */
export interface LoadGenerator {
  /**
   * Drives `config.url` and samples the target's CPU (and the generator's, and the whole
   * machine's) from /proc over the measured window. Rejects when the generator fails or
   * overruns (it is killed then; later runs reject too).
   */
  run(config: LoadConfig, targetPid: number): Promise<LoadRun>;
  /** Stops the generator process. */
  close(): Promise<void>;
}

/**
 * Forks the generator (test/bench/loadgen.ts). It is a process of its own so its CPU is visible
 * and it never shares an event loop with the orchestration: on 2 cores the target gets one
 * core and the generator the other while this process sleeps.
 */
export async function startLoadGenerator(): Promise<LoadGenerator> {
  const script = fileURLToPath(new URL("./loadgen.js", import.meta.url));
  const child: ChildProcess = fork(script, [], {
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = once(child, "exit");
  const ready = await Promise.race([
    once(child, "message").then(() => true),
    exited.then(() => false),
  ]);
  if (!ready) throw new Error("bench: load generator exited at start");

  const run = async (config: LoadConfig, targetPid: number): Promise<LoadRun> => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error("bench: load generator is gone");
    }
    const limitMs = config.warmupMs + config.durationMs + 30_000;
    const limit = setTimeout(() => child.kill("SIGKILL"), limitMs);
    let onMessage = (_message: unknown) => {};
    try {
      let window: Promise<{ target: number; generator: number; machine: number; at: number }> |
        undefined;
      const result = await new Promise<LoadResult>((resolve, reject) => {
        onMessage = (message: unknown) => {
          const type = (message as { type?: unknown } | null)?.type;
          if (type === "measuring") {
            window = Promise.all([cpuMs(targetPid), cpuMs(child.pid ?? 0), machineCpuMs()])
              .then(([target, generator, machine]) =>
                ({ target, generator, machine, at: performance.now() }));
          } else if (type === "result") {
            try {
              resolve(parseLoadResult(message));
            } catch (error) {
              reject(error);
            }
          }
        };
        child.on("message", onMessage);
        void exited.then(([code]) =>
          reject(new Error(`bench: load generator exited (${String(code)})`)));
        child.send(config);
      });
      const [targetEnd, generatorEnd, machineEnd] =
        await Promise.all([cpuMs(targetPid), cpuMs(child.pid ?? 0), machineCpuMs()]);
      const begin = await window;
      const wall = begin ? performance.now() - begin.at : config.durationMs;
      const share = (used: number) => (begin ? (100 * used) / wall : Number.NaN);
      const target = targetEnd - (begin?.target ?? 0);
      const generator = generatorEnd - (begin?.generator ?? 0);
      return {
        ...result,
        rate: (result.ok * 1_000) / config.durationMs,
        targetCpu: share(target),
        generatorCpu: share(generator),
        otherCpu: share(machineEnd - (begin?.machine ?? 0) - target - generator),
      };
    } finally {
      clearTimeout(limit);
      child.off("message", onMessage);
    }
  };

  return {
    run,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
