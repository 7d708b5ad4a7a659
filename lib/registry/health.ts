import { setMaxListeners } from "node:events";
import type { Logger } from "../std/log.ts";
import { createCrashProbe } from "./crash-probe.ts";
import {
  decide,
  passingState,
  type HealthPolicy,
  type HealthState,
  type Outcome,
} from "./health-policy.ts";
import { createHealthLog } from "./health-log.ts";
import { checkHeartbeat } from "./heartbeat.ts";
import { probeOrigin } from "./origin-probe.ts";
import { createOrigins, nextStep, type Look, type Origin } from "./origins.ts";
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
  /** Checks started so far (one settled by what is known of its host:port counts too). */
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
  origin: Origin<Check>;
  state: HealthState;
  /** Outcomes settled so far: whoever saw this number knows whether one came since. */
  settled: number;
  /** Clock time the current or next check is due. */
  due: number;
  removed: boolean;
  /** Its number among the entries added: a look at its host:port started later speaks for it. */
  added: number;
}

/**
 * Creates a heartbeat checker (docs/protocol.md#registry, README "Heartbeats"): every entry is
 * checked every interval; `failures` failed checks in a row make it critical, a refused
 * connection at once; critical for deregister-after, it is dropped. What each outcome means
 * is `decide` in `health-policy.ts`; this file runs the checks and acts on the decisions.
 *
 * For scale, checks come due on one timer heap (`timer-heap.ts`) and run from one queue with at
 * most `concurrency` in flight and a bounded number started per turn of the event loop
 * (`run-queue.ts`), each bounded by `timeoutMs`. For fast crash detection, the connections are
 * watched (`crash-probe.ts`): when an idle one closes, a passing entry there is checked at
 * once, looking first whether anything still listens.
 *
 * A dead host:port costs a look, not a check per entry (`origins.ts` keeps what is known of
 * each). A refusal there speaks for every entry added before the look started: the passing
 * ones all turn critical together, a slice per turn. While it is known dead its entries are
 * not checked one by one: a critical one that comes due within an interval of the last
 * refusal stays critical on that word; any other (a new registration, or a refusal grown old)
 * joins a look in progress that started after it was added, or looks itself, by a bare TCP
 * connection (`origin-probe.ts`). Refused: critical. Anything else: the host:port listens
 * again, and each is checked as usual. The log says a flood of these in a few lines
 * (`health-log.ts`).
 */
export function createHealthChecker(options: HealthOptions): HealthChecker {
  const { timeoutMs, clock = () => performance.now() } = options;
  const stats = options.stats ?? createHealthStats();
  const checks = new Map<string, Check>();
  const origins = createOrigins<Check>();
  const controller = new AbortController();
  // Every request in flight listens on it; thousands at once are expected, not a leak.
  setMaxListeners(0, controller.signal);
  const queue = createRunQueue<Check>(options.concurrency, run);
  const timers = createTimerHeap<Check>((check) => push(check, false), clock);
  const probe = createCrashProbe({
    maxSockets: options.concurrency,
    onClose: (key) => {
      const origin = origins.get(key);
      const first = origin?.passing.values().next().value;
      if (!origin || !first) return;
      stats.crashDetections += 1;
      origin.suspect = true;
      checkNow(first);
    },
  });
  const healthLog = createHealthLog({ log: options.log });
  let adds = 0;
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
    const { origin } = check;
    check.due = Math.min(check.due, clock());
    const critical = check.state.status === "critical";
    const step = nextStep(origin, { critical, added: check.added }, clock(), options.intervalMs);
    if (step === "refused") return settle(check, "refused", origin.detail);
    if (step === "join") return void origin.looking?.waiting.add(check);
    if (step === "look" && (!(await look(origin, check)) || closed || check.removed)) return;
    const looked = adds;
    const started = clock();
    const { outcome, detail } = await checkHeartbeat(check.url, {
      timeoutMs,
      signal: controller.signal,
      agent: probe.agentFor(check.url),
    });
    if (closed) return;
    stats.results[outcome] += 1;
    if (check.removed) return;
    settle(check, outcome, detail);
    if (outcome === "refused") refused(origin, looked, started, detail, []);
  }

  /**
   * Looks whether anything listens at `origin` for `check` and whoever joins it meanwhile;
   * true when something does (or a look cannot tell): then `check` is checked as usual and the
   * others are queued for their checks. When refused, every one of them is critical.
   */
  async function look(origin: Origin<Check>, check: Check): Promise<boolean> {
    const task: Look<Check> = { looked: adds, waiting: new Set([check]) };
    origin.looking = task;
    const started = clock();
    const { outcome, detail } = await probeOrigin(origin.host, origin.port,
      { timeoutMs, signal: controller.signal });
    if (origin.looking === task) origin.looking = undefined;
    if (closed) return false;
    if (outcome === "refused") {
      // Counted as the refused check of `check`: the others waiting were not checked.
      stats.results.refused += 1;
      refused(origin, task.looked, started, detail, task.waiting);
      return false;
    }
    origin.suspect = false;
    if (origin.refusedAt !== undefined && origin.refusedAt <= started) {
      origin.refusedAt = undefined;
    }
    for (const other of task.waiting) if (other !== check && !other.removed) checkNow(other);
    return true;
  }

  /**
   * Nothing listened at `origin` when a look that started at clock time `started` (with `looked`
   * entries added so far) was made: the entries `waiting` for it and every passing entry added
   * before it turn critical. They leave the passing set at once (a second refusal finds none)
   * and turn critical a slice per turn of the event loop, so thousands on one host:port do not
   * hold up requests. One that answered meanwhile keeps its newer word.
   */
  function refused(origin: Origin<Check>, looked: number, started: number, detail: string,
    waiting: Iterable<Check>): void {
    origin.refusedAt = Math.max(origin.refusedAt ?? started, started);
    origin.detail = detail;
    origin.suspect = false;
    const pending = new Map<Check, number>();
    for (const check of waiting) pending.set(check, check.settled);
    for (const other of origin.passing) {
      if (other.added > looked) continue;
      origin.passing.delete(other);
      pending.set(other, other.settled);
    }
    const list = [...pending];
    const settleFrom = (from: number) => {
      for (const [other, settled] of list.slice(from, from + refusalSlice)) {
        if (other.removed) continue;
        if (other.settled === settled) settle(other, "refused", detail);
        else if (other.state.status === "passing") setPassing(other, true);
      }
      const next = from + refusalSlice;
      if (next < list.length) setImmediate(() => {
        if (!closed) settleFrom(next);
      });
    };
    settleFrom(0);
  }

  /** Acts on an outcome. */
  function settle(check: Check, outcome: Outcome, detail: string): void {
    const previous = check.state;
    const { state, event, delayMs } = decide(options, previous, outcome, clock(), check.due);
    check.state = state;
    check.settled += 1;
    const { label, origin: { key: origin } } = check;
    if (event === "critical" || event === "recovered") stats.transitions[event] += 1;
    if (event === "failed") {
      healthLog.note(event, origin,
        `${label}: check ${state.failures} of ${options.failures} failed: ${detail}`);
    } else if (event === "critical") {
      healthLog.note(event, origin, `${label} is critical: ${detail}`);
    } else if (event === "recovered") {
      healthLog.note(event, origin, `${label} is passing again`);
    } else if (event === "expired") {
      healthLog.note(event, origin,
        `${label} was critical for ${options.deregisterAfterMs} ms: deregistering`);
      drop(check);
      return options.onExpire(check.key);
    }
    if (state.status !== previous.status) setPassing(check, state.status === "passing");
    if (outcome === "pass" && check.origin.refusedAt !== undefined) {
      check.origin.refusedAt = undefined;
    }
    options.onCheck(check.key, state.status, options.now());
    checkLater(check, delayMs);
  }

  function setPassing(check: Check, passing: boolean): void {
    if (passing) check.origin.passing.add(check);
    else check.origin.passing.delete(check);
  }

  function drop(check: Check): void {
    check.removed = true;
    if (checks.get(check.key) === check) checks.delete(check.key);
    timers.delete(check);
    queue.delete(check);
    setPassing(check, false);
    origins.leave(check.origin);
  }

  return {
    add(key, heartbeatURL, label, state = passingState()) {
      const existing = checks.get(key);
      if (existing) drop(existing);
      if (closed || heartbeatURL === "") return;
      const origin = origins.enter(heartbeatURL);
      const check: Check = { key, label, url: heartbeatURL, origin, state, settled: 0,
        due: clock(), removed: false, added: ++adds };
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
      origins.clear();
      checks.clear();
      probe.destroy();
      healthLog.close();
    },
  };
}
