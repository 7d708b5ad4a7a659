import { setMaxListeners } from "node:events";
import type { Logger } from "../std/log.ts";
import { createCrashProbe, originOf } from "./crash-probe.ts";
import {
  decide,
  passingState,
  type HealthPolicy,
  type HealthState,
  type Outcome,
} from "./health-policy.ts";
import { checkHeartbeat } from "./heartbeat.ts";
import type { Status } from "./registration.ts";
import { createRunQueue } from "./run-queue.ts";
import { createHealthStats, type HealthStats } from "./stats.ts";
import { createTimerHeap } from "./timer-heap.ts";

/** Options of `createHealthChecker`; the times are those of docs/protocol.md#registry. */
export interface HealthOptions extends HealthPolicy {
  timeoutMs: number;
  /** Checks in flight at most. */
  concurrency: number;
  log: Logger;
  /** Wall-clock time, for the time of each check. */
  now: () => Date;
  /** Monotonic milliseconds that checks are scheduled on. Default `performance.now`. */
  clock?: () => number;
  /**
   * Called after each check of the entry `key`, and when a check of another entry on its
   * host:port was refused, with its status.
   */
  onCheck: (key: string, status: Status, checkedAt: Date) => void;
  /** Called when the entry `key` stayed critical for deregister-after; it is no longer checked. */
  onExpire: (key: string) => void;
  /** Where checks, their results and status changes are counted (for `GET /metrics`). */
  stats?: HealthStats;
}

/** The heartbeat checker of a registry. */
export interface HealthChecker {
  /**
   * Starts (or restarts, after a re-registration) checking the entry `key` at `heartbeatURL`
   * (`""`: not checked), with a check at once; `label` names it in log lines.
   */
  add(key: string, heartbeatURL: string, label: string, state?: HealthState): void;
  /** Stops checking `key`; a check in flight is ignored when it ends. */
  remove(key: string): void;
  /** Checks in flight. */
  readonly inFlight: number;
  /** Checks started so far. */
  readonly checks: number;
  /** Times an entry was put into the run queue so far (never twice while it waits). */
  readonly queued: number;
  /** Stops every timer, aborts the checks in flight and closes the pooled connections. */
  close(): void;
}

// Entries turned critical per turn of the event loop when their host:port refused.
const refusalSlice = 250;

interface Check {
  key: string;
  label: string;
  url: string;
  origin: string;
  state: HealthState;
  /** Outcomes settled so far: whoever saw this number knows whether one came since. */
  settled: number;
  /** Clock time the current or next check is due. */
  due: number;
  removed: boolean;
}

/**
 * Creates a heartbeat checker (docs/protocol.md#registry, README "Heartbeats"): every entry is
 * checked every interval; `failures` failed checks in a row make it critical, a refused
 * connection at once; critical for deregister-after, it is dropped. What each outcome means
 * is `decide` in `health-policy.ts`; this file runs the checks and acts on the decisions.
 *
 * For scale, checks come due on one timer heap (`timer-heap.ts`) and run from one queue with at
 * most `concurrency` in flight (`run-queue.ts`), each bounded by `timeoutMs`. For fast crash
 * detection, the connections are watched (`crash-probe.ts`): when an idle one closes we check
 * that host:port at once. A refused check there speaks for every passing entry on that
 * host:port: they all turn critical together, without a check each.
 */
export function createHealthChecker(options: HealthOptions): HealthChecker {
  const { timeoutMs, log, clock = () => performance.now() } = options;
  const stats = options.stats ?? createHealthStats();
  const checks = new Map<string, Check>();
  // host:port → the passing entries there, the ones a refusal or a closed connection concerns.
  const passingAt = new Map<string, Set<Check>>();
  const controller = new AbortController();
  // Every request in flight listens on it; thousands at once are expected, not a leak.
  setMaxListeners(0, controller.signal);
  const queue = createRunQueue<Check>(options.concurrency, run);
  const timers = createTimerHeap<Check>((check) => push(check, false), clock);
  const probe = createCrashProbe({
    maxSockets: options.concurrency,
    onClose: (origin) => {
      const first = passingAt.get(origin)?.values().next().value;
      if (!first) return;
      stats.crashDetections += 1;
      checkNow(first);
    },
  });
  let closed = false;

  /** Queues `check`, counting it when it was not waiting already. */
  function push(check: Check, urgent: boolean): void {
    const before = queue.queued;
    queue.push(check, urgent);
    stats.queued += queue.queued - before;
  }

  function checkNow(check: Check): void {
    timers.delete(check);
    push(check, true);
  }

  function checkLater(check: Check, delayMs: number): void {
    check.due = clock() + delayMs;
    queue.delete(check);
    timers.set(check, delayMs);
  }

  async function run(check: Check): Promise<void> {
    timers.delete(check);
    if (check.removed) return;
    check.due = Math.min(check.due, clock());
    const { outcome, detail } = await checkHeartbeat(check.url, {
      timeoutMs,
      signal: controller.signal,
      agent: probe.agentFor(check.url),
    });
    if (closed) return;
    stats.results[outcome] += 1;
    if (check.removed) return;
    settle(check, outcome, detail);
    if (outcome === "refused") refuseOrigin(check, detail);
  }

  /**
   * Nothing listens on `check`'s host:port: every passing entry there is down too. They leave
   * the passing set at once (a second refusal there finds none) and turn critical a slice per
   * turn of the event loop, so thousands on one host:port do not hold up requests; one log
   * line says it for all of them. One that answered meanwhile keeps its newer word.
   */
  function refuseOrigin(check: Check, detail: string): void {
    const others = passingAt.get(check.origin);
    if (!others) return;
    passingAt.delete(check.origin);
    const pending = [...others].map((other) => ({ other, settled: other.settled }));
    log(`health: ${pending.length} more ${pending.length === 1 ? "entry" : "entries"} at ` +
      `${check.origin} turn critical too: ${detail}`);
    const settleFrom = (from: number) => {
      for (const { other, settled } of pending.slice(from, from + refusalSlice)) {
        if (other.removed) continue;
        if (other.settled === settled) settle(other, "refused", detail, false);
        else if (other.state.status === "passing") setPassing(other, true);
      }
      const next = from + refusalSlice;
      if (next < pending.length) setImmediate(() => {
        if (!closed) settleFrom(next);
      });
    };
    settleFrom(0);
  }

  /** Acts on an outcome; `logged` false keeps a turn to critical out of the log (said once). */
  function settle(check: Check, outcome: Outcome, detail: string, logged = true): void {
    const previous = check.state;
    const { state, event, delayMs } = decide(options, previous, outcome, clock(), check.due);
    check.state = state;
    check.settled += 1;
    const { label } = check;
    if (event === "critical" || event === "recovered") stats.transitions[event] += 1;
    if (event === "failed") {
      log(`health: ${label}: check ${state.failures} of ${options.failures} failed: ${detail}`);
    } else if (event === "critical") {
      if (logged) log(`health: ${label} is critical: ${detail}`);
    } else if (event === "recovered") {
      log(`health: ${label} is passing again`);
    } else if (event === "expired") {
      log(`health: ${label} was critical for ${options.deregisterAfterMs} ms: deregistering`);
      drop(check);
      return options.onExpire(check.key);
    }
    if (state.status !== previous.status) setPassing(check, state.status === "passing");
    options.onCheck(check.key, state.status, options.now());
    checkLater(check, delayMs);
  }

  function setPassing(check: Check, passing: boolean): void {
    let set = passingAt.get(check.origin);
    if (passing) {
      if (!set) passingAt.set(check.origin, (set = new Set()));
      set.add(check);
    } else if (set?.delete(check) && set.size === 0) {
      passingAt.delete(check.origin);
    }
  }

  function drop(check: Check): void {
    check.removed = true;
    if (checks.get(check.key) === check) checks.delete(check.key);
    timers.delete(check);
    queue.delete(check);
    setPassing(check, false);
  }

  return {
    add(key, heartbeatURL, label, state = passingState()) {
      const existing = checks.get(key);
      if (existing) drop(existing);
      if (closed || heartbeatURL === "") return;
      const check: Check = { key, label, url: heartbeatURL, origin: originOf(heartbeatURL),
        state, settled: 0, due: clock(), removed: false };
      checks.set(key, check);
      if (state.status === "passing") setPassing(check, true);
      checkNow(check);
    },
    remove(key) {
      const check = checks.get(key);
      if (check) drop(check);
    },
    get inFlight() {
      return queue.running;
    },
    get checks() {
      return queue.started;
    },
    get queued() {
      return queue.queued;
    },
    close() {
      closed = true;
      controller.abort();
      queue.close();
      timers.close();
      passingAt.clear();
      checks.clear();
      probe.destroy();
    },
  };
}
