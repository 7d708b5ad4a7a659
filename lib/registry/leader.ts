import type { EtcdClient } from "../etcd/client.ts";
import type { Term } from "../etcd/election.ts";
import type { Compare } from "../etcd/kv.ts";
import { describeError } from "../std/errors.ts";
import type { Logger } from "../std/log.ts";
import { runDelivery } from "./delivery.ts";
import { createHealthChecker, type HealthOptions } from "./health.ts";
import { criticalState } from "./health-policy.ts";
import type { Mirror } from "./mirror.ts";
import type { Notifier } from "./notify.ts";
import type { ClusterKeys } from "./presence.ts";
import type { Registration, ServiceStatus, Status } from "./registration.ts";
import { FenceError, writeRow } from "./rowwrite.ts";
import type { RegistryStats } from "./stats.ts";
import type { Table } from "./table.ts";

/** What a leader's term works with. */
export interface LeaderContext {
  client: EtcdClient;
  keys: ClusterKeys;
  mirror: Mirror;
  /** The mirror's table: every row as etcd holds it. */
  table: Table;
  notifier: Notifier;
  /** Where the term's checks and expiries are counted (the replica's, across its terms). */
  stats: RegistryStats;
  /** The checker's timings; its callbacks are the leader's. */
  health: Omit<HealthOptions, "onCheck" | "onExpire">;
  /** A row's LastCheck is written again when it is older than this. Default 10 intervals. */
  lastCheckEveryMs?: number;
  log: Logger;
}

/** A term in office, told about every change of a row the mirror applies. */
export interface LeaderTerm {
  /** A row changed in etcd: a new or changed registration is checked at once. */
  onRow(url: string, before: ServiceStatus | undefined, after: ServiceStatus | undefined): void;
  /** Resolves when the term has ended and its checks and deliveries stopped. */
  done: Promise<void>;
}

/** Whether two rows hold the same registration (health aside). */
export function sameRegistration(a: Registration, b: Registration): boolean {
  return a.ServiceName === b.ServiceName && a.ServiceURL === b.ServiceURL &&
    a.ServiceUpdateURL === b.ServiceUpdateURL && a.HeartbeatURL === b.HeartbeatURL &&
    a.RequiredServices.length === b.RequiredServices.length &&
    a.RequiredServices.every((name, i) => b.RequiredServices[i] === name);
}

/**
 * Starts one term of office (README "Running a registry cluster"): checks every registration
 * at once and then every interval, writes each status change (and, now and then, the time of
 * the last check) to etcd guarded by the term, and delivers the patches of every change from
 * the last checkpoint on. The term ends when its signal aborts or a guarded write finds the
 * leadership gone.
 */
export function startTerm(context: LeaderContext, term: Term): LeaderTerm {
  const { client, keys, mirror, table, notifier, log } = context;
  const policy = context.health;
  const refreshMs = context.lastCheckEveryMs ?? 10 * policy.intervalMs;
  const fence: Compare = {
    key: term.leader.key, target: "CREATE", result: "EQUAL", revision: term.leader.revision,
  };
  const ended = new AbortController();
  const signal = AbortSignal.any([term.signal, ended.signal]);
  // The statuses this term wrote and has not seen come back yet.
  const writing = new Map<string, Status>();

  /** Writes the checker's verdict on `url` (`undefined`: drop it), unless its row moved. */
  function record(url: string, next: (row: ServiceStatus) => ServiceStatus | undefined): void {
    const belief = mirror.get(url);
    if (!belief) return;
    const wanted = next(belief.row);
    if (wanted) writing.set(url, wanted.Status);
    writeRow(client, {
      key: `${keys.services}${url}`,
      current: belief,
      fence,
      signal,
      // Changed by a registration meanwhile: it is alive by its own word; it wins.
      decide: (current) => (current?.revision === belief.revision ? wanted : null),
    }).catch((error: unknown) => {
      writing.delete(url);
      if (error instanceof FenceError) ended.abort(error);
      else if (!signal.aborted) log(`recording ${url} failed: ${describeError(error)}`);
    });
  }

  const checker = createHealthChecker({
    ...policy,
    stats: context.stats.health,
    onCheck: (key, status, checkedAt) => {
      const row = table.get(key);
      if (!row) return;
      const last = row.LastCheck === null ? 0 : Date.parse(row.LastCheck);
      // A new status must be written; the time of a check only now and then.
      if (status === row.Status && checkedAt.getTime() - last < refreshMs) return;
      const lastCheck = checkedAt.toISOString();
      record(key, (current) => ({ ...current, Status: status, LastCheck: lastCheck }));
    },
    onExpire: (key) => {
      const row = table.get(key);
      if (row) context.stats.expired.add(row.ServiceName);
      record(key, () => undefined);
    },
  });
  const check = (row: ServiceStatus) => {
    const state = row.Status === "critical" ? criticalState(policy, performance.now()) : undefined;
    const label = `${row.ServiceName} at ${row.ServiceURL}`;
    checker.add(row.ServiceURL, row.HeartbeatURL, label, state);
  };
  let count = 0;
  // The previous leader's count of failures is gone: critical ones count from now.
  for (const row of table.rows()) {
    check(row);
    count += 1;
  }
  log(`leading; checking ${count} registrations now`);

  const done = runDelivery({
    client,
    prefix: keys.services,
    checkpointKey: keys.delivered,
    fence,
    signal,
    log,
    deliver: async (deliveries) => {
      const sends: Promise<void>[] = [];
      for (const { patch, to } of deliveries) {
        for (const url of to) sends.push(notifier.sent(url, patch));
      }
      await Promise.all(sends);
    },
  }).catch((error: unknown) => {
    if (!term.signal.aborted) log(`leading stopped: ${describeError(error)}`);
  }).finally(() => {
    ended.abort();
    checker.close();
  });

  return {
    onRow(url, before, after) {
      if (signal.aborted) return;
      if (!after) {
        checker.remove(url);
        return;
      }
      const ours = writing.get(url) === after.Status;
      if (ours) writing.delete(url);
      const moved = !before || !sameRegistration(before, after) ||
        (before.Status !== after.Status && !ours);
      if (moved) check(after);
    },
    done,
  };
}
