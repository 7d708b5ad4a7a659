import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Env } from "../std/command.ts";
import { request } from "../std/request.ts";

/** How a Debian machine gets the etcd binary. */
export const etcdInstall = "sudo apt-get install -y etcd-server";

/** The etcd binary: `ETCD_BIN`, or `etcd` on `PATH`; undefined when there is none. */
export function findEtcd(env: Env): string | undefined {
  const explicit = env["ETCD_BIN"];
  const candidates = explicit
    ? [explicit]
    : (env["PATH"] ?? "").split(":").filter(Boolean).map((dir) => join(dir, "etcd"));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there; try the next
    }
  }
  return undefined;
}

/** One member of a loopback etcd cluster. */
export interface EtcdMemberSpec {
  name: string;
  /** The client URL (the v3 gateway the registry talks to). */
  clientURL: string;
  peerURL: string;
  dataDir: string;
}

/** Options of `etcdArgs`. */
export interface EtcdArgsOptions {
  /** Every member of the cluster, this one included. */
  members: readonly EtcdMemberSpec[];
  /** Tells clusters apart; a fresh one per new cluster. */
  token: string;
  /** Raft heartbeat and election timeout in ms; etcd's defaults are 100 and 1 000. */
  heartbeatMs?: number;
  electionMs?: number;
}

/**
 * The command line of one member. Restarting a member with the same line makes it rejoin:
 * with an existing data dir etcd ignores the `--initial-cluster*` flags.
 */
export function etcdArgs(member: EtcdMemberSpec, options: EtcdArgsOptions): string[] {
  const { members, token, heartbeatMs = 100, electionMs = 1_000 } = options;
  const initial = members.map((other) => `${other.name}=${other.peerURL}`).join(",");
  return [
    "--name", member.name, "--data-dir", member.dataDir,
    "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
    "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
    "--initial-cluster", initial, "--initial-cluster-token", token,
    "--initial-cluster-state", "new",
    "--heartbeat-interval", String(heartbeatMs), "--election-timeout", String(electionMs),
    "--logger", "zap", "--log-outputs", "stderr", "--log-level", "error",
  ];
}

/** True when the member at `url` answers `/health` with `true` (it has a leader). */
export async function etcdHealthy(url: string): Promise<boolean> {
  try {
    const response = await request(`${url}/health`, { timeoutMs: 200 });
    return response.status === 200 && /"health":\s*"true"/.test(response.text());
  } catch {
    return false; // refused, or accepted but not serving yet
  }
}

/**
 * Resolves once every member in `urls` is healthy, probing them concurrently every 25 ms: a
 * member accepts connections before it serves, and a first election may take seconds. Rejects
 * after `timeoutMs` naming the members that are not, or when `signal` aborts.
 */
export async function waitEtcdHealthy(
  urls: readonly string[],
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = performance.now() + options.timeoutMs;
  const waiting = new Set(urls);
  while (waiting.size > 0) {
    const checks = [...waiting].map(async (url) => {
      if (await etcdHealthy(url)) waiting.delete(url);
    });
    await Promise.all(checks);
    if (waiting.size === 0) return;
    if (performance.now() > deadline) {
      throw new Error(`etcd: ${[...waiting].join(", ")} not healthy within ` +
        `${options.timeoutMs} ms`);
    }
    await sleep(25, undefined, options.signal ? { signal: options.signal } : {});
  }
}
