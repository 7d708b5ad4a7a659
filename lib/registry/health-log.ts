import type { Logger } from "../std/log.ts";

/** What a line of the health checker's log says happened to an entry. */
export type HealthNote = "failed" | "critical" | "recovered" | "expired";

/** Options of `createHealthLog`. */
export interface HealthLogOptions {
  log: Logger;
  /** Length of a window of counting. Default 1 s. */
  windowMs?: number;
  /** Lines of one kind printed in a window before the rest are only counted. Default 10. */
  burst?: number;
}

/** The health checker's log: a line per event, until a flood of them is only counted. */
export interface HealthLog {
  /**
   * Logs `text` (prefixed `health: `) about an entry at the host:port `origin`, or counts it
   * when `burst` lines of this kind were printed in this window already (or the last window
   * counted some: a flood stays counted until a window passes without it).
   */
  note(kind: HealthNote, origin: string, text: string): void;
  /** Logs what was counted and not said yet; later notes are logged as they come. */
  close(): void;
}

interface Tally {
  /** Lines of this kind the window may still print. */
  allowance: number;
  counted: number;
  origins: Set<string>;
  /** The first line counted, as an example. */
  first: string;
}

const plural = (n: number, one: string, many: string) =>
  `${n} ${n === 1 ? one : many}`;

// The summary of `n` counted notes at `m` host:ports.
const summaries: Readonly<Record<HealthNote, (n: number, m: string) => string>> = {
  failed: (n, m) => `${plural(n, "more failed check", "more failed checks")} at ${m}`,
  critical: (n, m) => `${plural(n, "more entry", "more entries")} at ${m} turned critical`,
  recovered: (n, m) => `${plural(n, "more entry", "more entries")} at ${m} passing again`,
  expired: (n, m) => `${plural(n, "more entry", "more entries")} at ${m} expired: deregistering`,
};

/**
 * Creates a health log writing to `log`. A host:port that dies with thousands of entries, or
 * thousands of host:ports that die at once, would otherwise print a line per entry — a burst
 * that costs more than the checks themselves (a write each, to a terminal or a pipe that
 * blocks when the reader lags) and buries everything else. So each kind of event prints its
 * first `burst` lines of a window as they come and then only counts, ending the window with
 * one line: "4 990 more entries at 4 990 host:ports turned critical (first: …)". A few events
 * are logged exactly as before; a flood of any size costs a few lines a second.
 */
export function createHealthLog(options: HealthLogOptions): HealthLog {
  const { log, windowMs = 1_000, burst = 10 } = options;
  const tallies = new Map<HealthNote, Tally>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const say = () => {
    for (const [kind, tally] of tallies) {
      if (tally.counted === 0) {
        // A quiet window: the next event of this kind is printed again.
        tallies.delete(kind);
        continue;
      }
      const where = plural(tally.origins.size, "host:port", "host:ports");
      log(`health: ${summaries[kind](tally.counted, where)} (first: ${tally.first})`);
      Object.assign(tally, { allowance: 0, counted: 0, origins: new Set(), first: "" });
    }
  };
  const windowEnds = () => {
    timer = undefined;
    say();
    if (tallies.size > 0) arm();
  };
  const arm = () => {
    timer = setTimeout(windowEnds, windowMs);
    timer.unref();
  };

  return {
    note(kind, origin, text) {
      if (closed) return log(`health: ${text}`);
      let tally = tallies.get(kind);
      if (!tally) {
        tally = { allowance: burst, counted: 0, origins: new Set(), first: "" };
        tallies.set(kind, tally);
      }
      if (timer === undefined) arm();
      if (tally.allowance > 0) {
        tally.allowance -= 1;
        return log(`health: ${text}`);
      }
      if (tally.counted === 0) tally.first = text;
      tally.counted += 1;
      tally.origins.add(origin);
    },
    close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      say();
      tallies.clear();
    },
  };
}
