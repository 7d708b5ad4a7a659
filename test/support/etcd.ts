// Test helper: a real etcd cluster (Debian's etcd-server) on free loopback ports with data in
// a temp dir, members killed and restarted by PID, torn down with SIGKILL after the test.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { after, before } from "node:test";
import { asObject, idField, parseHeader } from "../../lib/etcd/codec.ts";
import {
  etcdArgs,
  etcdInstall,
  findEtcd,
  waitEtcdHealthy,
  type EtcdMemberSpec,
} from "../../lib/launcher/etcd.ts";
import { request } from "../../lib/std/request.ts";
import { spawnProgram, type Spawned } from "./spawn.ts";
import { freePort, tempDir, type Cleanups } from "./temp.ts";
import { eventually } from "./wait.ts";

/**
 * The `skip` option for a suite that needs etcd: a message with the install command when
 * etcd is missing on a developer's machine, `false` otherwise. In CI (`CI=true`) it is always
 * `false`, so a missing etcd fails the suite instead of skipping it.
 */
export function skipWithoutEtcd(): string | false {
  if (findEtcd(process.env) !== undefined || process.env["CI"] === "true") return false;
  return `etcd is not installed; install it with: ${etcdInstall}`;
}

/** One member of a test cluster. */
export interface EtcdMember {
  name: string;
  /** Its client URL (the v3 gateway). */
  url: string;
  /** Its process while it runs. */
  process: Spawned | undefined;
  alive(): boolean;
  /** kill -9 by PID; resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts it again with the same command line (it rejoins with its data dir). */
  restart(): void;
}

/** A running test cluster. */
export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL. */
  endpoints: string[];
  /** The member etcd currently calls its leader (asked of the live members). */
  leader(): Promise<EtcdMember>;
  /** Resolves once every live member answers `/health` with `true`. */
  healthy(ms?: number): Promise<void>;
}

/** Options of `startEtcdCluster`. */
export interface EtcdClusterOptions {
  size?: number;
  /** Raft heartbeat and election timeout in ms; short, yet safe on a busy machine. */
  heartbeatMs?: number;
  electionMs?: number;
}

/**
 * Starts an etcd cluster of `size` (3) members on free 127.0.0.1 ports with fast raft timers
 * and resolves once every member is healthy (probed concurrently; a first election can take
 * seconds on a busy machine). Every member is SIGKILLed in `t.after`. Rejects naming the
 * install command when etcd is missing, or with the members' output when they do not become
 * healthy within 30 s.
 */
export async function startEtcdCluster(
  t: Cleanups,
  options: EtcdClusterOptions = {},
): Promise<EtcdCluster> {
  const { size = 3, heartbeatMs = 50, electionMs = 500 } = options;
  const binary = findEtcd(process.env);
  if (binary === undefined) {
    throw new Error(`etcd is not installed; install it with: ${etcdInstall}`);
  }
  const members: EtcdMember[] = [];
  // Registered before the temp dir, so the members are dead before their data is removed.
  t.after(async () => {
    await Promise.all(members.map((member) => member.kill()));
  });
  const dir = await tempDir(t, "etcd");
  const ports: number[] = [];
  while (ports.length < 2 * size) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const specs: EtcdMemberSpec[] = Array.from({ length: size }, (_, i) => ({
    name: `m${i + 1}`,
    clientURL: `http://127.0.0.1:${ports[2 * i]}`,
    peerURL: `http://127.0.0.1:${ports[2 * i + 1]}`,
    dataDir: join(dir, `m${i + 1}`),
  }));
  const token = `test-${randomUUID()}`;
  for (const spec of specs) {
    const args = etcdArgs(spec, { members: specs, token, heartbeatMs, electionMs });
    const member: EtcdMember = {
      name: spec.name,
      url: spec.clientURL,
      process: undefined,
      alive: () => member.process?.alive() ?? false,
      async kill() {
        const running = member.process;
        if (!running) return;
        if (running.alive()) running.child.kill("SIGKILL");
        await running.exited;
        member.process = undefined;
      },
      restart() {
        if (member.alive()) throw new Error(`etcd ${spec.name} still runs`);
        member.process = spawnProgram(`etcd ${spec.name}`, binary, args);
      },
    };
    members.push(member);
    member.restart();
  }
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((member) => member.url),
    async healthy(ms = 30_000) {
      const urls = members.filter((member) => member.alive()).map((member) => member.url);
      await waitEtcdHealthy(urls, { timeoutMs: ms }).catch((error: unknown) => {
        const output = members.map((member) => member.process?.stderr().slice(-500));
        throw new Error(`${String(error)}; their output: ${output.join("\n")}`);
      });
    },
    async leader() {
      return eventually(async () => {
        for (const member of members.filter((candidate) => candidate.alive())) {
          const status = await statusOf(member.url);
          if (status && status.leader === status.self) return member;
        }
        return undefined;
      }, 10_000, "an etcd leader");
    },
  };
  await cluster.healthy();
  return cluster;
}

/** A member's own ID and the ID of the leader it knows, or undefined when it does not answer. */
async function statusOf(url: string): Promise<{ self: string; leader: string } | undefined> {
  try {
    const response = await request(`${url}/v3/maintenance/status`, {
      method: "POST", body: "{}", timeoutMs: 500,
    });
    const answer = asObject(response.json(), "status");
    const leader = idField(answer, "leader");
    return leader === "0" ? undefined : { self: parseHeader(answer).memberId, leader };
  } catch {
    return undefined;
  }
}

/**
 * One cluster for every test of a `describe` block (call it in the block's body): started in
 * `before`, SIGKILLed in `after`. For tests that do not kill members.
 */
export function etcdForSuite(options: EtcdClusterOptions = {}): { readonly cluster: EtcdCluster } {
  const cleanups: (() => unknown)[] = [];
  const owner: Cleanups = { after: (fn) => void cleanups.push(fn) };
  let started: EtcdCluster | undefined;
  before(async () => {
    started = await startEtcdCluster(owner, options);
  });
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });
  return {
    get cluster() {
      if (!started) throw new Error("etcd: the suite's cluster is not started");
      return started;
    },
  };
}
