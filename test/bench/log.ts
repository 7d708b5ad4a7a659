import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { echo, profileArgs, type BenchContext } from "./context.ts";
import { checkLogFile, type ConnectionLog, type FileCheck } from "./entries.ts";
import { startLoadGenerator, type LoadGenerator, type LoadRun } from "./load.ts";
import { builtCommand } from "../support/process.ts";
import { startNode, type Listening } from "../support/spawn.ts";
import { cpuPerRequest, describeRun, measureRounds, saturated, type Target } from "./rounds.ts";
import { fmt, median, medianSpread } from "./stats.ts";
import { skipped, type Row } from "./table.ts";
import { childPids } from "./usage.ts";
import { startWrk } from "./wrk.ts";

const connections = 64;
const batchSize = 100;
const ratioTarget = 0.9;
const batchTarget = 1_000_000;
/** The log services compared with the bare server: one process, and with a worker. */
const setups = [
  { name: "one process", workers: 1 },
  { name: "--workers 2", workers: 2 },
] as const;

interface LogService extends Target {
  name: string;
  started: Listening;
  file: string;
  /** What each connection sent, keyed `run:connection`, for the file check. */
  sent: Map<string, ConnectionLog>;
}

/**
 * docs/protocol.md#performance-targets log ingestion: the real log service process (every 200
 * fsync-durable), alone and with a worker process, against a bare node:http server reading the
 * same POSTs, in rounds of the node:net generator and, when installed, of wrk; then JSON arrays
 * of 100 entries; then a check of the files: every acknowledged entry there, whole, in each
 * connection's order.
 */
export async function benchLog(context: BenchContext): Promise<Row[]> {
  const ratioWhat = (setup: string, generator: string) =>
    `log ingestion, text, ${connections} keep-alive conns, ${setup}: log ÷ bare req/s ` +
    `(${generator})`;
  const batchWhat = `batched log ingestion (JSON arrays of ${batchSize}, --workers 2)`;
  const logservice = builtCommand("logservice");
  if (!logservice) {
    return [
      skipped(ratioWhat("--workers 2", "node:net"), `≥ ${ratioTarget}×`, "not built"),
      skipped(batchWhat, `≥ ${fmt(batchTarget)} entries/s`, "cmd/logservice not built"),
    ];
  }
  const { quick, progress, signal } = context;
  const text = { connections, warmupMs: quick ? 300 : 500, durationMs: quick ? 1_000 : 2_000,
    mode: "text" as const, batchSize: 1 };
  const dir = await mkdtemp(join(context.tmp, "log-"));
  const started: Listening[] = [];
  const generators: LoadGenerator[] = [];
  try {
    const bare = await startNode(new URL("./bare.js", import.meta.url), [], { name: "bare" });
    started.push(bare);
    const base: Target = { url: bare.url, pids: [bare.pid] };
    const services: LogService[] = [];
    for (const setup of setups) {
      const file = join(dir, `bench-${setup.workers}.log`);
      // No registry runs here: the log service keeps retrying registration with backoff in
      // the background, which costs next to nothing; its ingestion path is what is measured.
      const log = await startNode(logservice, ["--host", "127.0.0.1", "--port", "0", "--file",
        file, "--registry", "http://127.0.0.1:9", "--workers", String(setup.workers)], {
        name: `logservice ${setup.name}`,
        nodeArgs: profileArgs(context, `logservice-${setup.workers}`),
        ...echo(context, "logservice"),
      });
      started.push(log);
      const pids = [log.pid, ...await childPids(log.pid)];
      services.push({ name: setup.name, started: log, file, url: log.url, pids, sent: new Map() });
    }
    const record = (service: LogService, run: LoadRun) => {
      for (const [key, value] of run.sent) service.sent.set(key, value);
      return run;
    };
    const node = await startLoadGenerator();
    generators.push(node);
    const wrk = await startWrk(dir);
    if (wrk) generators.push(wrk);

    // Untimed runs first, so no target (nor the generator) is measured cold.
    await node.run({ ...text, url: `${bare.url}/log` }, base.pids);
    for (const service of services) {
      record(service, await node.run({ ...text, url: `${service.url}/log` }, service.pids));
    }

    const rows: Row[] = [];
    const all: LoadRun[] = [];
    const bareRuns = new Map<string, LoadRun[]>();
    for (const generator of generators) {
      if (signal.aborted) break;
      const rounds = await measureRounds(generator, text, base, services, {
        runs: quick ? 2 : 4, extra: quick ? 1 : 2, signal, progress,
        label: `log (${generator.name})` });
      bareRuns.set(generator.name, rounds.base);
      all.push(...rounds.base);
      for (const [i, service] of services.entries()) {
        const runs = rounds.subjects[i] ?? [];
        for (const run of runs) record(service, run);
        all.push(...runs);
        rows.push(ratioRow(ratioWhat(service.name, generator.name), rounds.base, runs,
          rounds.busy, rounds.noisy, service.name === "one process"));
      }
    }
    const wrkBare = wrk && bareRuns.get(wrk.name);
    if (wrkBare) rows.unshift(generatorRow(bareRuns.get(node.name) ?? [], wrkBare));

    const batched = services.at(-1) ?? services[0];
    const batchRuns: LoadRun[] = [];
    for (let run = 0; batched && run < (quick ? 1 : 3) && !signal.aborted; run++) {
      const batch = { ...text, mode: "batch" as const, batchSize, url: `${batched.url}/log` };
      const l = record(batched, await node.run(batch, batched.pids));
      batchRuns.push(l);
      progress(`log: batch run ${run + 1}: ${fmt(l.rate * batchSize)} entries/s, ` +
        describeRun(l));
    }
    const entries = batchRuns.map((l) => l.rate * batchSize);
    const failures = [...all, ...batchRuns].reduce((n, l) => n + l.bad + l.errors, 0);
    rows.push({
      what: batchWhat,
      value: `${medianSpread(entries)} entries/s`,
      target: `≥ ${fmt(batchTarget)} entries/s`,
      met: median(entries) >= batchTarget && failures === 0,
      note: `${fmt(median(batchRuns.map((l) => l.rate)))} req/s, CPU ` +
        `${fmt(median(batchRuns.map((l) => l.targetCpu)))}%, p99 ` +
        `${fmt(median(batchRuns.map((l) => l.latencyP99Ms)), 1)} ms`,
    });

    const checks: FileCheck[] = [];
    let acked = 0;
    for (const service of services) {
      await service.started.stop();
      checks.push(await checkLogFile(service.file, service.sent));
      acked += [...service.sent.values()].reduce((n, c) => n + c.sent - c.failed.length, 0);
    }
    const sum = (pick: (check: FileCheck) => number) =>
      checks.reduce((total, check) => total + pick(check), 0);
    rows.push({
      what: "log: acknowledged entries in the files, whole and in each connection's order",
      value: `${fmt(acked)} requests acked, ${fmt(sum((c) => c.missing))} missing; ` +
        `${fmt(sum((c) => c.lines))} lines`,
      target: "none missing, torn, interleaved or reordered",
      met: sum((c) => c.missing + c.malformed + c.reordered) === 0,
      note: `${sum((c) => c.malformed)} malformed lines, ${sum((c) => c.reordered)} ` +
        `connections out of order; ${fmt(sum((c) => c.wrk))} lines from wrk (counted, not ` +
        `numbered); ${failures === 0 ? "no non-200 answers" : `${failures} non-200 answers`}`,
    });
    return rows;
  } finally {
    await Promise.all(generators.map((generator) => generator.close()));
    await Promise.all(started.map((s) => s.stop()));
  }
}

// The ratio row of one log service and generator: met only when the generator was not the
// limit. The single process is shown for comparison, without a target.
function ratioRow(what: string, base: LoadRun[], subject: LoadRun[], busy: boolean,
  noisy: number, informational: boolean): Row {
  const ratios = subject.map((l, i) => l.rate / (base[i]?.rate ?? Number.NaN));
  const failures = subject.reduce((n, l) => n + l.bad + l.errors, 0);
  const full = saturated(base) || saturated(subject);
  const pick = (runs: LoadRun[], get: (run: LoadRun) => number, digits = 0) =>
    fmt(median(runs.map(get)), digits);
  return {
    what,
    value: `${medianSpread(ratios, 2, "×")}${busy ? " on a busy machine" : ""}` +
      (full ? " — GENERATOR SATURATED" : ""),
    target: informational ? "—" : `≥ ${ratioTarget}×`,
    met: informational || full ? undefined : median(ratios) >= ratioTarget && failures === 0,
    note: `log ${medianSpread(subject.map((l) => l.rate))} req/s, p50 ` +
      `${pick(subject, (l) => l.latencyP50Ms, 2)} ms, p99 ` +
      `${pick(subject, (l) => l.latencyP99Ms, 1)} ms, CPU ${pick(subject, (l) => l.targetCpu)}% ` +
      `(${fmt(cpuPerRequest(subject), 1)} µs/req); ` +
      `bare ${medianSpread(base.map((l) => l.rate))} req/s, p50 ` +
      `${pick(base, (l) => l.latencyP50Ms, 2)} ms, CPU ${pick(base, (l) => l.targetCpu)}% ` +
      `(${fmt(cpuPerRequest(base), 1)} µs/req); generator's busiest process ` +
      `${pick([...base, ...subject], (l) => l.generatorPeakCpu)}% of a core; other processes ` +
      `${pick([...base, ...subject], (l) => l.otherCpu)}%` +
      (busy ? "; MACHINE BUSY: noisy rounds included" : noisy ? `; ${noisy} noisy rounds ` +
        "(other processes > 25% of a core) left out" : ""),
  };
}

// node:net against wrk on the bare server: is our generator as fast as a C one?
function generatorRow(ours: readonly LoadRun[], wrk: readonly LoadRun[]): Row {
  const name = ours[0]?.generator ?? "node:net";
  const ourRate = median(ours.map((run) => run.rate));
  const wrkRate = median(wrk.map((run) => run.rate));
  return {
    what: `load generator check: bare server, ${connections} conns, ${name} vs wrk -t1`,
    value: `${fmt(ourRate)} vs ${fmt(wrkRate)} req/s (${fmt(ourRate / wrkRate, 2)}×)`,
    target: "≥ 0.95× wrk",
    met: ourRate >= 0.95 * wrkRate,
    note: `generator CPU: ${name} ${fmt(median(ours.map((r) => r.generatorCpu)))}%, ` +
      `wrk ${fmt(median(wrk.map((r) => r.generatorCpu)))}% of a core; bare server CPU ` +
      `${fmt(median(ours.map((r) => r.targetCpu)))}% vs ` +
      `${fmt(median(wrk.map((r) => r.targetCpu)))}%`,
  };
}
