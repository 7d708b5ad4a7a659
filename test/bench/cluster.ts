import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { getCluster, listServices } from "../../lib/registry/client.ts";
import type { BenchContext } from "./context.ts";
import { echo } from "./context.ts";
import { deregisterAt, registerAt, startDependent, timeAdded } from "./dependent.ts";
import { firstBeat, startProvider, type Provider } from "./failure.ts";
import { eachLimit, keepAliveAgent } from "./services.ts";
import { fmt, summarize } from "./stats.ts";
import { skipped, type Row } from "./table.ts";
import { findEtcd } from "../../lib/launcher/etcd.ts";
import { startEtcdCluster } from "../support/etcd.ts";
import { commandPath } from "../support/process.ts";
import { startNode, type Listening } from "../support/spawn.ts";

// As a user runs it: etcd's default raft timers, the registry's default election TTL.
const ttlSeconds = 3;
const intervalMs = 3_000;

/**
 * The registry cluster (README "Running a registry cluster"): a 3-member etcd cluster with
 * etcd's default timers and three registry replicas. Measures registration → `Added` through
 * the cluster, kill -9 of a provider → `Removed`, kill -9 of the leader → the new leader's
 * first heartbeat check, and 10 000 registrations spread over the replicas.
 */
export async function benchCluster(context: BenchContext): Promise<Row[]> {
  const { quick, progress, signal } = context;
  const count = quick ? 2_000 : 10_000;
  const rows = [
    ["registration → Added through the cluster, p50", "≤ 10 ms"],
    ["registration → Added through the cluster, p99", "—"],
    ["cluster: kill -9 of a provider → Removed, p50", "≤ 100 ms"],
    ["cluster: leader kill → the new leader's first check", `≤ TTL + 1 s = ${ttlSeconds + 1} s`],
    [`cluster: ${fmt(count)} registrations over 3 replicas`, "—"],
  ] as const;
  if (findEtcd(process.env) === undefined) {
    return rows.map(([what, target]) => skipped(what, target, "etcd is not installed"));
  }
  const cleanups: (() => unknown)[] = [];
  const agent = keepAliveAgent(64);
  const dependent = await startDependent();
  const providers: Provider[] = [];
  try {
    const etcd = await startEtcdCluster({ after: (fn) => void cleanups.push(fn) },
      { heartbeatMs: 100, electionMs: 1_000 });
    const args = ["--host", "127.0.0.1", "--etcd", etcd.endpoints.join(","),
      "--election-ttl", String(ttlSeconds)];
    const start = (port = "0") => startNode(pathToFileURL(commandPath("registryservice")),
      [...args, "--port", port], { name: "replica", ...echo(context, "replica"), signal });
    const replicas: Listening[] = await Promise.all([start(), start(), start()]);
    cleanups.push(() => Promise.all(replicas.map((replica) => replica.crash())));
    const urls = () => replicas.map((replica) => replica.url);
    const leader = async (): Promise<Listening> => {
      for (;;) {
        for (const replica of replicas.filter((candidate) => candidate.alive())) {
          const seen = await getCluster({ registryURL: replica.url }).catch(() => []);
          const url = seen.find((entry) => entry.Leader)?.URL;
          const found = replicas.find((candidate) => candidate.url === url && candidate.alive());
          if (found) return found;
        }
        await delay(20, undefined, { signal });
      }
    };
    await dependent.register(urls()[0] ?? "", ["X"], agent);

    // Registration → Added: each through another replica than the last.
    const added: number[] = [];
    for (let i = 0; i < (quick ? 60 : 220) && !signal.aborted; i++) {
      const via = urls()[i % 3] ?? "";
      const url = `${dependent.url}/x/${i}`;
      const { addedMs } = await timeAdded(via, dependent, url, agent, 5_000);
      await deregisterAt(via, url, agent);
      if (i >= 20) added.push(addedMs);
    }
    const a = summarize(added);
    progress(`cluster: registration → Added p50 ${fmt(a.p50, 2)} ms, p99 ${fmt(a.p99, 2)} ms`);

    // kill -9 of a provider → Removed, at random moments of the check cycle.
    const batch = await Promise.all(Array.from({ length: quick ? 4 : 10 }, (_, i) =>
      startProvider(context, urls()[i % 3] ?? "", dependent, agent)));
    providers.push(...batch);
    await Promise.all(batch.map((provider) => firstBeat(provider, 2 * intervalMs + 2_000)));
    const kills = await Promise.all(batch.slice(0, quick ? 2 : 6).map(async (provider) => {
      await delay(Math.random() * intervalMs, undefined, { signal });
      const at = performance.now();
      provider.started.child.kill("SIGKILL");
      return dependent.waitFor("Removed", "X", provider.url, at, 15_000)
        .then((arrival) => arrival.at - at, () => Number.POSITIVE_INFINITY);
    }));
    const k = summarize(kills);
    progress(`cluster: kill -9 → Removed ${kills.map((v) => fmt(v)).join(", ")} ms`);

    // The leader dies: how long until the survivors check the live providers again.
    const alive = batch.slice(quick ? 2 : 6);
    const failovers: number[] = [];
    for (let round = 0; round < (quick ? 1 : 3) && !signal.aborted; round++) {
      const old = await leader();
      await delay(Math.random() * intervalMs, undefined, { signal });
      const at = performance.now();
      await old.crash();
      const checked = await Promise.all(alive.map(async (provider) => {
        while (!provider.beats.some((beat) => beat > at) && !signal.aborted) {
          await delay(10);
        }
        return (provider.beats.find((beat) => beat > at) ?? Number.NaN) - at;
      }));
      failovers.push(Math.min(...checked));
      const index = replicas.indexOf(old);
      replicas[index] = await start(new URL(old.url).port);
    }
    const f = summarize(failovers);
    progress(`cluster: leader kill → first check ${failovers.map((v) => fmt(v)).join(", ")} ms`);

    // Many registrations, spread over the replicas by 64 clients.
    const began = performance.now();
    await eachLimit(Array.from({ length: count }, (_, i) => i), 64, async (i) => {
      await registerAt(urls()[i % 3] ?? "", { ServiceName: `S${i % 100}`,
        ServiceURL: `http://127.0.0.1:1/${i}`, RequiredServices: [], ServiceUpdateURL: "",
        HeartbeatURL: "" }, agent);
    }, signal);
    const registeredMs = performance.now() - began;
    const listAt = performance.now();
    const listed = await listServices({ registryURL: urls()[1] ?? "", timeoutMs: 10_000,
      maxResponseBytes: 64 * 1024 * 1024 });
    const listMs = performance.now() - listAt;
    progress(`cluster: ${count} registrations in ${fmt(registeredMs)} ms`);
    return [
      { what: rows[0][0], value: `${fmt(a.p50, 2)} ms`, target: rows[0][1], met: a.p50 <= 10,
        note: `${a.n} trials, each through the next replica` },
      { what: rows[1][0], value: `${fmt(a.p99, 2)} ms`, target: rows[1][1], met: undefined,
        note: `max ${fmt(a.max, 2)} ms` },
      { what: rows[2][0], value: `${fmt(k.p50, 1)} ms`, target: rows[2][1], met: k.p50 <= 100,
        note: `max ${fmt(k.max, 1)} ms over ${k.n} kills at random points of the 3 s cycle` },
      { what: rows[3][0], value: `${fmt(f.max)} ms (max of ${f.n})`, target: rows[3][1],
        met: f.max <= (ttlSeconds + 1) * 1_000,
        note: `all: ${failovers.map((v) => fmt(v)).join(", ")} ms; the lease runs out, the ` +
          "next replica is elected and checks every registration at once" },
      { what: rows[4][0], value: `${fmt(registeredMs / 1_000, 2)} s`, target: rows[4][1],
        met: undefined,
        note: `${fmt(count / (registeredMs / 1_000))} per s; GET /services of ` +
          `${fmt(listed.length)} rows at another replica: ${fmt(listMs)} ms` },
    ];
  } finally {
    for (const provider of providers) provider.started.child.kill("SIGKILL");
    await dependent.close();
    agent.destroy();
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}
