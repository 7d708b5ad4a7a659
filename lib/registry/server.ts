import { streamLogger, type Logger } from "../std/log.ts";
import type { Metrics } from "../std/metrics.ts";
import {
  HttpError,
  maxBodyBytes,
  readJSON,
  readText,
  sendError,
  sendJSON,
  type Handler,
} from "../std/http.ts";
import { bearerCheck } from "../std/auth.ts";
import { printable } from "../std/printable.ts";
import { createRouter } from "../std/router.ts";
import { ValidationError } from "../std/errors.ts";
import { createChangeIndex } from "./blocking.ts";
import { createClusterRegistry, type EtcdStoreOptions } from "./clusterserver.ts";
import { createHealthChecker } from "./health.ts";
import { createListHandler } from "./list.ts";
import { addJournalTiming, addRegistryMetrics } from "./metrics.ts";
import { criticalState } from "./health-policy.ts";
import { createNotifier } from "./notify.ts";
import {
  checkSameHost,
  parseRegistration,
  parseServiceURL,
  type Patch,
  type Registration,
} from "./registration.ts";
import { createFileStore } from "./file-store.ts";
import { createRegistryStats } from "./stats.ts";
import { createTable, rowOf, type Change } from "./table.ts";

/** Options of `createRegistry`; defaults are those of docs/protocol.md#commands. */
export interface RegistryOptions {
  /** State file; `undefined` or `""` keeps the registry in memory only. */
  statePath?: string;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** Consecutive failed checks that make a registration critical. */
  failures?: number;
  /** Wait before re-checking after a failed check. */
  retryDelayMs?: number;
  /** A registration critical this long is removed. */
  deregisterAfterMs?: number;
  /** Bearer token required on `POST`/`DELETE /services` and sent with every patch. */
  token?: string;
  log?: Logger;
  now?: () => Date;
  /** Heartbeat checks in flight at most. Default 256. */
  checkConcurrency?: number;
  /** Bound on each patch POST. Default 2 s. */
  notifyTimeoutMs?: number;
  /** Retries of a failed patch POST. Default 3. */
  notifyRetries?: number;
  /**
   * Where a registration's HeartbeatURL and ServiceUpdateURL may point: `"same"` (default)
   * only at its ServiceURL's host, any port; `"any"` anywhere (README, Registry).
   */
  callbackHosts?: "same" | "any";
  /**
   * Keep the state in etcd instead of a file and run as one replica of a registry cluster
   * (README "Running a registry cluster"); `statePath` must be unset then.
   */
  etcd?: EtcdStoreOptions;
  /**
   * Where the registry's own figures go (entries, registrations, checks, patches, journal),
   * for `GET /metrics` (docs/protocol.md#metrics).
   */
  metrics?: Metrics;
}

/** A running registry: its HTTP handler and the way to stop it. */
export interface Registry {
  /** Answers `/services` (docs/protocol.md#wire-protocol); everything else is `404`. */
  handler: Handler;
  /**
   * Stops the health checks and timers, aborts the checks and patches in flight, and writes
   * a final snapshot of the state. Requests after it get `503`.
   */
  close(): Promise<void>;
}

/**
 * Creates the service registry of docs/protocol.md#registry and loads its saved state (whose
 * entries are checked at once). Rejects when the state file exists but cannot be read; a corrupt
 * one is set aside and logged.
 */
export async function createRegistry(options: RegistryOptions = {}): Promise<Registry> {
  if (options.etcd) {
    if (options.statePath) {
      throw new ValidationError("registry: a state file and etcd exclude each other");
    }
    return createClusterRegistry(options, options.etcd);
  }
  const sink = options.log ?? streamLogger("registry");
  // Names, URLs and error messages quote what clients sent: escape every line, so no client can
  // colour, clear or retitle a terminal or forge a line (README, Registry).
  const log: Logger = (line) => sink(printable(line));
  const sameHost = (options.callbackHosts ?? "same") === "same";
  const now = options.now ?? (() => new Date());
  const table = createTable();
  const changes = createChangeIndex();
  const stats = createRegistryStats();
  const notifyTimeoutMs = options.notifyTimeoutMs ?? 2_000;
  const notifier = createNotifier({
    timeoutMs: notifyTimeoutMs,
    retries: options.notifyRetries ?? 3,
    token: options.token,
    log,
    stats: stats.delivery,
  });
  const persistent = (options.statePath ?? "") !== "";
  const onSync = options.metrics && persistent ? addJournalTiming(options.metrics) : undefined;
  const store = createFileStore({
    path: options.statePath ?? "",
    snapshot: async () => `${await table.snapshot()}\n`,
    log,
    now,
    ...(onSync ? { onSync } : {}),
  });
  const policy = {
    intervalMs: options.heartbeatIntervalMs ?? 3_000,
    failures: Math.max(1, options.failures ?? 3),
    retryDelayMs: options.retryDelayMs ?? 1_000,
    deregisterAfterMs: options.deregisterAfterMs ?? 60_000,
  };
  const health = createHealthChecker({
    ...policy,
    timeoutMs: options.heartbeatTimeoutMs ?? 1_000,
    concurrency: options.checkConcurrency ?? 256,
    now,
    log,
    stats: stats.health,
    onCheck: (key, status, checkedAt) => {
      const row = table.get(key);
      if (!row) return;
      const change = { put: { ...row, Status: status, LastCheck: checkedAt.toISOString() } };
      // Only a new status is worth a journal line; the time of the check waits for a snapshot.
      if (status === row.Status) apply(change);
      else saveLater(apply(change));
    },
    onExpire: (key) => {
      const row = table.get(key);
      if (!row) return;
      stats.expired.add(row.ServiceName);
      saveLater(apply({ remove: key }));
    },
  });
  if (options.metrics) {
    addRegistryMetrics(options.metrics,
      { stats, table, notifier, ...(persistent ? { store } : {}) });
  }
  let closed = false;

  /**
   * Makes `change` to the table and tells the dependents what it means for them; returns it,
   * to be recorded. Every change of an entry goes through here.
   */
  function apply(change: Change): Change {
    for (const { patch, to } of table.apply(change)) {
      for (const url of to) notifier.send(url, patch);
    }
    if ("remove" in change) health.remove(change.remove);
    return change;
  }

  /**
   * Journals `change` (made by `apply` in this same tick, so the journal keeps their order) and
   * moves the change index, whose blocking queries wake once it is durable; resolves then. The
   * index counts what is journaled: every change `apply` makes except a check that only moves
   * LastCheck, which would otherwise wake every watcher at every interval.
   */
  function record(change: Change): Promise<void> {
    const saved = store.record(change);
    changes.bump(saved);
    return saved;
  }

  function saveLater(change: Change): void {
    record(change).catch(() => {}); // the store logs failures
  }

  /**
   * Registers `reg`; returns the answer, the change to record, and the delivery of the initial
   * patch to its ServiceUpdateURL (settled within the patch timeout).
   */
  function register(reg: Registration): {
    initial: Patch;
    change: Change;
    delivered: Promise<boolean>;
  } {
    const previous = table.get(reg.ServiceURL);
    // A (re-)registration is alive by its own word: passing at once, checked at once.
    const change = apply({ put: rowOf(reg, "passing", previous?.LastCheck ?? null) });
    health.add(reg.ServiceURL, reg.HeartbeatURL, label(reg));
    const initial: Patch = { Added: [], Removed: [] };
    for (const name of reg.RequiredServices) initial.Added.push(...table.providers(name));
    // Started in this tick, so a change announced after this one cannot be overtaken by it.
    const delivered = notifier.deliver(reg.ServiceUpdateURL, initial, notifyTimeoutMs);
    stats.registrations.add(reg.ServiceName);
    log(`${previous ? "re-registered" : "registered"} ${reg.ServiceName} at ` +
      reg.ServiceURL);
    return { initial, change, delivered };
  }

  const label = (reg: Registration) => `${reg.ServiceName} at ${reg.ServiceURL}`;
  const authorize = bearerCheck(options.token, "registry");


  /**
   * Records `change` and resolves once it is durable. Call it in the same tick as the change,
   * so the journal has the changes in the order they happened.
   */
  async function durable(change: Change): Promise<void> {
    try {
      await record(change);
    } catch (error) {
      throw new HttpError(500, "registry: could not save the registry state", { cause: error });
    }
  }

  const router = createRouter(
    [
      {
        path: "/services",
        methods: {
          GET: createListHandler(table, changes),
          POST: async (req, res) => {
            authorize(req);
            const reg = parseRegistration(await readJSON(req, { limit: maxBodyBytes }));
            if (sameHost) checkSameHost(reg);
            if (closed) throw new HttpError(503, "registry: shutting down");
            const { initial, change, delivered } = register(reg);
            await durable(change);
            // A Go client reads its providers once, from the patch, right after this answer
            // (docs/protocol.md#wire-protocol): answer once the patch was delivered or failed.
            await delivered;
            sendJSON(res, 200, initial);
          },
          DELETE: async (req, res) => {
            authorize(req);
            const url = parseServiceURL(await readText(req, { limit: maxBodyBytes }));
            if (closed) throw new HttpError(503, "registry: shutting down");
            const row = table.get(url);
            if (!row) throw new HttpError(404, `registry: no service registered at ${url}`);
            const change = apply({ remove: url });
            stats.deregistered.add(row.ServiceName);
            log(`deregistered ${row.ServiceName} at ${url}`);
            await durable(change);
            res.writeHead(200, { "Content-Length": 0 });
            res.end();
          },
        },
      },
    ],
    { log },
  );

  for (const saved of await store.load()) {
    // Dependents heard of these before the restart: nothing to announce.
    table.apply({ put: saved });
    const critical = saved.Status === "critical";
    const state = critical ? criticalState(policy, performance.now()) : undefined;
    health.add(saved.ServiceURL, saved.HeartbeatURL, label(saved), state);
  }
  if (table.size > 0) log(`loaded ${table.size} registrations; checking them now`);

  return {
    handler: (req, res) => {
      if (closed) {
        sendError(res, new HttpError(503, "registry: shutting down"));
        return;
      }
      return router(req, res);
    },
    async close() {
      if (closed) return;
      closed = true;
      changes.close();
      health.close();
      notifier.close();
      await store.close().catch(() => {}); // the store logs why
    },
  };
}
