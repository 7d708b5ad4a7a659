import type http from "node:http";
import { createServer } from "node:net";
import type { BenchContext } from "./context.ts";
import { listAt, registerAt, startDependent } from "./dependent.ts";
import type { HeartbeatCommand, HeartbeatReport } from "./hbservers.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { startNode, type Listening } from "../support/spawn.ts";
import { eachLimit, keepAliveAgent, startRegistry } from "./services.ts";
import { fmt, summarize } from "./stats.ts";
import { firstLine, skipped, type Row } from "./table.ts";
import { cpuMs } from "./usage.ts";

// The fast-crash bound and the discovery latency a dead host:port must not break
// (docs/protocol.md#performance-targets), with the registry's default settings.
const crashBoundMs = 500;
const getBoundMs = 50;
const registerBoundMs = 5_000;
const concurrency = 64;

/** One measured case: how entries are spread over host:ports, and how many there are. */
interface Case {
  entries: number;
  perOrigin: number;
}

/**
 * Dead host:ports (README, Heartbeats): many entries whose heartbeats one host:port serves,
 * and the same number spread one per host:port. (1) The heartbeat server is killed: the time
 * until a dependent has heard `Removed` for every entry, and `GET /services?name=…` latency
 * meanwhile. (2) The entries are registered onto host:ports that refuse connections: the time
 * to register them all, until every one was `Removed`, and `GET` latency meanwhile.
 */
export async function benchOrigins(context: BenchContext): Promise<Row[]> {
  const many = context.quick ? 2_000 : 10_000;
  // One host:port each costs the heartbeat process a listening socket and a connection:
  // 5 000 of them stay inside the 20 000 open files a process may have here.
  const spread = context.quick ? 1_000 : 5_000;
  const rows: Row[] = [];
  for (const each of [{ entries: spread, perOrigin: 1 }, { entries: many, perOrigin: many }]) {
    if (context.signal.aborted) break;
    rows.push(...(await guarded(killRows(each), () => killCase(context, each))));
  }
  for (const each of [{ entries: many, perOrigin: 1 }, { entries: many, perOrigin: many }]) {
    if (context.signal.aborted) break;
    rows.push(...(await guarded(registerRows(each), () => registerCase(context, each))));
  }
  return rows;
}

const spreadText = ({ entries, perOrigin }: Case) => perOrigin === 1
  ? `${fmt(entries)} entries, 1 per host:port`
  : `${fmt(entries)} entries on 1 host:port`;
const killRows = (each: Case): [string, string][] => [
  [`${spreadText(each)}: kill -9 → Removed for all`, `≤ ${crashBoundMs} ms`],
  [`${spreadText(each)}: GET /services?name=X meanwhile`, `≤ ${getBoundMs} ms`],
];
const registerRows = (each: Case): [string, string][] => [
  [`${spreadText(each)}, refusing: time to register all`, `≤ ${fmt(registerBoundMs)} ms`],
  [`${spreadText(each)}, refusing: GET /services?name=X meanwhile`, `≤ ${getBoundMs} ms`],
];

async function guarded(rows: [string, string][], run: () => Promise<Row[]>): Promise<Row[]> {
  try {
    return await run();
  } catch (error) {
    return rows.map(([what, target]) => skipped(what, target, firstLine(error)));
  }
}

async function killCase(context: BenchContext, each: Case): Promise<Row[]> {
  const { entries, perOrigin } = each;
  const [killWhat, getWhat] = killRows(each).map(([what]) => what);
  const registry = await startRegistry(context);
  const agent = keepAliveAgent(concurrency);
  const dependent = await startDependent();
  let heartbeats: Listening | undefined;
  try {
    heartbeats = await startNode(new URL("./hbservers.js", import.meta.url),
      [String(entries), String(entries / perOrigin)],
      { name: "heartbeat servers", ipc: true, signal: context.signal, timeoutMs: 60_000 });
    const servers = heartbeats.url.split(",");
    await dependent.register(registry.url, ["X"], agent);
    await registerAll(registry.url, entries, agent, (i) => servers[i % servers.length] ?? "");
    // Every entry checked once: its keep-alive connection is in the registry's pool.
    const checked = await eachChecked(heartbeats, entries, context.signal);
    await until(() => dependent.distinct("Added", "X") >= entries, 30_000, context.signal);
    const gets = sampleGets(registry.url, agent);
    const cpuBefore = await cpuMs(registry.child.pid ?? 0);
    const killed = performance.now();
    heartbeats.signal("SIGKILL");
    const done = await until(() => dependent.distinct("Removed", "X") >= entries, 60_000,
      context.signal);
    const removedMs = performance.now() - killed;
    const cpu = (await cpuMs(registry.child.pid ?? 0)) - cpuBefore;
    const get = summarize(await gets.stop());
    context.progress(`origins: ${spreadText(each)}: ${checked} checked, kill -9 → Removed for ` +
      `${dependent.distinct("Removed", "X")} in ${fmt(removedMs)} ms (registry CPU ` +
      `${fmt(cpu)} ms); GET p50 ${fmt(get.p50, 1)} max ${fmt(get.max, 1)} ms`);
    return [
      {
        what: killWhat ?? "",
        value: done ? `${fmt(removedMs)} ms` : `> ${fmt(removedMs)} ms`,
        target: `≤ ${crashBoundMs} ms`,
        met: done && removedMs <= crashBoundMs,
        note: `until a dependent had heard Removed for each of ${fmt(entries)} entries` +
          (done ? "" : ` (only ${dependent.distinct("Removed", "X")})`) +
          `; registry CPU meanwhile ${fmt(cpu)} ms`,
      },
      getRow(getWhat ?? "", get),
    ];
  } finally {
    heartbeats?.signal("SIGKILL");
    agent.destroy();
    await dependent.close();
    await registry.stop();
  }
}

async function registerCase(context: BenchContext, each: Case): Promise<Row[]> {
  const { entries, perOrigin } = each;
  const [registerWhat, getWhat] = registerRows(each).map(([what]) => what);
  const registry = await startRegistry(context);
  const agent = keepAliveAgent(concurrency);
  const dependent = await startDependent();
  try {
    await dependent.register(registry.url, ["X"], agent);
    // Refused: one port nothing listens on, or port 9 of a different loopback address each.
    const port = await freePort();
    const origin = (i: number) => perOrigin === 1
      ? `http://127.1.${i >> 8}.${i & 255}:9`
      : `http://127.0.0.1:${port}`;
    const gets = sampleGets(registry.url, agent);
    const cpuBefore = await cpuMs(registry.child.pid ?? 0);
    const started = performance.now();
    await registerAll(registry.url, entries, agent, origin);
    const registerMs = performance.now() - started;
    const done = await until(() => dependent.distinct("Removed", "X") >= entries, 60_000,
      context.signal);
    const removedMs = performance.now() - started;
    const cpu = (await cpuMs(registry.child.pid ?? 0)) - cpuBefore;
    const get = summarize(await gets.stop());
    context.progress(`origins: ${spreadText(each)}, refusing: registered in ${fmt(registerMs)} ` +
      `ms, Removed for ${dependent.distinct("Removed", "X")} after ${fmt(removedMs)} ms ` +
      `(registry CPU ${fmt(cpu)} ms); GET p50 ${fmt(get.p50, 1)} max ${fmt(get.max, 1)} ms`);
    return [
      {
        what: registerWhat ?? "",
        value: `${fmt(registerMs / 1_000, 2)} s`,
        target: `≤ ${fmt(registerBoundMs)} ms`,
        met: registerMs <= registerBoundMs && done,
        note: `${concurrency} concurrent POSTs; a dependent had heard Removed for ` +
          `${done ? "all" : dependent.distinct("Removed", "X")} after ${fmt(removedMs)} ms; ` +
          `registry CPU meanwhile ${fmt(cpu)} ms`,
      },
      getRow(getWhat ?? "", get),
    ];
  } finally {
    agent.destroy();
    await dependent.close();
    await registry.stop();
  }
}

function getRow(what: string, get: ReturnType<typeof summarize>): Row {
  return {
    what,
    value: `p50 ${fmt(get.p50, 1)} ms, max ${fmt(get.max, 1)} ms`,
    target: `≤ ${getBoundMs} ms`,
    met: get.n > 0 && get.max <= getBoundMs,
    note: `${get.n} requests for the dependent's own name, one after another`,
  };
}

/** Registers `count` instances of X, `concurrency` at once, on the host:port `origin(i)`. */
async function registerAll(registryURL: string, count: number, agent: http.Agent,
  origin: (i: number) => string): Promise<void> {
  const indexes = Array.from({ length: count }, (_, i) => i);
  await eachLimit(indexes, concurrency, (i) => registerAt(registryURL, {
    ServiceName: "X",
    ServiceURL: `${origin(i)}/svc/${i}`,
    RequiredServices: [],
    ServiceUpdateURL: "",
    HeartbeatURL: `${origin(i)}/hb/${i}`,
  }, agent, 60_000));
}

/** `GET /services?name=BenchDependent` one after another until `stop`; their latencies. */
function sampleGets(registryURL: string, agent: http.Agent): { stop(): Promise<number[]> } {
  const times: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      times.push((await listAt(registryURL, agent, "BenchDependent")).ms);
      await sleep(2);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return times;
    },
  };
}

/** Waits until the heartbeat servers saw a check of each of `count` entries. */
async function eachChecked(heartbeats: Listening, count: number, signal: AbortSignal):
  Promise<number> {
  const ask = () => new Promise<HeartbeatReport>((resolve) => {
    heartbeats.child.once("message", (report: HeartbeatReport) => resolve(report));
    heartbeats.child.send({ cmd: "report" } satisfies HeartbeatCommand);
  });
  let report = await ask();
  const deadline = performance.now() + 30_000;
  while (report.checkedEver < count && performance.now() < deadline && !signal.aborted) {
    await sleep(100);
    report = await ask();
  }
  return report.checkedEver;
}

/** Polls `done` every 2 ms; resolves true when it holds, false after `timeoutMs`. */
async function until(done: () => boolean, timeoutMs: number, signal: AbortSignal):
  Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline || signal.aborted) return false;
    await sleep(2);
  }
  return true;
}

/** A port on 127.0.0.1 that nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("bench: no port");
  return address.port;
}
