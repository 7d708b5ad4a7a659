import type { ServerResponse } from "node:http";
import { createEtcdClient } from "../etcd/client.ts";
import { bearerCheck } from "../std/auth.ts";
import {
  HttpError,
  maxBodyBytes,
  readJSON,
  readText,
  sendError,
  sendJSON,
  type Handler,
} from "../std/http.ts";
import { listen, type ListenOptions } from "../std/listen.ts";
import { streamLogger, type Logger } from "../std/log.ts";
import { printable } from "../std/printable.ts";
import { createRouter } from "../std/router.ts";
import { joinCluster } from "./cluster.ts";
import { createChangeIndex } from "./blocking.ts";
import { createListHandler } from "./list.ts";
import { addRegistryMetrics } from "./metrics.ts";
import { createNotifier } from "./notify.ts";
import { settleInitial } from "./settle.ts";
import {
  checkSameHost,
  parseRegistration,
  parseServiceURL,
  type Patch,
  type Registration,
} from "./registration.ts";
import type { Registry, RegistryOptions } from "./server.ts";
import { createRegistryStats } from "./stats.ts";
import { createTable } from "./table.ts";

/** Where a replica keeps its state: an etcd cluster. */
export interface EtcdStoreOptions {
  /** The members' client URLs. */
  endpoints: readonly string[];
  /** Key prefix of this registry cluster, ending in `/`. Default `/distributed/`. */
  prefix?: string;
  /** This replica's URL, as `GET /cluster` lists it. */
  selfURL: string;
  /** TTL of the leader's lease in seconds. Default 3. */
  electionTTLSeconds?: number;
  /** Aborting it gives up waiting for etcd at start (`createRegistry` rejects). */
  signal?: AbortSignal;
}

/** How long a replica works on one change before it answers 503 (outcome unknown). */
const changeDeadlineMs = 4_000;

/**
 * Aborts when the client goes away or the change's time is up: a replica must not keep
 * retrying a change its client has given up on, or it could land after the client's next one.
 */
function requestSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(timeUp), changeDeadlineMs);
  res.once("close", () => {
    clearTimeout(timer);
    controller.abort(answered);
  });
  return controller.signal;
}

// Fixed reasons: a DOMException made for every request's end costs more than the request.
const timeUp = new Error("registry: the change took too long");
const answered = new Error("registry: the request is over");

/** The header that marks an answer served from a possibly stale copy of the state. */
const staleHeader = "X-Registry-Stale";

/**
 * Creates one replica of a registry cluster whose state lives in etcd (README "Running a
 * registry cluster"): the same `/services` wire format and status codes as the single
 * registry, plus `GET /cluster`. A `200` to a change means etcd committed it; an unknown outcome
 * is `503`. Reads see every change acknowledged anywhere before them, or, while etcd has no
 * quorum, the last state known, marked with `X-Registry-Stale`. Resolves once the state was read
 * from etcd (it keeps trying, and says so, while etcd is unreachable).
 */
export async function createClusterRegistry(
  options: RegistryOptions,
  store: EtcdStoreOptions,
): Promise<Registry> {
  const sink = options.log ?? streamLogger("registry");
  const log: Logger = (line) => sink(printable(line));
  const sameHost = (options.callbackHosts ?? "same") === "same";
  const notifyTimeoutMs = options.notifyTimeoutMs ?? 2_000;
  const table = createTable();
  const stats = createRegistryStats();
  const notifier = createNotifier({
    timeoutMs: notifyTimeoutMs, retries: options.notifyRetries ?? 3, token: options.token, log,
    stats: stats.delivery,
  });
  const client = createEtcdClient({ endpoints: store.endpoints });
  // This replica's own count of changes: another replica's index means nothing here, and a
  // client that brings one is answered at once (see `ChangeIndex.wait`).
  const changes = createChangeIndex();
  const list = createListHandler(table, changes);
  const replica = await joinCluster({
    client,
    prefix: store.prefix ?? "/distributed/",
    selfURL: store.selfURL,
    electionTTLSeconds: store.electionTTLSeconds ?? 3,
    ...(store.signal ? { signal: store.signal } : {}),
    table,
    notifier,
    log,
    onChange: () => changes.bump(),
    stats,
    health: {
      intervalMs: options.heartbeatIntervalMs ?? 3_000,
      timeoutMs: options.heartbeatTimeoutMs ?? 1_000,
      failures: Math.max(1, options.failures ?? 3),
      retryDelayMs: options.retryDelayMs ?? 1_000,
      deregisterAfterMs: options.deregisterAfterMs ?? 60_000,
      concurrency: options.checkConcurrency ?? 256,
      now: options.now ?? (() => new Date()),
      log,
    },
  }).catch((error: unknown) => {
    client.close();
    throw error;
  });
  if (options.metrics) {
    addRegistryMetrics(options.metrics,
      { stats, table, notifier, leading: () => replica.leading });
  }
  const authorize = bearerCheck(options.token, "registry");

  /** Every passing provider of what `reg` requires, as an initial patch. */
  const providersOf = (reg: Registration): Patch => {
    const patch: Patch = { Added: [], Removed: [] };
    for (const name of reg.RequiredServices) patch.Added.push(...table.providers(name));
    return patch;
  };


  let closed = false;

  const router = createRouter([
    {
      path: "/services",
      methods: {
        GET: async (req, res) => {
          // Every change acknowledged anywhere first; then the list, or a blocking query.
          const stale = await replica.sync();
          if (stale !== undefined) res.setHeader(staleHeader, printable(stale));
          await list(req, res);
        },
        POST: async (req, res) => {
          authorize(req);
          const reg = parseRegistration(await readJSON(req, { limit: maxBodyBytes }));
          if (sameHost) checkSameHost(reg);
          const { previous } = await replica.register(reg, requestSignal(res));
          const initial = providersOf(reg);
          // A Go client reads its providers once, from the patch, right after this answer.
          await notifier.deliver(reg.ServiceUpdateURL, initial, notifyTimeoutMs);
          stats.registrations.add(reg.ServiceName);
          log(`${previous ? "re-registered" : "registered"} ${reg.ServiceName} at ` +
            reg.ServiceURL);
          sendJSON(res, 200, initial);
          void settleInitial(reg, initial, {
            sync: () => replica.sync(),
            providers: () => providersOf(reg).Added,
            send: (patch) => notifier.sent(reg.ServiceUpdateURL, patch),
            stopped: () => closed,
          });
        },
        DELETE: async (req, res) => {
          authorize(req);
          const url = parseServiceURL(await readText(req, { limit: maxBodyBytes }));
          const previous = await replica.deregister(url, requestSignal(res));
          if (!previous) throw new HttpError(404, `registry: no service registered at ${url}`);
          stats.deregistered.add(previous.ServiceName);
          log(`deregistered ${previous.ServiceName} at ${url}`);
          res.writeHead(200, { "Content-Length": 0 });
          res.end();
        },
      },
    },
    {
      path: "/cluster",
      methods: {
        GET: async (_req, res) => sendJSON(res, 200, { Replicas: await replica.replicas() }),
      },
    },
  ], { log });

  const handler: Handler = (req, res) => {
    if (closed) {
      sendError(res, new HttpError(503, "registry: shutting down"));
      return;
    }
    return router(req, res);
  };
  return {
    handler,
    async close() {
      if (closed) return;
      closed = true;
      changes.close();
      await replica.close();
      notifier.close();
      client.close();
    },
  };
}

/** A replica that listens. */
export interface RunningReplica {
  url: string;
  registry: Registry;
  /** Stops accepting, leaves the cluster (resigning a leadership) and closes the server. */
  close(): Promise<void>;
}

/**
 * Listens, then joins the registry cluster under the URL it got: a replica names itself by
 * its URL, known only once it listens (`--port 0`). Until the state is read from etcd it
 * answers `503`. Resolves with `undefined` when `signal` aborted while etcd was unreachable;
 * rejects when the address cannot be bound.
 */
export async function startReplica(
  options: RegistryOptions,
  store: Omit<EtcdStoreOptions, "selfURL" | "signal">,
  listenOptions: ListenOptions,
  signal: AbortSignal,
): Promise<RunningReplica | undefined> {
  let handler: Handler = (_req, res) => sendError(res, new HttpError(503, "registry: starting"));
  const server = await listen((req, res) => handler(req, res), listenOptions);
  listenOptions.log?.(`at ${server.url} (503 while it reads the state from etcd)`);
  let registry: Registry;
  try {
    registry = await createClusterRegistry(options, { ...store, selfURL: server.url, signal });
  } catch (error) {
    await server.close();
    if (signal.aborted) return undefined;
    throw error;
  }
  handler = registry.handler;
  return {
    url: server.url,
    registry,
    async close() {
      await server.close();
      await registry.close();
    },
  };
}
