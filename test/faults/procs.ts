// Test helpers for the fault and whole-system suites: every service as its own child process
// (the compiled cmd/*/main.js next to this test's output), started on 127.0.0.1 with
// `--port 0`, its URL parsed from its startup line; waiting with deadlines, never fixed sleeps.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  parsePatch,
  parseServiceList,
  type Patch,
  type ServiceStatus,
} from "../../lib/registry/registration.ts";
import { request } from "../../lib/std/request.ts";
import { commandPath } from "../support/process.ts";
import { startNode, type Listening } from "../support/spawn.ts";
import { createWaiters, eventually } from "../support/wait.ts";

/** The commands a system is made of. */
export type Command =
  | "registryservice"
  | "logservice"
  | "gradingservice"
  | "teacherportal"
  | "helloservice";

/** The ServiceName each command registers as. */
export const serviceNames = {
  logservice: "LogService",
  gradingservice: "GradingService",
  teacherportal: "TeacherPortal",
  helloservice: "HelloService",
} as const;

/** A running service process. */
export interface Proc extends Listening {
  command: Command;
  /** Its flags after `--host`/`--port` (kept so it can be restarted the same way). */
  args: string[];
  env: Record<string, string>;
  port: number;
}

/** Options of `spawnService`. */
export interface ServiceOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Port to bind; default 0 (any free port). */
  port?: number;
  /** How long it may take to print its startup line. Default 30 s. */
  startMs?: number;
}

/**
 * Spawns `node <command>/main.js --host 127.0.0.1 --port <port> …args` and resolves once it
 * printed `… listening on <url>`; rejects (with its output) when it exits first or is late.
 */
export async function spawnService(command: Command, options: ServiceOptions = {}): Promise<Proc> {
  const { args = [], env = {}, port = 0, startMs = 30_000 } = options;
  const started = await startNode(
    pathToFileURL(commandPath(command)),
    ["--host", "127.0.0.1", "--port", String(port), ...args],
    // Never pick up the outer shell's registry or token.
    { name: command, env: { REGISTRY_URL: "", REGISTRY_TOKEN: "", ...env }, timeoutMs: startMs },
  );
  return { ...started, command, args, env, port: Number(new URL(started.url).port) };
}

/** `GET /services` of a registry, parsed. */
export async function listed(registryURL: string, name?: string): Promise<ServiceStatus[]> {
  const query = name === undefined ? "" : `?name=${encodeURIComponent(name)}`;
  const response = await request(`${registryURL}/services${query}`, { timeoutMs: 2_000 });
  if (response.status !== 200) throw new Error(`GET /services: status ${response.status}`);
  return parseServiceList(response.json());
}

/** Waits until the registry lists `url` with `status` (default passing); returns the entry. */
export function waitListed(
  registryURL: string,
  url: string,
  options: { status?: "passing" | "critical"; ms?: number } = {},
): Promise<ServiceStatus> {
  const { status = "passing", ms = 10_000 } = options;
  return eventually(
    async () =>
      (await listed(registryURL)).find((s) => s.ServiceURL === url && s.Status === status),
    ms,
    `${url} listed as ${status}`,
  );
}

/** Resident set size of a process in bytes (Linux `/proc`). */
export async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match?.[1]) throw new Error(`rss: no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1_024;
}

/** Registry flags: short injected intervals keep every test fast. */
export interface RegistryTiming {
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  failures?: number;
  deregisterAfterMs?: number;
}

/** Options of `startSystem`. */
export interface SystemOptions extends RegistryTiming {
  /** Keep the registry state in `<dir>/registry.json` (default) or in memory only. */
  state?: boolean;
  token?: string;
  /** Extra environment for the services (not the registry). */
  env?: Record<string, string>;
  /** Which services to start besides the registry; default all four. */
  services?: Array<keyof typeof serviceNames>;
}

/** A whole system of child processes in a temp dir. */
export interface System {
  dir: string;
  logFile: string;
  dataFile: string;
  statePath: string;
  registry: Proc;
  registryURL: string;
  /** The services by command, current after restarts. */
  procs: Partial<Record<keyof typeof serviceNames, Proc>>;
  /** The service of `command`; throws when it was not started. */
  get(command: keyof typeof serviceNames): Proc;
  /** Starts the registry again with the same flags (and, by default, the same port). */
  restartRegistry(options?: { samePort?: boolean }): Promise<Proc>;
  /**
   * Starts `command` again with the same flags, on the same port by default (so the restarted
   * instance must replace its old entry), and waits until it is listed as passing.
   */
  restart(command: keyof typeof serviceNames, options?: { samePort?: boolean }): Promise<Proc>;
  /** Waits until each dependent has been told about each provider it requires. */
  ready(ms?: number): Promise<void>;
  /** Stops everything (services first, then the registry) and removes the dir. */
  close(): Promise<void>;
}

const required: Record<keyof typeof serviceNames, Array<keyof typeof serviceNames>> = {
  logservice: [],
  gradingservice: ["logservice"],
  teacherportal: ["gradingservice", "logservice"],
  helloservice: ["logservice"],
};

/**
 * Starts a registry, then the services (in parallel), each its own process in a fresh temp
 * dir, and waits until all are listed as passing and every dependent knows its providers.
 */
export async function startSystem(options: SystemOptions = {}): Promise<System> {
  const {
    heartbeatIntervalMs = 200,
    heartbeatTimeoutMs = 200,
    failures = 2,
    deregisterAfterMs = 60_000,
    state = true,
    token,
    env = {},
    services = ["logservice", "gradingservice", "teacherportal", "helloservice"],
  } = options;
  const dir = await mkdtemp(join(tmpdir(), "faults-"));
  const statePath = join(dir, "registry.json");
  const logFile = join(dir, "distributed.log");
  const dataFile = join(dir, "grades.json");
  const tokenArgs = token === undefined ? [] : ["--token", token];
  const registryArgs = [
    "--state", state ? statePath : "",
    "--heartbeat-interval", String(heartbeatIntervalMs),
    "--heartbeat-timeout", String(heartbeatTimeoutMs),
    "--failures", String(failures),
    "--deregister-after", String(deregisterAfterMs),
    ...tokenArgs,
  ];
  const all: Proc[] = [];
  const procs: System["procs"] = {};
  const registry = await spawnService("registryservice", { args: registryArgs });
  all.push(registry);
  const registryURL = registry.url;
  const argsOf = (command: keyof typeof serviceNames): string[] => {
    const own =
      command === "logservice" ? ["--file", logFile]
        : command === "gradingservice" ? ["--data", dataFile]
          : [];
    return ["--registry", registryURL, ...tokenArgs, ...own];
  };

  const system: System = {
    dir,
    logFile,
    dataFile,
    statePath,
    registry,
    registryURL,
    procs,
    get(command) {
      const proc = procs[command];
      if (!proc) throw new Error(`system: ${command} was not started`);
      return proc;
    },
    async restartRegistry({ samePort = true } = {}) {
      const old = system.registry;
      if (old.alive()) throw new Error("system: the registry still runs");
      const proc = await spawnService("registryservice", {
        args: registryArgs,
        ...(samePort ? { port: old.port } : {}),
      });
      all.push(proc);
      system.registry = proc;
      return proc;
    },
    async restart(command, { samePort = true } = {}) {
      const old = system.get(command);
      if (old.alive()) throw new Error(`system: ${command} still runs`);
      const proc = await spawnService(command, {
        args: old.args,
        env: old.env,
        ...(samePort ? { port: old.port } : {}),
      });
      all.push(proc);
      procs[command] = proc;
      await waitListed(registryURL, proc.url);
      return proc;
    },
    async ready(ms = 10_000) {
      for (const [command, proc] of Object.entries(procs)) {
        // Acknowledged, i.e. durable in the registry's state (listed happens before that).
        await proc.waitOutput(/registered with /, ms);
        for (const need of required[command as keyof typeof serviceNames]) {
          const provider = procs[need];
          if (!provider) continue;
          const line = new RegExp(`update: .*\\+${serviceNames[need]} ${escape(provider.url)}`);
          await proc.waitOutput(line, ms);
        }
      }
    },
    async close() {
      const running = all.filter((proc) => proc.alive()).reverse();
      await Promise.all(running.filter((proc) => proc !== system.registry)
        .map((proc) => proc.stop(3_000)));
      await system.registry.stop(3_000);
      await Promise.all(all.map((proc) => proc.crash()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    // In dependency order, as the launcher does: a dependent registering while one of its
    // providers registers can lose that provider (see the registration race test).
    const waves = [["logservice"], ["gradingservice"], ["teacherportal", "helloservice"]];
    for (const wave of waves) {
      const now = services.filter((command) => wave.includes(command));
      await Promise.all(now.map(async (command) => {
        const proc = await spawnService(command, { args: argsOf(command), env });
        all.push(proc);
        procs[command] = proc;
        await waitListed(registryURL, proc.url);
      }));
    }
    await system.ready();
  } catch (error) {
    await system.close();
    throw error;
  }
  return system;
}

/** A regular expression matching `text` literally. */
export function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A dependent that lives in the test process and records every patch the registry sends. */
export interface Observer {
  url: string;
  patches: Patch[];
  /** Patches received with a wrong or missing token (when one is expected). */
  unauthorized: number;
  /** Resolves with the first patch at index ≥ `from` that `match` accepts. */
  waitPatch(match: (patch: Patch) => boolean, from?: number, ms?: number): Promise<Patch>;
  close(): Promise<void>;
}

/**
 * Starts an observer on 127.0.0.1 (heartbeat + update endpoints) and registers it as
 * `FaultObserver` requiring `requires`, so the test sees exactly what dependents are told.
 */
export async function startObserver(
  registryURL: string,
  requires: string[],
  token?: string,
): Promise<Observer> {
  const patches: Patch[] = [];
  const waiters = createWaiters();
  const observer: Observer = {
    url: "",
    patches,
    unauthorized: 0,
    waitPatch: (match, from = 0, ms = 5_000) =>
      waiters.until(
        () => patches.slice(from).find(match),
        ms,
        () => new Error(`observer: no matching patch within ${ms} ms: ` +
          JSON.stringify(patches.slice(from))),
      ),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.url === "/services" && req.method === "POST") {
        if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
          observer.unauthorized += 1;
          res.writeHead(401).end();
          return;
        }
        patches.push(parsePatch(JSON.parse(Buffer.concat(chunks).toString()) as unknown));
        waiters.wake();
      }
      res.writeHead(200, { "Content-Length": 0 }).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  observer.url = url;
  const response = await request(`${registryURL}/services`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({
      ServiceName: "FaultObserver",
      ServiceURL: url,
      RequiredServices: requires,
      ServiceUpdateURL: `${url}/services`,
      HeartbeatURL: `${url}/heartbeat`,
    }),
  });
  if (response.status !== 200) throw new Error(`observer: register: status ${response.status}`);
  return observer;
}

/** Counts printed by each fault suite at its end (for the closing note). */
export interface Counts {
  faultsInjected: number;
  badRequests: number;
  acknowledgedEntries: number;
  entriesLost: number;
  gradesChecked: number;
  gradesLost: number;
  requests: number;
  failedRequests: number;
}

/** Fresh zero counts. */
export function counts(): Counts {
  return {
    faultsInjected: 0,
    badRequests: 0,
    acknowledgedEntries: 0,
    entriesLost: 0,
    gradesChecked: 0,
    gradesLost: 0,
    requests: 0,
    failedRequests: 0,
  };
}

/** Prints the counts on one line that is easy to grep from the test output. */
export function report(suite: string, value: Counts): void {
  console.log(`fault-counts ${suite}: ${JSON.stringify(value)}`);
}
