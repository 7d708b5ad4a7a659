// Test helper: a registry cluster of real processes — an etcd cluster and registry replicas
// (`registryservice --etcd`) on free loopback ports — whose members are killed and restarted
// by PID, and the replicas' own view of who leads.
import { getCluster } from "../../lib/registry/client.ts";
import { startEtcdCluster, type EtcdCluster } from "./etcd.ts";
import { pathToFileURL } from "node:url";
import { commandPath } from "./process.ts";
import { startNode, type Spawned } from "./spawn.ts";
import type { Cleanups } from "./temp.ts";
import { eventually } from "./wait.ts";

/** One registry replica process. */
export interface Replica {
  url: string;
  process: Spawned;
  alive(): boolean;
  /** kill -9; resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same flags. */
  restart(): Promise<void>;
}

/** A running registry cluster. */
export interface RegistryCluster {
  etcd: EtcdCluster;
  replicas: Replica[];
  /** Every replica's URL, comma-separated, as a service's `--registry`. */
  registryURL: string;
  /** The replica the live replicas agree leads, once one does. */
  leader(ms?: number): Promise<Replica>;
}

/** Options of `startRegistryCluster`. */
export interface RegistryClusterOptions {
  replicas?: number;
  /** Extra registry flags (heartbeat timings, token). */
  args?: string[];
  /** The election lease's TTL in seconds (etcd's minimum with the test timers is 1). */
  electionTTL?: number;
}

/** Starts a replica and resolves once it listens; rejects when it exits first. */
async function spawnReplica(args: string[]): Promise<{ process: Spawned; url: string }> {
  const script = pathToFileURL(commandPath("registryservice"));
  const started = await startNode(script, args, {
    name: "registryservice",
    env: { REGISTRY_URL: "", REGISTRY_TOKEN: "", REGISTRY_ETCD: "" },
  });
  return { process: started, url: started.url };
}

/**
 * Starts a 3-member etcd cluster and `replicas` (3) registry replicas on it, resolving once
 * every replica listens and one leads. Everything is SIGKILLed after the test.
 */
export async function startRegistryCluster(
  t: Cleanups,
  options: RegistryClusterOptions = {},
): Promise<RegistryCluster> {
  const { replicas: count = 3, args = [], electionTTL = 1 } = options;
  const etcd = await startEtcdCluster(t);
  const replicas: Replica[] = [];
  t.after(async () => {
    await Promise.all(replicas.map((replica) => replica.kill()));
  });
  const base = [
    "--host", "127.0.0.1", "--etcd", etcd.endpoints.join(","),
    "--election-ttl", String(electionTTL), ...args,
  ];
  const started = await Promise.all(Array.from({ length: count }, () =>
    spawnReplica([...base, "--port", "0"])));
  for (const first of started) {
    const port = new URL(first.url).port;
    const replica: Replica = {
      url: first.url,
      process: first.process,
      alive: () => replica.process.alive(),
      async kill() {
        if (replica.process.alive()) replica.process.child.kill("SIGKILL");
        await replica.process.exited;
      },
      async restart() {
        if (replica.alive()) throw new Error(`replica ${replica.url} still runs`);
        replica.process = (await spawnReplica([...base, "--port", port])).process;
      },
    };
    replicas.push(replica);
  }
  const cluster: RegistryCluster = {
    etcd,
    replicas,
    registryURL: replicas.map((replica) => replica.url).join(","),
    leader: (ms = 15_000) => eventually(async () => {
      const leaders = new Set<string>();
      for (const replica of replicas.filter((candidate) => candidate.alive())) {
        const leader = await leaderSeenBy(replica.url);
        if (leader === undefined) return undefined;
        leaders.add(leader);
      }
      const [url] = leaders;
      const leader = replicas.find((replica) => replica.url === url && replica.alive());
      return leaders.size === 1 ? leader : undefined;
    }, ms, "one live leader every live replica agrees on"),
  };
  await cluster.leader();
  return cluster;
}

/** The leader `GET /cluster` at `url` names, or undefined (none, or no answer). */
export async function leaderSeenBy(url: string): Promise<string | undefined> {
  const replicas = await getCluster({ registryURL: url, timeoutMs: 2_000 }).catch(() => []);
  return replicas.find((replica) => replica.Leader)?.URL;
}
