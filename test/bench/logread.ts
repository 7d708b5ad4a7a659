import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { echo, type BenchContext } from "./context.ts";
import { startLoadGenerator, type LoadGenerator, type LoadRun } from "./load.ts";
import { describeRun } from "./pairs.ts";
import { setTimeout as delay } from "node:timers/promises";
import { builtCommand } from "../support/process.ts";
import { startNode, type Listening } from "../support/spawn.ts";
import { fmt, median, medianSpread } from "./stats.ts";
import { skipped, type Row } from "./table.ts";

const writers = 64;
const readers = 50;
const readLines = 10_000;
const target = 0.8;

/**
 * Reading cannot starve writing (README, Log service): the log service's write rate while 50
 * clients repeat `GET /log?lines=10000` as fast as they are answered, against its rate without
 * them, in alternating runs; readers and writers are separate generator processes.
 */
export async function benchLogRead(context: BenchContext): Promise<Row[]> {
  const what = `log writes (${writers} conns) while ${readers} clients repeat ` +
    `GET /log?lines=${fmt(readLines)}`;
  const logservice = builtCommand("logservice");
  if (!logservice) return [skipped(what, `≥ ${target * 100} %`, "cmd/logservice not built")];
  const { quick, progress, signal } = context;
  const dir = await mkdtemp(join(context.tmp, "logread-"));
  const started: Listening[] = [];
  const generators: LoadGenerator[] = [];
  try {
    const log = await startNode(logservice, ["--host", "127.0.0.1", "--port", "0", "--file",
      join(dir, "read.log"), "--registry", "http://127.0.0.1:9"],
    { name: "logservice", ...echo(context, "logservice") });
    started.push(log);
    const write = await startLoadGenerator();
    const read = await startLoadGenerator();
    generators.push(write, read);
    const durationMs = quick ? 1_000 : 2_000;
    const writeConfig = { url: `${log.url}/log`, connections: writers, warmupMs: 300,
      durationMs, mode: "text" as const, batchSize: 1 };
    // Fills the file past the lines the readers ask for, and warms everything up.
    await write.run({ ...writeConfig, durationMs: 1_000 }, log.pid);

    const alone: LoadRun[] = [];
    const shared: LoadRun[] = [];
    const reads: LoadRun[] = [];
    for (let pair = 0; pair < (quick ? 1 : 3) && !signal.aborted; pair++) {
      const quiet = await write.run(writeConfig, log.pid);
      alone.push(quiet);
      // The readers run from before the writers' warm-up to after their window.
      const reading = read.run({ url: `${log.url}/log?lines=${readLines}`, connections: readers,
        warmupMs: 200, durationMs: durationMs + 600, mode: "read", batchSize: 1 }, log.pid);
      await delay(200, undefined, { signal });
      const busy = await write.run(writeConfig, log.pid);
      shared.push(busy);
      const readRun = await reading;
      reads.push(readRun);
      progress(`logread: pair ${pair + 1}: alone ${describeRun(quiet)}; with readers ` +
        `${describeRun(busy)}; readers ${fmt(readRun.rate)} answers/s, ` +
        `${readRun.bad + readRun.errors} refused or failed`);
    }
    const ratios = shared.map((run, i) => run.rate / (alone[i]?.rate ?? Number.NaN));
    const failures = [...alone, ...shared].reduce((n, run) => n + run.bad + run.errors, 0);
    return [{
      what,
      value: `${medianSpread(ratios.map((r) => r * 100), 0, " %")} of the rate without readers`,
      target: `≥ ${target * 100} %`,
      met: median(ratios) >= target && failures === 0,
      note: `writes ${fmt(median(shared.map((r) => r.rate)))} vs ` +
        `${fmt(median(alone.map((r) => r.rate)))} req/s, p99 ` +
        `${fmt(median(shared.map((r) => r.latencyP99Ms)), 1)} vs ` +
        `${fmt(median(alone.map((r) => r.latencyP99Ms)), 1)} ms; readers got ` +
        `${fmt(median(reads.map((r) => r.rate)))} answers/s, ` +
        `${fmt(median(reads.map((r) => r.bad + r.errors)))} refused (503) or failed per run` +
        (failures > 0 ? `; ${failures} failed writes` : ""),
    }];
  } finally {
    await Promise.all(generators.map((generator) => generator.close()));
    await Promise.all(started.map((s) => s.stop()));
  }
}
