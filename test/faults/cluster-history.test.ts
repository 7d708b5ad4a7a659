// A history check in the spirit of etcd's robustness tests: concurrent clients register and
// deregister through random replicas while replicas and etcd members are killed and restarted.
// Every acknowledged change must be read back at once through another replica, and the final
// state must be what the acknowledged operations imply, checked against a model.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { deregister, listServices, register, RegistryError } from "../../lib/registry/client.ts";
import { parseServiceList } from "../../lib/registry/registration.ts";
import { request } from "../../lib/std/request.ts";
import { startRegistryCluster, type RegistryCluster } from "../support/cluster.ts";
import { skipWithoutEtcd } from "../support/etcd.ts";
import { eventually } from "../support/wait.ts";

/** One operation and how it ended: acknowledged (`ok`) or not known (`unknown`). */
interface Op {
  kind: "register" | "deregister";
  outcome: "ok" | "absent" | "unknown";
}

/** A small seeded generator (mulberry32), so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The final states a URL's history allows: the state after its last acknowledged operation,
 * or after any later one whose outcome is unknown (it may have been applied).
 */
export function allowedFinal(history: readonly Op[]): Set<boolean> {
  let last = -1;
  history.forEach((op, index) => {
    if (op.outcome !== "unknown") last = index;
  });
  const after = (op: Op) => op.kind === "register";
  const allowed = new Set<boolean>();
  allowed.add(last < 0 ? false : after(history[last] as Op));
  for (const op of history.slice(last + 1)) allowed.add(after(op));
  return allowed;
}

/**
 * Kills and restarts replicas and etcd members, one at a time, until `stop` aborts; names each
 * fault in `faults` as it is injected.
 */
async function chaos(cluster: RegistryCluster, random: () => number, stop: AbortSignal,
  faults: string[]): Promise<void> {
  while (!stop.aborted) {
    await sleep(500 + random() * 1_000, undefined, { signal: stop }).catch(() => {});
    if (stop.aborted) break;
    if (random() < 0.5) {
      const replica = cluster.replicas[Math.floor(random() * cluster.replicas.length)];
      if (!replica) continue;
      await replica.kill();
      faults.push(`kill replica ${replica.url}`);
      await sleep(300 + random() * 700);
      await replica.restart();
    } else {
      const member = cluster.etcd.members[Math.floor(random() * cluster.etcd.members.length)];
      if (!member) continue;
      await member.kill();
      faults.push(`kill etcd ${member.name}`);
      await sleep(300 + random() * 1_200);
      member.restart();
      await cluster.etcd.healthy();
    }
  }
}

describe("registry cluster: history under faults", { skip: skipWithoutEtcd() }, () => {
  it("ends in the state the acknowledged operations imply, reading every write back",
    async (t) => {
      const seed = Number(process.env["FUZZ_SEED"] ?? Date.now() % 100_000);
      t.diagnostic(`seed ${seed}: FUZZ_SEED=${seed} replays the same faults and operations ` +
        "(their timing still varies)");
      const random = seeded(seed);
      const cluster = await startRegistryCluster(t);
      const urls = cluster.replicas.map((replica) => replica.url);
      const histories = new Map<string, Op[]>();
      const readBacks = { checked: 0, stale: 0 };
      const stop = new AbortController();
      const injected: string[] = [];
      const chaosDone = chaos(cluster, seeded(seed + 1), stop.signal, injected);

      // After an operation whose outcome is unknown, its URL rests: etcd may still apply an
      // accepted write for a few seconds (until its own request timeout, or an election with
      // a minority down), so only then is the next operation on it surely after it.
      const restMs = 7_000;
      const resting = new Map<string, number>();
      const client = async (id: number) => {
        const mine = Array.from({ length: 4 }, (_, i) =>
          `http://127.0.0.1:${20_000 + id * 10 + i}`);
        for (const url of mine) histories.set(url, []);
        while (!stop.signal.aborted) {
          const ready = mine.filter((url) => (resting.get(url) ?? 0) < performance.now());
          const url = ready[Math.floor(random() * ready.length)];
          if (url === undefined) {
            await sleep(50);
            continue;
          }
          const start = Math.floor(random() * urls.length);
          const order = [...urls.slice(start), ...urls.slice(0, start)];
          const kind = random() < 0.6 ? "register" : "deregister";
          const op: Op = { kind, outcome: "unknown" };
          histories.get(url)?.push(op);
          const options = { registryURL: order.join(","), timeoutMs: 10_000 };
          try {
            if (kind === "register") {
              await register({ ServiceName: `S${id}`, ServiceURL: url, RequiredServices: [],
                ServiceUpdateURL: "", HeartbeatURL: "" }, options);
            } else {
              await deregister(url, options);
            }
            op.outcome = "ok";
          } catch (error) {
            if (error instanceof RegistryError && error.status === 404) op.outcome = "absent";
            else {
              resting.set(url, performance.now() + restMs);
              continue;
            }
          }
          // Read your writes through another replica: the change must be there at once.
          const other = order[1] ?? "";
          const read = await request(`${other}/services?name=S${id}`, { timeoutMs: 5_000 })
            .catch(() => undefined);
          if (!read || read.status !== 200) continue;
          if (read.headers["x-registry-stale"] !== undefined) {
            readBacks.stale += 1;
            continue;
          }
          const present = parseServiceList(read.json()).some((row) => row.ServiceURL === url);
          readBacks.checked += 1;
          assert.equal(present, kind === "register",
            `${kind} of ${url} answered ${op.outcome}, then read back from ${other}: ` +
            JSON.stringify(histories.get(url)));
        }
      };
      const clients = Array.from({ length: 6 }, (_, id) => client(id));
      const operationCount = () =>
        [...histories.values()].reduce((sum, history) => sum + history.length, 0);
      // At least 8 s of faults and operations, and then until there were enough of both: a
      // busy machine fits fewer of them into the same time.
      await sleep(8_000);
      await eventually(() => injected.length >= 3 && operationCount() > 50, 120_000,
        "three faults and fifty operations");
      stop.abort();
      await Promise.all(clients);
      await chaosDone;
      // Whatever etcd may still apply has been applied once every URL has rested.
      await sleep(Math.max(0, ...resting.values()) - performance.now());
      t.diagnostic(`faults: ${injected.join(", ")}; read-backs checked ${readBacks.checked}, ` +
        `skipped as stale ${readBacks.stale}`);

      // Everything back up; every replica must answer the same state.
      await cluster.etcd.healthy();
      await cluster.leader();
      const views = await Promise.all(urls.map(async (url) =>
        (await listServices({ registryURL: url })).map((row) => row.ServiceURL).sort()));
      for (const view of views) assert.deepEqual(view, views[0], "every replica agrees");
      const final = new Set(views[0]);
      for (const [url, history] of histories) {
        const allowed = allowedFinal(history);
        assert.ok(allowed.has(final.has(url)), `${url}: ${final.has(url) ? "present" : "absent"}` +
          ` after ${JSON.stringify(history)}`);
      }
    });
});
