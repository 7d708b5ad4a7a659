import { randomUUID } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Env } from "../std/command.ts";
import type { EtcdLaunch, ServiceSpec } from "./launch.ts";
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
    // etcd 3.4 keeps every revision unless told otherwise; an hour of history is plenty for
    // watches that resume and a leader that replays its patches.
    "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h",
    "--logger", "zap", "--log-outputs", "stderr", "--log-level", "error",
  ];
}

/** True when the member at `url` answers `/health` with `true` (it has a leader). */
async function etcdHealthy(url: string): Promise<boolean> {
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

// Run by `node -e`: starts etcd, prints its PID (`etcd pid N`, for the launcher's table), and
// SIGKILLs it when this process's stdin ends (the launcher died) or a stop signal arrives;
// when etcd exits, so does this. etcd does not watch its stdin, and a SIGTERMed etcd leader
// waits up to 7 s for a leadership transfer while its peers stop too; its data dir is thrown
// away at the next start, so a kill loses nothing.
const guardScript = `
const { spawn } = require("node:child_process");
const [file, ...args] = process.argv.slice(1);
const etcd = spawn(file, args, { stdio: ["ignore", "inherit", "inherit"] });
console.log("etcd pid " + etcd.pid);
const stop = () => etcd.kill("SIGKILL");
process.stdin.on("data", () => {});
process.stdin.on("end", stop);
for (const name of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(name, stop);
etcd.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
`;

/** How to start an etcd member so that it stops with its parent: `node -e <guard> etcd …`. */
function guardedEtcd(
  binary: string,
  args: readonly string[],
): { file: string; args: string[] } {
  return { file: process.execPath, args: ["-e", guardScript, binary, ...args] };
}

/** `count` different ports that were free a moment ago on 127.0.0.1. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address && typeof address === "object") ports.add(address.port);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return [...ports];
}

/**
 * The members of a loopback cluster of `size` with data under `dir`: client ports
 * `clientPorts`, peer ports `peerPorts` (one each per member).
 */
function loopbackMembers(
  dir: string,
  clientPorts: readonly number[],
  peerPorts: readonly number[],
): EtcdMemberSpec[] {
  return clientPorts.map((port, i) => ({
    name: `etcd${i + 1}`,
    clientURL: `http://127.0.0.1:${port}`,
    peerURL: `http://127.0.0.1:${peerPorts[i] ?? 0}`,
    dataDir: join(dir, `etcd${i + 1}`),
  }));
}

/**
 * A fresh 3-member etcd cluster on loopback with its data in `dir` (emptied first): client
 * ports 23791–23793 and peer ports 23801–23803, or free ones with `anyPorts`. Rejects naming
 * the install command when etcd is not installed.
 */
export async function loopbackEtcd(
  env: Env,
  dir: string,
  anyPorts: boolean,
): Promise<{ binary: string; members: EtcdMemberSpec[]; token: string }> {
  const binary = findEtcd(env);
  if (binary === undefined) {
    throw new Error(`a registry cluster needs etcd, which is not installed; install it with: ` +
      etcdInstall);
  }
  await rm(dir, { recursive: true, force: true });
  const ports = anyPorts ? await freePorts(6) : [23_791, 23_792, 23_793, 23_801, 23_802, 23_803];
  const members = loopbackMembers(dir, ports.slice(0, 3), ports.slice(3));
  return { binary, members, token: `distributed-${randomUUID()}` };
}

/** Starts the etcd members through `start`; returns their client URLs. */
export function startEtcd(
  etcd: EtcdLaunch,
  start: (spec: ServiceSpec, file: string, args: string[], held: []) => unknown,
  out: { write(text: string): unknown },
  prefix: (spec: ServiceSpec) => string,
): string[] {
  for (const member of etcd.members) {
    const port = Number(new URL(member.clientURL).port);
    const spec: ServiceSpec = { name: member.name, command: "etcd", port, args: [] };
    const args = etcdArgs(member, { members: etcd.members, token: etcd.token });
    const guarded = guardedEtcd(etcd.binary, args);
    start(spec, guarded.file, guarded.args, []);
    out.write(`${prefix(spec)}etcd member ${member.name} at ${member.clientURL}\n`);
  }
  return etcd.members.map((member) => member.clientURL);
}
