import type { Metrics } from "../std/metrics.ts";

/** What the sink tells its metrics: per round and per fdatasync, never per entry. */
export interface SinkCounters {
  /** A round of `entries` lines, `bytes` long, became durable. */
  durable(entries: number, bytes: number): void;
  /** An fdatasync took `ms` milliseconds (failed ones too: a slow disk shows either way). */
  synced(ms: number): void;
  /** The file was rotated. */
  rotated(): void;
}

// fdatasync times in seconds: 50 µs (page cache only) to 1 s (a disk in trouble).
const syncBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
  0.1, 0.25, 1];

/**
 * Registers the log file's figures in `metrics` — `log_entries_total`, `log_bytes_total`,
 * `log_group_commits_total`, `log_fdatasync_duration_seconds` and `log_rotations_total` — and
 * returns what the sink calls to move them; without `metrics`, calls that do nothing. Throws
 * when `metrics` has one of these names already.
 */
export function sinkMetrics(metrics: Metrics | undefined): SinkCounters {
  if (!metrics) return { durable: () => {}, synced: () => {}, rotated: () => {} };
  const entries = metrics.counter("log_entries_total",
    "Log entries written and fdatasynced.").with({});
  const bytes = metrics.counter("log_bytes_total",
    "Bytes of log entries written and fdatasynced.").with({});
  const rounds = metrics.counter("log_group_commits_total",
    "Group-commit rounds acknowledged: one write and one fdatasync for the entries gathered.")
    .with({});
  const syncs = metrics.histogram("log_fdatasync_duration_seconds",
    "Time one fdatasync of the log file took, in seconds.", syncBuckets).with({});
  const rotations = metrics.counter("log_rotations_total", "Times the log file was rotated.")
    .with({});
  return {
    durable(count, length) {
      entries.inc(count);
      bytes.inc(length);
      rounds.inc();
    },
    synced: (ms) => syncs.observe(ms / 1_000),
    rotated: () => rotations.inc(),
  };
}
