import { once } from "node:events";
import { setTimeout as delay } from "node:timers/promises";
import type { BenchContext } from "./context.ts";
import { deregisterAt, registerAt } from "./dependent.ts";
import { keepAliveAgent, registryOrSkip } from "./services.ts";
import { fmt, summarize } from "./stats.ts";
import type { Row } from "./table.ts";
import type { WatchersReached, WatchersTarget } from "./watchers.ts";
import { request } from "../../lib/std/request.ts";
import { startNode } from "../support/spawn.ts";

/**
 * Blocking queries (README, Registration): N watchers in a child process each loop on
 * `GET /services?index=…&wait=60s`, asking again with the new index after every answer, as a
 * live page would. Times registrations (POST round trip) with nobody watching and with the N
 * watchers waiting, and how long after a registration every watcher had its answer.
 */
export async function benchBlocking(context: BenchContext): Promise<Row[]> {
  const { quick, progress, signal } = context;
  const watcherCount = quick ? 1_000 : 3_000;
  const label = fmt(watcherCount);
  const what = `POST /services with ${label} blocking queries waiting`;
  const registry = await registryOrSkip(context, [[`${what}, p50`, "≈ none waiting"]]);
  if (Array.isArray(registry)) return registry;
  const agent = keepAliveAgent(8);
  const trials = quick ? 5 : 8;
  // Each trial registers an instance and times the POST; it is deregistered after, so the list
  // every watcher receives stays small (the cost measured is waking, not copying a big list).
  const registerTrial = async (tag: string, i: number): Promise<number> => {
    const url = `http://127.0.0.1:9/${tag}${i}`;
    const start = performance.now();
    await registerAt(registry.url, { ServiceName: "X", ServiceURL: url, RequiredServices: [],
      ServiceUpdateURL: "", HeartbeatURL: "" }, agent);
    return performance.now() - start;
  };
  let watchers: Awaited<ReturnType<typeof startNode>> | undefined;
  try {
    const alone: number[] = [];
    for (let i = 0; i < trials + 10 && !signal.aborted; i++) {
      const ms = await registerTrial("alone", i);
      await deregisterAt(registry.url, `http://127.0.0.1:9/alone${i}`, agent);
      if (i >= 10) alone.push(ms);
    }
    watchers = await startNode(new URL("./watchers.js", import.meta.url),
      [registry.url, String(watcherCount)], { name: "watchers", ipc: true, signal });
    // Wait until every watcher has seen the current index: all of them are blocked then.
    const indexNow = async () => Number((await request(`${registry.url}/services`, { agent }))
      .headers["x-registry-index"]);
    const everyWatcherSaw = async (index: number): Promise<WatchersReached> => {
      const reply = once(watchers?.child ?? process, "message",
        { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) });
      watchers?.child.send({ index } satisfies WatchersTarget);
      return ((await reply) as [WatchersReached])[0];
    };
    await everyWatcherSaw(await indexNow());
    const watched: number[] = [];
    const fanOut: number[] = [];
    let failures = 0;
    for (let i = 0; i < trials && !signal.aborted; i++) {
      // The watchers' new requests, sent right after their answers, have arrived by now: the
      // registration meets them waiting, not arriving.
      await delay(300, undefined, { signal });
      const start = performance.now();
      watched.push(await registerTrial("watched", i));
      try {
        failures = (await everyWatcherSaw(await indexNow())).failures;
        fanOut.push(performance.now() - start);
        await deregisterAt(registry.url, `http://127.0.0.1:9/watched${i}`, agent);
        await everyWatcherSaw(await indexNow());
      } catch {
        progress(`blocking: change ${i} did not reach every watcher within 30 s`);
        break;
      }
    }
    const a = summarize(alone);
    const w = summarize(watched);
    const f = summarize(fanOut);
    progress(`blocking: POST p50 ${fmt(a.p50, 2)} ms alone, ${fmt(w.p50, 2)} ms with ` +
      `${label} watching; all answered ${fmt(f.p50, 1)} ms after a change (p50)`);
    return [
      {
        what: `${what}, p50`,
        value: `${fmt(w.p50, 2)} ms`,
        target: "≈ none waiting",
        met: undefined,
        note: `nobody waiting: p50 ${fmt(a.p50, 2)} ms; with: p99 ${fmt(w.p99, 2)} ms; ` +
          `${w.n} trials`,
      },
      {
        what: `registration → all ${label} blocking queries answered, p50`,
        value: `${fmt(f.p50, 1)} ms`,
        target: "—",
        met: undefined,
        note: `p99 ${fmt(f.p99, 1)} ms; ${f.n} of ${w.n} changes fully fanned out` +
          (failures ? `; ${failures} watchers failed` : ""),
      },
    ];
  } finally {
    watchers?.child.disconnect();
    await watchers?.stop();
    agent.destroy();
    await registry.stop();
  }
}
