import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseServiceList, type Registration } from "../../lib/registry/registration.ts";
import { request } from "../../lib/std/request.ts";

/** Which half of a patch an entry came in. */
export type PatchKind = "Added" | "Removed";

/** A patch entry as the dependent received it. */
export interface Arrival {
  kind: PatchKind;
  name: string;
  url: string;
  /** performance.now() when the patch request had been read. */
  at: number;
}

/**
 * An in-process stand-in for a dependent service: its update handler (`POST /services`)
 * and heartbeat (`GET /heartbeat`), timing every patch entry it receives.
 */
export interface Dependent {
  url: string;
  /** Patches received so far. */
  readonly patches: number;
  /** Distinct URLs received so far as `kind` entries for `name`. */
  distinct(kind: PatchKind, name: string): number;
  /**
   * Resolves with the arrival of the first `kind` entry for `name` (and `url`, when given)
   * at or after `since`; rejects after `timeoutMs`.
   */
  waitFor(kind: PatchKind, name: string, url: string | undefined, since: number,
    timeoutMs: number): Promise<Arrival>;
  /** Registers this dependent with `registryURL`, requiring `required`. */
  register(registryURL: string, required: string[], agent: http.Agent): Promise<void>;
  /** Stops the server. */
  close(): Promise<void>;
}

interface Waiter {
  matches: (arrival: Arrival) => boolean;
  resolve: (arrival: Arrival) => void;
}

/** Starts a dependent on `127.0.0.1` and an ephemeral port. */
export async function startDependent(): Promise<Dependent> {
  const arrivals: Arrival[] = [];
  const waiters = new Set<Waiter>();
  const seen = new Map<string, Set<string>>();
  let patches = 0;
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/heartbeat") {
      res.writeHead(200, { "Content-Length": 0 }).end();
      return;
    }
    if (req.method !== "POST" || req.url !== "/services") {
      res.writeHead(404, { "Content-Length": 0 }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const at = performance.now();
      let received: Arrival[];
      try {
        received = parseArrivals(JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown, at);
      } catch {
        res.writeHead(400, { "Content-Length": 0 }).end();
        return;
      }
      patches++;
      res.writeHead(200, { "Content-Length": 0 }).end();
      for (const arrival of received) {
        arrivals.push(arrival);
        const key = `${arrival.kind} ${arrival.name}`;
        let urls = seen.get(key);
        if (!urls) seen.set(key, (urls = new Set()));
        urls.add(arrival.url);
        for (const waiter of waiters) {
          if (waiter.matches(arrival)) {
            waiters.delete(waiter);
            waiter.resolve(arrival);
          }
        }
      }
      // Bounded memory: only recent arrivals can still be waited for.
      if (arrivals.length > 50_000) arrivals.splice(0, 25_000);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const waitFor = (kind: PatchKind, name: string, target: string | undefined, since: number,
    timeoutMs: number): Promise<Arrival> => {
    const matches = (arrival: Arrival) => arrival.kind === kind && arrival.name === name &&
      (target === undefined || arrival.url === target) && arrival.at >= since;
    const found = arrivals.find(matches);
    if (found) return Promise.resolve(found);
    return new Promise<Arrival>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`bench: no ${kind} ${name} ${target ?? ""} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        matches,
        resolve: (arrival) => {
          clearTimeout(timer);
          resolve(arrival);
        },
      };
      waiters.add(waiter);
    });
  };

  return {
    url,
    get patches() {
      return patches;
    },
    distinct: (kind, name) => seen.get(`${kind} ${name}`)?.size ?? 0,
    waitFor,
    register: async (registryURL, required, agent) => {
      await registerAt(registryURL, {
        ServiceName: "BenchDependent",
        ServiceURL: url,
        RequiredServices: required,
        ServiceUpdateURL: `${url}/services`,
        HeartbeatURL: `${url}/heartbeat`,
      }, agent);
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function parseArrivals(value: unknown, at: number): Arrival[] {
  if (typeof value !== "object" || value === null) throw new Error("patch: not an object");
  const result: Arrival[] = [];
  for (const kind of ["Added", "Removed"] as const) {
    const list = (value as Record<string, unknown>)[kind] ?? [];
    if (!Array.isArray(list)) throw new Error(`patch: ${kind} not a list`);
    for (const item of list as unknown[]) {
      if (typeof item !== "object" || item === null) throw new Error("patch: bad entry");
      const entry = item as Record<string, unknown>;
      if (typeof entry["Name"] !== "string" || typeof entry["URL"] !== "string") {
        throw new Error("patch: bad entry");
      }
      result.push({ kind, name: entry["Name"], url: entry["URL"], at });
    }
  }
  return result;
}

/** POSTs a registration; throws unless the registry answers 200. */
export async function registerAt(registryURL: string, registration: Registration,
  agent: http.Agent, timeoutMs = 10_000): Promise<void> {
  const response = await request(`${registryURL}/services`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(registration),
    agent,
    timeoutMs,
  });
  if (response.status !== 200) {
    throw new Error(`bench: register ${registration.ServiceURL}: status ${response.status}: ` +
      response.text().slice(0, 200));
  }
}

/**
 * Registers an instance of "X" at `url` (checked at `heartbeatURL`, or not at all) and times
 * `dependent`'s `Added` for it: ms from just before the POST to the patch (infinite when it
 * did not come within `deadlineMs`), and ms until the POST was answered.
 */
export async function timeAdded(registryURL: string, dependent: Dependent, url: string,
  agent: http.Agent, deadlineMs: number, heartbeatURL = ""):
  Promise<{ addedMs: number; answerMs: number }> {
  const start = performance.now();
  const arrival = dependent.waitFor("Added", "X", url, start, deadlineMs).then(
    (a) => a.at - start, () => Number.POSITIVE_INFINITY);
  await registerAt(registryURL, {
    ServiceName: "X",
    ServiceURL: url,
    RequiredServices: [],
    ServiceUpdateURL: "",
    HeartbeatURL: heartbeatURL,
  }, agent);
  const answerMs = performance.now() - start;
  return { addedMs: await arrival, answerMs };
}

/** DELETEs a registration; throws unless the registry answers 200. */
export async function deregisterAt(registryURL: string, serviceURL: string,
  agent: http.Agent): Promise<void> {
  const response = await request(`${registryURL}/services`, {
    method: "DELETE",
    headers: { "Content-Type": "text/plain" },
    body: serviceURL,
    agent,
  });
  if (response.status !== 200) {
    throw new Error(`bench: deregister ${serviceURL}: status ${response.status}`);
  }
}

/**
 * GET /services (optionally `?name=`): the entries listed and how long the exchange took
 * (request to last byte, before parsing).
 */
export async function listAt(registryURL: string, agent: http.Agent,
  name?: string): Promise<{ count: number; bytes: number; urls: string[]; ms: number }> {
  const query = name === undefined ? "" : `?name=${encodeURIComponent(name)}`;
  const start = performance.now();
  const response = await request(`${registryURL}/services${query}`, {
    agent,
    timeoutMs: 30_000,
    maxResponseBytes: 256 * 1024 * 1024,
  });
  const ms = performance.now() - start;
  if (response.status !== 200) throw new Error(`bench: list services: status ${response.status}`);
  const services = parseServiceList(response.json());
  const urls = services.map((service) => service.ServiceURL);
  return { count: services.length, bytes: response.body.length, urls, ms };
}
