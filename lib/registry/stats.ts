import type { Outcome } from "./health-policy.ts";

/**
 * What the heartbeat checker counts as it works: plain numbers bumped where things happen, read
 * only when `GET /metrics` is rendered. One object outlives the checkers of a replica's
 * successive terms as leader, so its counts never go back.
 */
export interface HealthStats {
  /** Times an entry entered the run queue (never twice while it waits there). */
  queued: number;
  /** Finished checks by how they ended. */
  results: Record<Outcome, number>;
  /** Status changes: passing → critical, critical → passing (`recovered`). */
  transitions: { critical: number; recovered: number };
  /** Idle heartbeat connections the service's side closed, each answered by a check at once. */
  crashDetections: number;
}

/** What the notifier counts about patch POSTs to dependents. */
export interface DeliveryStats {
  /** POSTs answered 2xx. */
  sent: number;
  /** POSTs that failed: an error, a timeout or a status other than 2xx. */
  failed: number;
  /** Failed POSTs tried again after a backoff. */
  retried: number;
  /** Patches given up after their retries (the dependent's re-registration repairs it). */
  givenUp: number;
}

/** Creates zeroed health counts. */
export function createHealthStats(): HealthStats {
  return {
    queued: 0,
    results: { pass: 0, fail: 0, refused: 0, reset: 0 },
    transitions: { critical: 0, recovered: 0 },
    crashDetections: 0,
  };
}

/** Creates zeroed delivery counts. */
export function createDeliveryStats(): DeliveryStats {
  return { sent: 0, failed: 0, retried: 0, givenUp: 0 };
}

/** How many service names get a series of their own; later ones share one (label `""`). */
const maxNamedServices = 1_000;

/**
 * Counts per ServiceName, bounded: past `maxNamedServices` distinct names every new one is
 * counted under `""` (no ServiceName is empty), so clients that invent names cannot make the
 * metrics grow without bound.
 */
export interface NameCounts {
  /** Adds one to `name`'s count. */
  add(name: string): void;
  /** Every name's count. */
  entries(): Iterable<[string, number]>;
}

/** Creates an empty `NameCounts`. */
function createNameCounts(): NameCounts {
  const counts = new Map<string, number>();
  return {
    add(name) {
      const key = counts.has(name) || counts.size < maxNamedServices ? name : "";
      counts.set(key, (counts.get(key) ?? 0) + 1);
    },
    entries: () => counts.entries(),
  };
}

/** Everything a registry counts for its metrics. */
export interface RegistryStats {
  health: HealthStats;
  delivery: DeliveryStats;
  /** Registrations taken (re-registrations included), by ServiceName. */
  registrations: NameCounts;
  /** Entries removed by a `DELETE`, by ServiceName. */
  deregistered: NameCounts;
  /** Entries removed because they stayed critical for deregister-after, by ServiceName. */
  expired: NameCounts;
}

/** Creates zeroed registry counts. */
export function createRegistryStats(): RegistryStats {
  return {
    health: createHealthStats(),
    delivery: createDeliveryStats(),
    registrations: createNameCounts(),
    deregistered: createNameCounts(),
    expired: createNameCounts(),
  };
}
