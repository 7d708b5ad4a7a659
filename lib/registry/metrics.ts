import { latencyBuckets, type Labels, type Metrics } from "../std/metrics.ts";
import type { Notifier } from "./notify.ts";
import type { NameCounts, RegistryStats } from "./stats.ts";
import type { Table } from "./table.ts";

/** What a registry's metrics are read from. */
export interface RegistrySources {
  stats: RegistryStats;
  table: Table;
  notifier: Notifier;
  /** The single registry's state files (a replica's state is in etcd: none). */
  store?: { readonly fsyncs: number; readonly compactions: number };
  /** A replica of a registry cluster: whether it leads now. */
  leading?: () => boolean;
}

type Series = ReadonlyArray<readonly [Labels, number]>;

/**
 * Registers the registry's figures in `metrics` (docs/protocol.md#metrics). Every one is read
 * when `/metrics` is rendered, from counts the registry keeps anyway: nothing is added to the
 * handling of a registration or a check beyond bumping a number.
 */
export function addRegistryMetrics(metrics: Metrics, sources: RegistrySources): void {
  const { stats, table, notifier } = sources;
  const { health, delivery } = stats;
  metrics.collect("registry_entries", "Registered entries, by health status.", "gauge", () =>
    (["passing", "critical"] as const).map((status) => [{ status }, table.count(status)]));
  metrics.collect("registry_services", "Registered entries, by ServiceName and health status.",
    "gauge", () => servicesByStatus(table));
  metrics.collect("registry_registrations_total",
    "Registrations accepted (re-registrations too), by ServiceName.", "counter",
    () => byName(stats.registrations, {}));
  metrics.collect("registry_deregistrations_total",
    "Entries removed, by ServiceName and reason: deregistered (DELETE /services) or expired " +
    "(critical for longer than deregister-after).", "counter",
    () => [
      ...byName(stats.deregistered, { reason: "deregistered" }),
      ...byName(stats.expired, { reason: "expired" }),
    ]);
  metrics.collect("registry_health_checks_total",
    "Heartbeat checks finished, by result: pass (2xx), fail (another status, a timeout), " +
    "refused (nothing listens there) or reset (the connection broke).", "counter",
    () => Object.entries(health.results).map(([result, count]) => [{ result }, count]));
  metrics.collect("registry_health_queued_total",
    "Entries put into the heartbeat check queue (never one that waits there already).",
    "counter", () => health.queued);
  metrics.collect("registry_health_transitions_total",
    "Status changes of entries, by the status they changed to.", "counter",
    () => [
      [{ to: "critical" }, health.transitions.critical],
      [{ to: "passing" }, health.transitions.recovered],
    ]);
  metrics.collect("registry_crash_detections_total",
    "Idle heartbeat connections closed by the service's side (as when its process dies), " +
    "each answered by a check of that host:port at once.", "counter",
    () => health.crashDetections);
  metrics.collect("registry_patches_sent_total",
    "Patch POSTs to dependents answered 2xx.", "counter", () => delivery.sent);
  metrics.collect("registry_patch_failures_total",
    "Patch POSTs to dependents that failed (an error, a timeout or a status other than 2xx).",
    "counter", () => delivery.failed);
  metrics.collect("registry_patch_retries_total",
    "Failed patch POSTs tried again after a backoff.", "counter", () => delivery.retried);
  metrics.collect("registry_patches_given_up_total",
    "Patches given up after their retries; the dependent rests before the next one.",
    "counter", () => delivery.givenUp);
  metrics.collect("registry_patch_queue_changes",
    "Provider changes waiting for or in a patch POST, over all dependents.", "gauge",
    () => notifier.queued);
  metrics.collect("registry_patch_queue_dependents",
    "Dependents with a patch waiting or in flight, or resting after one was given up.",
    "gauge", () => notifier.busy);
  const { store, leading } = sources;
  if (store) {
    metrics.collect("registry_journal_fsyncs_total",
      "fdatasyncs of the state journal (changes that arrive together share one).", "counter",
      () => store.fsyncs);
    metrics.collect("registry_snapshots_total",
      "Snapshots of the state written to fold the journal.", "counter",
      () => store.compactions);
  }
  if (leading) {
    metrics.collect("registry_leader",
      "1 while this replica leads the registry cluster (checks heartbeats, sends patches).",
      "gauge", () => (leading() ? 1 : 0));
  }
}

/**
 * Registers the histogram of the state journal's fdatasync times and returns what to call
 * after each one.
 */
export function addJournalTiming(metrics: Metrics): (seconds: number) => void {
  const histogram = metrics.histogram("registry_journal_fsync_duration_seconds",
    "Time of one fdatasync of the state journal, in seconds.", latencyBuckets);
  return (seconds) => histogram.observe(seconds);
}

function byName(counts: NameCounts, labels: Labels): Series {
  return [...counts.entries()].map(([service, count]) => [{ ...labels, service }, count]);
}

function servicesByStatus(table: Table): Series {
  const counts = new Map<string, { passing: number; critical: number }>();
  for (const row of table.rows()) {
    let count = counts.get(row.ServiceName);
    if (!count) counts.set(row.ServiceName, (count = { passing: 0, critical: 0 }));
    count[row.Status] += 1;
  }
  const out: [Labels, number][] = [];
  for (const [service, { passing, critical }] of counts) {
    out.push([{ service, status: "passing" }, passing]);
    out.push([{ service, status: "critical" }, critical]);
  }
  return out;
}
