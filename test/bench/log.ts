import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { echo, profileArgs, type BenchContext } from "./context.ts";
import { checkLogFiles, type ConnectionLog } from "./entries.ts";
import { startLoadGenerator, type LoadGenerator, type LoadRun } from "./load.ts";
import { cpuPerRequest, describeRun, measurePairs, saturated, type Pairs } from "./pairs.ts";
import { builtCommand } from "../support/process.ts";
import { startNode, type Listening } from "../support/spawn.ts";
import { fmt, median, medianSpread } from "./stats.ts";
import { skipped, type Row } from "./table.ts";
import { startWrk } from "./wrk.ts";

const connections = 64;
const batchSize = 100;
const ratioTarget = 0.9;
const batchTarget = 1_000_000;
// Rotated files the service keeps: the runs write a few GiB at most (the batched ones about
// 130 MB a second), and the check must find every entry, so none may be rotated away.
const keepFiles = 40;

/**
 * docs/protocol.md#performance-targets log ingestion: the real log service process (every 200
 * fsync-durable) against a bare node:http server reading the same POSTs, in alternating runs of
 * the node:net generator and, when installed, of wrk; then JSON arrays of 100 entries; then a
 * check of the file: every acknowledged entry there, whole, in each connection's order.
 */
export async function benchLog(context: BenchContext): Promise<Row[]> {
  const ratioWhat = (generator: string) =>
    `log ingestion, text, ${connections} keep-alive conns, log ÷ bare req/s (${generator})`;
  const batchWhat = `batched log ingestion (JSON arrays of ${batchSize})`;
  const logservice = builtCommand("logservice");
  if (!logservice) {
    return [
      skipped(ratioWhat("node:net"), `≥ ${ratioTarget}×`, "cmd/logservice not built"),
      skipped(batchWhat, `≥ ${fmt(batchTarget)} entries/s`, "cmd/logservice not built"),
    ];
  }
  const { quick, progress, signal } = context;
  const runs = quick ? 2 : 5;
  const durationMs = quick ? 1_000 : 2_000;
  const text = { connections, warmupMs: quick ? 300 : 500, durationMs, mode: "text" as const,
    batchSize: 1 };
  const dir = await mkdtemp(join(context.tmp, "log-"));
  const file = join(dir, "bench.log");
  const started: Listening[] = [];
  const generators: LoadGenerator[] = [];
  try {
    const bare = await startNode(new URL("./bare.js", import.meta.url), [], { name: "bare" });
    started.push(bare);
    // No registry runs here: the log service keeps retrying registration with backoff in
    // the background, which costs next to nothing; its ingestion path is what is measured.
    const log = await startNode(logservice, ["--host", "127.0.0.1", "--port", "0", "--file", file,
      "--registry", "http://127.0.0.1:9", "--keep", String(keepFiles)], {
      name: "logservice",
      nodeArgs: profileArgs(context, "logservice"),
      ...echo(context, "logservice"),
    });
    started.push(log);
    const node = await startLoadGenerator();
    generators.push(node);
    const wrk = await startWrk(dir);
    if (wrk) generators.push(wrk);

    const sent = new Map<string, ConnectionLog>();
    const record = (run: LoadRun) => {
      for (const [key, value] of run.sent) sent.set(key, value);
      return run;
    };
    // Untimed runs first, so neither target (nor the generator) is measured cold.
    await node.run({ ...text, url: `${bare.url}/log` }, bare.pid);
    record(await node.run({ ...text, url: `${log.url}/log` }, log.pid));

    const rows: Row[] = [];
    const all: LoadRun[] = [];
    const bareRuns = new Map<string, LoadRun[]>();
    const options = { runs, extra: quick ? 1 : 3, signal, progress };
    for (const generator of generators) {
      if (signal.aborted) break;
      const pairs = await measurePairs(generator, text, bare, log,
        { ...options, label: `log (${generator.name})` });
      for (const run of pairs.subject) record(run);
      all.push(...pairs.base, ...pairs.subject);
      bareRuns.set(generator.name, pairs.base);
      rows.push(ratioRow(ratioWhat(generator.name), pairs));
    }
    const wrkBare = wrk && bareRuns.get(wrk.name);
    if (wrkBare) rows.unshift(generatorRow(bareRuns.get(node.name) ?? [], wrkBare));

    const batchRuns: LoadRun[] = [];
    for (let run = 0; run < (quick ? 1 : 3) && !signal.aborted; run++) {
      const batch = { ...text, mode: "batch" as const, batchSize, url: `${log.url}/log` };
      const l = record(await node.run(batch, log.pid));
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

    await log.stop();
    // The service rotates its file at 64 MiB: the check reads the rotated ones first.
    const rotated = Array.from({ length: keepFiles }, (_, n) => `${file}.${keepFiles - n}`);
    const check = await checkLogFiles(rotated.concat(file),
      sent);
    const acked = [...sent.values()].reduce((n, c) => n + c.sent - c.failed.length, 0);
    rows.push({
      what: "log: acknowledged entries in the file, whole and in each connection's order",
      value: `${fmt(acked)} requests acked, ${fmt(check.missing)} missing; ` +
        `${fmt(check.lines)} lines`,
      target: "none missing, torn, interleaved or reordered",
      met: check.missing === 0 && check.malformed === 0 && check.reordered === 0,
      note: `${check.malformed} malformed lines, ${check.reordered} connections out of order; ` +
        `${fmt(check.wrk)} lines from wrk (counted, not numbered); ` +
        (failures === 0 ? "no non-200 answers" : `${failures} non-200 answers or errors`),
    });
    return rows;
  } finally {
    await Promise.all(generators.map((generator) => generator.close()));
    await Promise.all(started.map((s) => s.stop()));
  }
}

// The ratio row of one generator: met only when the generator was not the limit.
function ratioRow(what: string, pairs: Pairs): Row {
  const { base, subject, busy, noisy } = pairs;
  const ratios = subject.map((l, i) => l.rate / (base[i]?.rate ?? Number.NaN));
  const failures = subject.reduce((n, l) => n + l.bad + l.errors, 0);
  const full = saturated(base) || saturated(subject);
  const pick = (runs: LoadRun[], get: (run: LoadRun) => number, digits = 0) =>
    fmt(median(runs.map(get)), digits);
  return {
    what,
    value: `${medianSpread(ratios, 2, "×")}${busy ? " on a busy machine" : ""}` +
      (full ? " — GENERATOR SATURATED" : ""),
    target: `≥ ${ratioTarget}×`,
    met: full ? undefined : median(ratios) >= ratioTarget && failures === 0,
    note: `log ${medianSpread(subject.map((l) => l.rate))} req/s, p50 ` +
      `${pick(subject, (l) => l.latencyP50Ms, 2)} ms, p99 ` +
      `${pick(subject, (l) => l.latencyP99Ms, 1)} ms, CPU ${pick(subject, (l) => l.targetCpu)}% ` +
      `(${fmt(cpuPerRequest(subject), 1)} µs/req); ` +
      `bare ${medianSpread(base.map((l) => l.rate))} req/s, p50 ` +
      `${pick(base, (l) => l.latencyP50Ms, 2)} ms, CPU ${pick(base, (l) => l.targetCpu)}% ` +
      `(${fmt(cpuPerRequest(base), 1)} µs/req); generator's busiest process ` +
      `${pick([...base, ...subject], (l) => l.generatorPeakCpu)}% of a core; other processes ` +
      `${pick([...base, ...subject], (l) => l.otherCpu)}%` +
      (busy ? "; MACHINE BUSY: noisy pairs included" : noisy ? `; ${noisy} noisy pairs ` +
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
