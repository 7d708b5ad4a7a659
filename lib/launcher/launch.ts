import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { relative } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { listServices } from "../registry/client.ts";
import { stopOnStdinEOF, type Env } from "../std/command.ts";
import { refusedByBrowsers } from "./badports.ts";
import { startEtcd, waitEtcdHealthy, type EtcdMemberSpec } from "./etcd.ts";

/** One service the launcher starts: `node <commandsDir>/<command>/main.js …`. */
export interface ServiceSpec {
  /** Short name that prefixes each line of its output. */
  name: string;
  /** Folder name under `cmd/`. */
  command: string;
  /** Its default port. */
  port: number;
  /** Its ServiceName; the registry itself has none and is waited for by its startup line. */
  serviceName?: string;
  args: string[];
}

/** The etcd cluster a registry cluster keeps its state in, started before everything. */
export interface EtcdLaunch {
  binary: string;
  members: EtcdMemberSpec[];
  /** Tells this cluster from others; a fresh one per start. */
  token: string;
}

/** Options of `launch`. */
export interface LaunchOptions {
  /**
   * In start order. The registry comes first; several registry replicas (specs without a
   * ServiceName, a registry cluster) come first together, on consecutive ports.
   */
  services: ServiceSpec[];
  /** Start this etcd cluster first (for registry replicas on etcd). */
  etcd?: EtcdLaunch;
  /** Folder for runtime files; created if missing. */
  dir: string;
  host: string;
  /** Start every service on a free port instead of its default one. */
  anyPorts: boolean;
  /** The registry's port when not `anyPorts`. */
  registryPort: number;
  token: string | undefined;
  /** Folder holding the compiled `cmd/` (URL of `dist/cmd/`). */
  commandsDir: URL;
  /** Environment of the children (the launcher passes its own). */
  env: Env;
  out: { write(text: string): unknown };
  /** Aborting it stops every service in reverse order; `launch` resolves after that. */
  signal: AbortSignal;
  /** How long one service may take to come up. Default 20 s. */
  startTimeoutMs?: number;
}

interface Running {
  spec: ServiceSpec;
  child: ChildProcess;
  exited: Promise<unknown[]>;
}

/**
 * Starts every service as its own process in order, waiting until each is up (the registry:
 * its startup line; the others: listed by the registry), prefixes their output with their
 * names, then waits for `signal` and stops them in reverse order so each deregisters. A
 * service that dies meanwhile is reported with its exit code or signal and the command that
 * starts it again.
 *
 * The children never outlive the launcher: each one's stdin is a pipe whose other end only
 * the launcher holds, and they run with `STOP_ON_STDIN_EOF=1` (`lib/std/command.ts`), so when
 * the launcher dies — SIGKILL included — the kernel closes the pipes and every service stops
 * gracefully. The registry's pipe is also held by every other service: it stops only after
 * the last of them, so each can still deregister.
 *
 * Rejects (after stopping whatever it started) when a service exits or does not come up in
 * time.
 */
export async function launch(options: LaunchOptions): Promise<void> {
  const { services, host, signal, out, startTimeoutMs = 20_000 } = options;
  await mkdir(options.dir, { recursive: true });
  const width = Math.max(...services.map((spec) => spec.name.length));
  const prefix = (spec: ServiceSpec) => `${spec.name.padEnd(width)} | `;
  const running: Running[] = [];
  const urls = new Map<string, string>();
  const pids = new Map<string, number>();
  // The registry's replicas: the first spec, and those without a ServiceName right after it.
  const replicas = services.filter((spec, i) => i === 0 || spec.serviceName === undefined);
  const registryURLs: string[] = [];
  const env = {
    ...options.env,
    ...(options.token ? { REGISTRY_TOKEN: options.token } : {}),
    [stopOnStdinEOF]: "1",
  };
  /**
   * Spawns `file args` in its own process group — a terminal's Ctrl-C reaches only the
   * launcher, which then stops everything in reverse order — with the stdin pipes `held` as
   * fds 3…, and prefixes its output; resolves the URL of its ` listening on` line.
   */
  const start = (spec: ServiceSpec, file: string, args: string[], held: Running[]) => {
    const child = spawn(file, args, {
      env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe", ...held.map((other) => other.child.stdin)],
    });
    const exited = once(child, "exit");
    running.push({ spec, child, exited });
    const listening = new Promise<string>((resolve) => {
      for (const stream of [child.stdout, child.stderr]) {
        // Both are pipes (stdio above); the type cannot tell.
        if (!stream) continue;
        createInterface({ input: stream }).on("line", (line) => {
          // An etcd member's guard names the member's own process, the one to kill by hand.
          const guarded = /^etcd pid (\d+)$/.exec(line);
          if (guarded) return void pids.set(spec.name, Number(guarded[1]));
          out.write(prefix(spec) + line + "\n");
          const match = / listening on (\S+)/.exec(line);
          if (match?.[1]) resolve(match[1]);
        });
      }
    });
    return { exited, listening };
  };
  try {
    // etcd first; every registry replica holds the members' pipes (see above).
    const members = options.etcd ? startEtcd(options.etcd, start, options.out, prefix) : [];
    const stores = [...running];
    for (const { spec, exited } of stores) {
      urls.set(spec.name, `http://127.0.0.1:${spec.port}`);
      void exited.then(([code, killedBy]) => {
        if (signal.aborted) return;
        out.write(`${prefix(spec)}${describeExit(code, killedBy)}; the registry keeps ` +
          "working while a majority of the etcd members runs\n");
      });
    }
    if (options.etcd) {
      const deadline = AbortSignal.any([signal, AbortSignal.timeout(startTimeoutMs)]);
      const healthy = waitEtcdHealthy(members, { timeoutMs: startTimeoutMs, signal: deadline });
      const [first] = running;
      const anyExit = Promise.race(running.map((member) => member.exited));
      if (first) await until(deadline, anyExit, first.spec, healthy);
    }
    for (const spec of services) {
      const replica = replicas.indexOf(spec);
      const port = options.anyPorts ? 0 : replica >= 0 ? options.registryPort + replica : spec.port;
      const main = fileURLToPath(new URL(`${spec.command}/main.js`, options.commandsDir));
      const args = ["--host", host, "--port", String(port), ...spec.args];
      if (replica < 0) args.push("--registry", registryURLs.join(","));
      // Every service holds the replicas' stdin pipes open (see above).
      const held = replica >= 0 ? stores : running.filter((r) => replicas.includes(r.spec));
      const { exited, listening } = start(spec, process.execPath, [main, ...args], held);
      const deadline = AbortSignal.any([signal, AbortSignal.timeout(startTimeoutMs)]);
      const url = await until(deadline, exited, spec, listening);
      urls.set(spec.name, url);
      if (replica >= 0) registryURLs.push(url);
      else {
        const listed = registered(registryURLs.join(","), spec, url, options, deadline);
        await until(deadline, exited, spec, listed);
      }
      // The same flags, on the port it had, so that it comes back under the same URL.
      const again = [relative(process.cwd(), main), "--host", host, "--port", new URL(url).port];
      again.push(...args.slice(4));
      const token = options.token ? "REGISTRY_TOKEN=<the token> " : "";
      void exited.then(([code, killedBy]) => {
        if (signal.aborted) return;
        out.write(`${prefix(spec)}${describeExit(code, killedBy)}; the others keep running. ` +
          `Start it again with:\n${prefix(spec)}  ${token}node ${again.join(" ")}\n`);
      });
    }
    const rows = running.map(({ spec, child }) => {
      const url = urls.get(spec.name) ?? "";
      // Said where the URL is printed: clicking it fails with a browser's "unsafe port" page.
      const note = refusedByBrowsers(Number(new URL(url).port))
        ? "  (browsers and fetch() refuse this port: use curl)"
        : "";
      const pid = pids.get(spec.name) ?? child.pid;
      return `  ${spec.name.padEnd(width)}  ${url.padEnd(22)}  pid ${pid}${note}`;
    });
    out.write(`\n${rows.join("\n")}`);
    const portal = services.find((spec) => spec.serviceName === "TeacherPortal");
    if (portal) out.write(`\n\nTeacher portal: ${urls.get(portal.name)}/students\n`);
    out.write("Press Ctrl-C to stop everything.\n\n");
    if (!signal.aborted) await once(signal, "abort");
  } finally {
    // Reverse order: each service deregisters while the registry still runs.
    for (const { spec, child, exited } of running.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      out.write(`${prefix(spec)}stopping\n`);
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

/** "exited with code 1" or "killed by SIGKILL". */
function describeExit(code: unknown, signal: unknown): string {
  return typeof signal === "string" ? `killed by ${signal}` : `exited with code ${String(code)}`;
}

/** Resolves with `what`, or rejects when the child exits or the deadline passes first. */
async function until<T>(
  deadline: AbortSignal,
  exited: Promise<unknown[]>,
  spec: ServiceSpec,
  what: Promise<T>,
): Promise<T> {
  const failed = (reason: string) => new Error(`${spec.command}: ${reason}`);
  let stop = () => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    stop = () => {
      const timedOut = deadline.reason instanceof DOMException &&
        deadline.reason.name === "TimeoutError";
      reject(failed(timedOut ? "did not come up in time" : "start aborted"));
    };
  });
  if (deadline.aborted) stop();
  else deadline.addEventListener("abort", stop, { once: true });
  try {
    return await Promise.race([
      what,
      aborted,
      exited.then(([code, signal]) => {
        throw failed(`${describeExit(code, signal)} before it was up`);
      }),
    ]);
  } finally {
    deadline.removeEventListener("abort", stop);
  }
}

/** Polls the registry until it lists `url` under the service's name. */
async function registered(
  registryURL: string,
  spec: ServiceSpec,
  url: string,
  options: LaunchOptions,
  deadline: AbortSignal,
): Promise<void> {
  const name = spec.serviceName ?? spec.name;
  while (!deadline.aborted) {
    const list = await listServices({
      registryURL,
      name,
      signal: deadline,
      ...(options.token ? { token: options.token } : {}),
    }).catch(() => []);
    if (list.some((entry) => entry.ServiceURL === url)) return;
    await delay(25, undefined, { signal: deadline }).catch(() => undefined);
  }
}
