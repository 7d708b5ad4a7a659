import { setMaxListeners } from "node:events";
import { EtcdUnavailableError, type EtcdClient } from "../etcd/client.ts";
import { runForLeader } from "../etcd/election.ts";
import { describeError, UnavailableError } from "../std/errors.ts";
import type { Logger } from "../std/log.ts";
import type { HealthOptions } from "./health.ts";
import { sameRegistration, startTerm, type LeaderTerm } from "./leader.ts";
import { openMirror, type Mirror, type StoredRow } from "./mirror.ts";
import type { Notifier } from "./notify.ts";
import { clusterKeys, keepPresence, listReplicas } from "./presence.ts";
import type { Registration, ReplicaInfo, ServiceStatus } from "./registration.ts";
import { writeRow } from "./rowwrite.ts";
import type { RegistryStats } from "./stats.ts";
import { rowOf, type Table } from "./table.ts";

/** Options of `joinCluster`. */
export interface ClusterOptions {
  client: EtcdClient;
  /** Key prefix of this cluster in etcd, ending in `/`. */
  prefix: string;
  /** This replica's URL, as the leader election and `GET /cluster` show it. */
  selfURL: string;
  /** TTL of the leader's lease: how long a dead leader blocks the next one at most. */
  electionTTLSeconds: number;
  table: Table;
  notifier: Notifier;
  health: Omit<HealthOptions, "onCheck" | "onExpire">;
  log: Logger;
  /** Aborting it gives up the first read of etcd (`joinCluster` rejects). */
  signal?: AbortSignal;
  /** Called after each change the table took from etcd (blocking queries wake on it). */
  onChange?: () => void;
  /** Where the leader's checks, deliveries and expiries are counted. */
  stats: RegistryStats;
}

/** One replica's part of a registry cluster: the store behind its handlers. */
export interface ClusterReplica {
  /**
   * Writes a registration; resolves once etcd committed it and this replica's table has it.
   * Rejects with `UnavailableError` (answered 503) when etcd did not confirm it, or when
   * `signal` aborted first (the client left, or its time ran out): no further attempt then.
   */
  register(reg: Registration, signal: AbortSignal): Promise<{ previous: StoredRow | undefined }>;
  /** Deletes a registration; resolves with the row it removed, if any. Rejects like `register`. */
  deregister(url: string, signal: AbortSignal): Promise<ServiceStatus | undefined>;
  /**
   * Brings the table up to every change committed anywhere before the call; resolves with
   * `undefined`, or with why it could not (the table then holds the last state it knew).
   */
  sync(): Promise<string | undefined>;
  /** The live replicas and the leader. Rejects with `UnavailableError`. */
  replicas(): Promise<ReplicaInfo[]>;
  /** Stops following etcd, resigns a leadership and leaves the replica list. */
  close(): Promise<void>;
  /** Whether this replica leads now (checks heartbeats and delivers patches). */
  readonly leading: boolean;
}

/** Turns an etcd failure (or running out of time) into the `503` a client may retry. */
function unavailable(error: unknown, what: string, signal: AbortSignal): unknown {
  const timedOut = signal.aborted;
  if (!(error instanceof EtcdUnavailableError) && !timedOut) return error;
  const outcome = timedOut || (error instanceof EtcdUnavailableError && error.unknownOutcome)
    ? "etcd did not confirm it in time, so it may still take effect; retrying is safe"
    : "nothing was changed";
  return new UnavailableError(`registry: ${what} failed: etcd is unavailable (${outcome})`,
    { cause: error });
}

/**
 * Joins a registry cluster on etcd (README "Running a registry cluster"): mirrors every
 * registration row into `table`, runs for leader (the leader checks heartbeats and delivers
 * patches, see `lead`), and keeps this replica in the replica list. Resolves once the first
 * read of the rows is done; while etcd cannot be reached it says so once and keeps trying.
 */
export async function joinCluster(options: ClusterOptions): Promise<ClusterReplica> {
  const { client, table, log } = options;
  const keys = clusterKeys(options.prefix);
  const stop = new AbortController();
  // Every waiting read and change listens on it: many at once are expected, not a leak.
  setMaxListeners(0, stop.signal);
  let term: LeaderTerm | undefined;
  // When the last barrier failed: reads answer at once from the table until a second passed.
  let failedAt = -Infinity;
  let failure = "";
  const syncTimeoutMs = 1_000;

  const giveUp = () => stop.abort();
  options.signal?.addEventListener("abort", giveUp, { once: true });
  const mirror: Mirror = await openMirror({
    client,
    prefix: keys.services,
    log,
    signal: stop.signal,
    onChange(url, before, after) {
      // Every replica's table follows etcd; only the leader's deliveries reach anyone, and
      // those come from its own replay (see `runDelivery`), so these are dropped.
      table.apply(after ? { put: after.row } : { remove: url });
      term?.onRow(url, before?.row, after?.row);
      // A new LastCheck alone is no change to the list, as for the single registry.
      const checked = before && after && before.row.Status === after.row.Status &&
        sameRegistration(before.row, after.row);
      if (!checked) options.onChange?.();
    },
  }).finally(() => options.signal?.removeEventListener("abort", giveUp));

  const presence = keepPresence(client, {
    keys, url: options.selfURL, ttlSeconds: options.electionTTLSeconds, log, signal: stop.signal,
  });
  const candidacy = runForLeader(client, {
    name: keys.election,
    value: options.selfURL,
    ttlSeconds: options.electionTTLSeconds,
    log,
    signal: stop.signal,
    lead: async (leadership) => {
      const current = startTerm({
        client, keys, mirror, table, notifier: options.notifier, health: options.health, log,
        stats: options.stats,
      }, leadership);
      term = current;
      try {
        await current.done;
      } finally {
        term = undefined;
      }
    },
  });

  return {
    async register(reg, signal) {
      try {
        const written = await writeRow(client, {
          key: `${keys.services}${reg.ServiceURL}`,
          current: mirror.get(reg.ServiceURL),
          signal,
          // Alive by its own word: passing at once; the time of the last check is kept.
          decide: (current) => rowOf(reg, "passing", current?.row.LastCheck ?? null),
        });
        // The answer's initial patch is read from the table: it must hold this write.
        await mirror.reach(written.revision, syncTimeoutMs).catch(() => {});
        return { previous: written.before };
      } catch (error) {
        throw unavailable(error, `registering ${reg.ServiceURL}`, signal);
      }
    },
    async deregister(url, signal) {
      try {
        const written = await writeRow(client, {
          key: `${keys.services}${url}`,
          current: mirror.get(url),
          signal,
          decide: () => undefined,
        });
        if (written.written) await mirror.reach(written.revision, syncTimeoutMs).catch(() => {});
        return written.before?.row;
      } catch (error) {
        throw unavailable(error, `deregistering ${url}`, signal);
      }
    },
    async sync() {
      if (performance.now() - failedAt < 1_000) return failure;
      try {
        await mirror.sync(syncTimeoutMs);
        return undefined;
      } catch (error) {
        failedAt = performance.now();
        log(`reads answer from the last known state: ${describeError(error)}`);
        failure = `etcd is unavailable; this is the state as of revision ${mirror.revision}`;
        return failure;
      }
    },
    async replicas() {
      try {
        return await listReplicas(client, keys, { serializable: true, timeoutMs: 1_000 });
      } catch (error) {
        throw unavailable(error, "listing the replicas", stop.signal);
      }
    },
    async close() {
      stop.abort();
      await Promise.all([candidacy, presence]);
    },
    get leading() {
      return term !== undefined;
    },
  };
}
