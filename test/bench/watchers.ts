// Blocking-query watchers for the blocking benchmark, run as a child process so that their
// work does not slow the parent's timing: N loops of `GET /services?index=…&wait=60s`, each
// asking again with the index of every answer, as a live page would. The parent names an
// index over IPC; the child answers once every watcher has seen it (or a later one).
import http from "node:http";
import { request } from "../../lib/std/request.ts";

/** From the parent: tell me when every watcher has seen `index`. */
export interface WatchersTarget {
  index: number;
}

/** To the parent: every watcher has seen `index`; `failures` watchers gave up so far. */
export interface WatchersReached {
  index: number;
  failures: number;
}

const registryURL = process.argv[2] ?? "";
const count = Number(process.argv[3] ?? "0");
if (!registryURL || !Number.isInteger(count) || count < 1 || count > 20_000) {
  throw new Error("watchers: want a registry URL and a count from 1 to 20 000");
}
const agent = new http.Agent({ keepAlive: true, maxSockets: count });
const seen = new Float64Array(count);
let target = Number.POSITIVE_INFINITY;
let reached = 0;
let failures = 0;
let stopping = false;

const report = () => {
  if (target === Number.POSITIVE_INFINITY || reached < count) return;
  process.send?.({ index: target, failures } satisfies WatchersReached);
  target = Number.POSITIVE_INFINITY;
  reached = 0;
};

const watch = async (watcher: number): Promise<void> => {
  while (!stopping) {
    try {
      const response = await request(`${registryURL}/services?index=${seen[watcher]}&wait=60s`,
        { agent, timeoutMs: 70_000 });
      const index = Number(response.headers["x-registry-index"]);
      if ((seen[watcher] ?? 0) < target && index >= target) reached++;
      seen[watcher] = index;
      report();
    } catch {
      // Counted and tried again: a watcher that gave up would never see the next index.
      failures++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
};

process.on("message", (message: WatchersTarget) => {
  target = message.index;
  reached = seen.reduce((sum, index) => sum + (index >= target ? 1 : 0), 0);
  report();
});
process.on("disconnect", () => {
  stopping = true;
  agent.destroy();
  process.exit(0);
});
const all = Array.from({ length: count }, (_, watcher) => watch(watcher));
// startNode waits for this line; the first requests are on their way.
process.stdout.write(`watchers listening on ${registryURL}\n`);
await Promise.all(all);
