import { once } from "node:events";
import type { BenchContext } from "./context.ts";
import { listAt, registerAt } from "./dependent.ts";
import type { HeartbeatCommand, HeartbeatReport } from "./hbservers.ts";
import { setTimeout as delay } from "node:timers/promises";
import { startNode } from "../support/spawn.ts";
import { cpuMs, memoryMiB } from "./usage.ts";
import { eachLimit, keepAliveAgent, registryOrSkip, startRegistry } from "./services.ts";
import { fmt, summarize } from "./stats.ts";
import type { Row } from "./table.ts";

const intervalMs = 3_000;
const concurrency = 64;

/**
 * docs/protocol.md#performance-targets registry scale: N registrations whose heartbeat URLs are
 * served by four heartbeat servers in a child process that records every check. Measures the time
 * to register them all, whether each instance is checked every interval, the registry's RSS and
 * CPU, and `GET /services` latency while the checks run.
 */
export async function benchScale(context: BenchContext): Promise<Row[]> {
  const { quick, progress, signal } = context;
  const count = quick ? 2_000 : 10_000;
  const observeWindows = 2;
  const label = fmt(count);
  const registry = await registryOrSkip(context, [
    [`${label} registrations: time to register all`, "≤ 5 s"],
    [`${label} registrations: every instance checked each interval`, "100%"],
    [`${label} registrations: registry RSS`, "≤ 200 MB"],
    [`${label} registrations: GET /services`, "≤ 100 ms"],
  ]);
  if (Array.isArray(registry)) return registry;
  const heartbeatScript = new URL("./hbservers.js", import.meta.url);
  const heartbeats = await startNode(heartbeatScript, [String(count), "4"],
    { name: "heartbeat servers", ipc: true, signal });
  const servers = heartbeats.url.split(",");
  const ask = async (command: HeartbeatCommand): Promise<HeartbeatReport> => {
    const answer = once(heartbeats.child, "message") as Promise<[HeartbeatReport]>;
    heartbeats.child.send(command);
    return (await answer)[0];
  };
  const agent = keepAliveAgent(8);
  try {
    const memoryBefore = await memoryMiB(registry.pid);
    const { registerMs, failed, firstFailure } =
      await registerAll(registry.url, servers, count, signal);
    progress(`scale: ${label} registrations in ${fmt(registerMs)} ms` +
      (failed ? ` (${failed} failed: ${firstFailure})` : ""));

    // Let every instance be checked once, then observe whole intervals.
    const settleBy = performance.now() + 2 * intervalMs + 2_000;
    let report = await ask({ cmd: "report" });
    while (report.checkedEver < count && performance.now() < settleBy) {
      await delay(250, undefined, { signal });
      report = await ask({ cmd: "report" });
    }
    progress(`scale: ${fmt(report.checkedEver)} of ${label} checked at least once`);
    heartbeats.child.send({ cmd: "observe", intervalMs } satisfies HeartbeatCommand);
    const cpuStart = await cpuMs(registry.pid);
    const observeStart = performance.now();
    const observeMs = observeWindows * intervalMs + 200;
    const listMs: number[] = [];
    let listed = 0;
    let rssMax = 0;
    while (performance.now() - observeStart < observeMs && !signal.aborted) {
      const before = performance.now();
      const list = await listAt(registry.url, agent);
      listMs.push(list.ms);
      listed = list.count;
      rssMax = Math.max(rssMax, (await memoryMiB(registry.pid)).rss);
      await delay(Math.max(0, 700 - (performance.now() - before)), undefined, { signal });
    }
    const cpuUsed = (await cpuMs(registry.pid)) - cpuStart;
    const cpu = (100 * cpuUsed) / (performance.now() - observeStart);
    report = await ask({ cmd: "report" });
    const memory = await memoryMiB(registry.pid);
    rssMax = Math.max(rssMax, memory.rss);
    const list = summarize(listMs);

    // The same registrations against a memory-only registry: what persistence costs.
    await registry.stop();
    const memoryOnly = await startRegistry(context, ["--state", ""]);
    let memoryMs = Number.NaN;
    try {
      memoryMs = (await registerAll(memoryOnly.url, servers, count, signal)).registerMs;
    } finally {
      await memoryOnly.stop();
    }
    progress(`scale: memory-only registry: ${label} registrations in ${fmt(memoryMs)} ms`);
    // The criterion is the gap between consecutive checks of each instance (and how long any
    // has gone unchecked at the end): fixed 3 s windows would count a check that drifts a few
    // ms across a window edge as a miss.
    const gapOK = report.maxGapMs <= intervalMs * 1.1 && report.maxSinceLastMs <= intervalMs * 1.1;
    progress(`scale: windows ${report.windows.join(", ")}; gaps p50 ${fmt(report.gapP50Ms)} ` +
      `p99 ${fmt(report.gapP99Ms)} max ${fmt(report.maxGapMs)} ms; RSS ${fmt(rssMax, 1)} MiB; ` +
      `CPU ${fmt(cpu)}%; GET /services p50 ${fmt(list.p50, 1)} ms`);
    return [
      {
        what: `${label} registrations: time to register all`,
        value: `${fmt(registerMs / 1_000, 2)} s`,
        target: "≤ 5 s",
        met: registerMs <= 5_000 && failed === 0,
        note: `${concurrency} concurrent keep-alive POSTs, ` +
          `${fmt((count * 1_000) / registerMs)} registrations/s` +
          (failed ? `, ${failed} failed` : ""),
      },
      {
        what: `${label} registrations, memory-only registry (--state '')`,
        value: `${fmt(memoryMs / 1_000, 2)} s`,
        target: "—",
        met: undefined,
        note: "the same load without persistence: the difference is the cost of saving state",
      },
      {
        what: `${label} registrations: every instance checked each ${fmt(intervalMs)} ms interval`,
        value: `largest gap ${fmt(report.maxGapMs)} ms; ` +
          `${fmt((100 * report.checkedObserved) / count, 1)}% checked`,
        target: "gap ≤ interval (+10%), 100%",
        met: gapOK && report.checkedObserved === count,
        note: `gap p50 ${fmt(report.gapP50Ms)} ms, p99 ${fmt(report.gapP99Ms)} ms over ` +
          `${observeWindows} intervals; longest unchecked at end ` +
          `${fmt(report.maxSinceLastMs)} ms; ` +
          `per fixed 3 s window ${report.windows.map((n) => `${fmt((100 * n) / count, 2)}%`)
            .join(", ")}; registry CPU ${fmt(cpu)}% of a core`,
      },
      {
        what: `${label} registrations: registry RSS`,
        value: `${fmt(rssMax, 1)} MiB`,
        target: "≤ 200 MB",
        met: rssMax * 1.048_576 <= 200,
        note: `peak VmHWM ${fmt(memory.peak, 1)} MiB; ${fmt(memoryBefore.rss, 1)} MiB when empty`,
      },
      {
        what: `${label} registrations: GET /services`,
        value: `p50 ${fmt(list.p50, 1)} ms, max ${fmt(list.max, 1)} ms`,
        target: "≤ 100 ms",
        met: list.p50 <= 100 && listed === count,
        note: `${list.n} requests while checks run, ${fmt(listed)} entries listed`,
      },
    ];
  } finally {
    agent.destroy();
    await registry.stop();
    await heartbeats.stop();
  }
}

/** Registers `count` instances with heartbeat URLs spread over `servers`, `concurrency` at once. */
async function registerAll(registryURL: string, servers: readonly string[], count: number,
  signal: AbortSignal): Promise<{ registerMs: number; failed: number; firstFailure: string }> {
  const agent = keepAliveAgent(concurrency);
  const indexes = Array.from({ length: count }, (_, i) => i);
  let failed = 0;
  let firstFailure = "";
  const start = performance.now();
  try {
    await eachLimit(indexes, concurrency, async (i) => {
      const server = servers[i % servers.length] ?? "";
      try {
        await registerAt(registryURL, {
          ServiceName: "ScaleService",
          ServiceURL: `${server}/svc/${i}`,
          RequiredServices: [],
          ServiceUpdateURL: "",
          HeartbeatURL: `${server}/hb/${i}`,
        }, agent);
      } catch (error) {
        failed++;
        firstFailure ||= (error as Error).message;
      }
    }, signal);
  } finally {
    agent.destroy();
  }
  return { registerMs: performance.now() - start, failed, firstFailure };
}
