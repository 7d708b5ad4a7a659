// Shared fixtures of the registry tests: a registry on a random port and fake services that
// record the patches they receive and answer heartbeats as told.
import { EventEmitter, once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import { listen } from "../../../lib/std/listen.ts";
import { request, type HttpResponse } from "../../../lib/std/request.ts";
import { parsePatch, parseServiceList, type Patch, type ServiceStatus } from
  "../../../lib/registry/registration.ts";
import { createRegistry, type Registry, type RegistryOptions } from
  "../../../lib/registry/server.ts";
import { startReplica } from "../../../lib/registry/clusterserver.ts";

/** A registry listening on 127.0.0.1 and the log lines it wrote. */
export interface TestRegistry {
  url: string;
  registry: Registry;
  lines: string[];
  /** Stops listening and closes the registry (idempotent). */
  stop(): Promise<void>;
}

// What `startRegistry` runs on: the file store, unless a suite runs the behaviour on etcd.
let etcdEndpoints: (() => readonly string[]) | undefined;
let etcdPrefixes = 0;

/**
 * Makes every later `startRegistry` of this test file start a replica of a registry cluster
 * on the etcd cluster at `endpoints()` — each under a key prefix of its own — instead of a
 * registry with a file store: the same behaviour suites run against both stores.
 */
export function runBehaviourOnEtcd(endpoints: () => readonly string[]): void {
  etcdEndpoints = endpoints;
}

/** Whether `startRegistry` starts replicas on etcd in this test file. */
export function onEtcd(): boolean {
  return etcdEndpoints !== undefined;
}

/**
 * How many registrations the scale test makes: 10 000 on the file store; 1 000 on etcd, where
 * each is a quorum write on a shared 2-core machine (10 000 through a cluster is `make bench`'s).
 */
export function registrationsAtScale(): number {
  return etcdEndpoints ? 1_000 : 10_000;
}

/** Starts a registry with `options` (logging into `lines`), stopped after the test. */
export async function startRegistry(
  t: TestContext,
  options: RegistryOptions = {},
): Promise<TestRegistry> {
  if (etcdEndpoints) return startEtcdReplica(t, etcdEndpoints(), options);
  const lines: string[] = [];
  const registry = await createRegistry({ log: (line) => lines.push(line), ...options });
  // With metrics the registry answers `GET /metrics` too, as the command does.
  const listening = await listen(registry.handler, { host: "127.0.0.1", port: 0,
    ...(options.metrics ? { metrics: options.metrics } : {}) });
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= (async () => {
    await registry.close();
    await listening.close(100);
  })());
  t.after(stop);
  return { url: listening.url, registry, lines, stop };
}

/** `startRegistry` on etcd: one replica, alone under a fresh key prefix (no state file). */
async function startEtcdReplica(
  t: TestContext,
  endpoints: readonly string[],
  options: RegistryOptions,
): Promise<TestRegistry> {
  const lines: string[] = [];
  const { statePath: _, ...rest } = options;
  const stopping = new AbortController();
  const replica = await startReplica(
    { log: (line) => lines.push(line), ...rest },
    { endpoints, prefix: `/behaviour/${process.pid}/${++etcdPrefixes}/`, electionTTLSeconds: 1 },
    { host: "127.0.0.1", port: 0, ...(options.metrics ? { metrics: options.metrics } : {}) },
    stopping.signal,
  );
  if (!replica) throw new Error("registry: the replica did not start");
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= replica.close());
  t.after(stop);
  return { url: replica.url, registry: replica.registry, lines, stop };
}

/** A fake service: records patches POSTed to /services, answers /heartbeat with `health`. */
export interface FakeService {
  url: string;
  updateURL: string;
  heartbeatURL: string;
  server: Server;
  patches: Patch[];
  /** Raw bodies of every patch request, in order. */
  bodies: string[];
  /** Headers of every patch request, in order. */
  patchHeaders: IncomingHttpHeaders[];
  heartbeats: number;
  /** Status answered on /heartbeat; `"hang"` never answers. */
  health: number | "hang";
  /** Status answered on POST /services; `"hang"` never answers. */
  updateStatus: number | "hang";
  /** Patch requests still to be answered 503 before `updateStatus` applies. */
  failNext: number;
  /** While set, patch answers wait for it. */
  hold: Promise<void> | undefined;
  /** Resolves with the first patch (received before or after the call) that matches. */
  waitPatch(match: (patch: Patch) => boolean, timeoutMs?: number): Promise<Patch>;
  /** Resolves at the next heartbeat request. */
  nextHeartbeat(timeoutMs?: number): Promise<void>;
  registration(name: string, required?: string[]): Record<string, unknown>;
}

/** Starts a fake service on 127.0.0.1:0, closed after the test. */
export async function startFake(t: TestContext): Promise<FakeService> {
  const events = new EventEmitter();
  const server = createServer((req, res) => {
    if (req.url === "/heartbeat") {
      fake.heartbeats += 1;
      events.emit("heartbeat");
      if (fake.health === "hang") return;
      res.writeHead(fake.health).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const patch = parsePatch(JSON.parse(body));
      fake.bodies.push(body);
      fake.patches.push(patch);
      fake.patchHeaders.push(req.headers);
      events.emit("patch", patch);
      const fail = fake.failNext > 0;
      if (fail) fake.failNext -= 1;
      await fake.hold;
      if (fail) return void res.writeHead(503).end();
      if (fake.updateStatus === "hang") return;
      res.writeHead(fake.updateStatus).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const fake: FakeService = {
    url,
    updateURL: `${url}/services`,
    heartbeatURL: `${url}/heartbeat`,
    server,
    patches: [],
    bodies: [],
    patchHeaders: [],
    heartbeats: 0,
    health: 200,
    updateStatus: 200,
    failNext: 0,
    hold: undefined,
    waitPatch(match, timeoutMs = 5_000) {
      const found = fake.patches.find(match);
      if (found) return Promise.resolve(found);
      return waitEvent<Patch>(events, "patch", match, timeoutMs, "patch");
    },
    nextHeartbeat(timeoutMs = 5_000) {
      return waitEvent<void>(events, "heartbeat", () => true, timeoutMs, "heartbeat");
    },
    registration(name, required = []) {
      return {
        ServiceName: name,
        ServiceURL: url,
        RequiredServices: required,
        ServiceUpdateURL: fake.updateURL,
        HeartbeatURL: fake.heartbeatURL,
      };
    },
  };
  return fake;
}

function waitEvent<T>(
  events: EventEmitter,
  name: string,
  match: (value: T) => boolean,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      events.off(name, listener);
      reject(new Error(`no matching ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (value: T) => {
      if (!match(value)) return;
      clearTimeout(timer);
      events.off(name, listener);
      resolve(value);
    };
    events.on(name, listener);
  });
}

/** True when `patch` adds (or with `removed`, removes) `url`. */
export function has(patch: Patch, url: string, list: "Added" | "Removed" = "Added"): boolean {
  return patch[list].some((entry) => entry.URL === url);
}

/** POSTs `body` (object → JSON, string as is) to the registry's /services. */
export function post(
  registryURL: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  return request(`${registryURL}/services`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** DELETEs `serviceURL` (as text) from the registry. */
export function remove(
  registryURL: string,
  serviceURL: string,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  return request(`${registryURL}/services`, {
    method: "DELETE",
    headers: { "Content-Type": "text/plain", ...headers },
    body: serviceURL,
  });
}

/** `GET /services` (optionally `?name=`), parsed. */
export async function list(registryURL: string, name?: string): Promise<ServiceStatus[]> {
  const query = name === undefined ? "" : `?name=${encodeURIComponent(name)}`;
  const response = await request(`${registryURL}/services${query}`);
  if (response.status !== 200) throw new Error(`GET /services: status ${response.status}`);
  return parseServiceList(response.json());
}
