import type { Status } from "./registration.ts";

/**
 * How one heartbeat check ended: `pass` (any 2xx), `refused` (nothing listens on that
 * host:port), `reset` (the connection broke mid-exchange, as when the process is being
 * killed) or `fail` (anything else: another status, a timeout, an unknown host).
 */
export type Outcome = "pass" | "fail" | "refused" | "reset";

/** The health of one registration between two checks. */
export interface HealthState {
  status: Status;
  /** Consecutive failed checks. */
  failures: number;
  /** Clock time when it turned critical; 0 while passing. */
  criticalSince: number;
  /** The retry now pending is the quick one after a reset connection. */
  quickRetry: boolean;
}

/** The rule's numbers (docs/protocol.md#registry). */
export interface HealthPolicy {
  intervalMs: number;
  /** Consecutive failures that make an entry critical. */
  failures: number;
  retryDelayMs: number;
  deregisterAfterMs: number;
}

/**
 * What a check's outcome changed: `recovered` (critical → passing), `failed` (a failure below
 * the threshold), `critical` (passing → critical), `expired` (critical for deregister-after:
 * drop it) or `none`.
 */
export type HealthEvent = "none" | "recovered" | "failed" | "critical" | "expired";

/** The next state, what happened, and when to check next. */
export interface Decision {
  state: HealthState;
  event: HealthEvent;
  /** Wait from now until the next check (meaningless when `expired`). */
  delayMs: number;
}

/** A look again this soon after a reset connection, once in a row. */
const quickRetryMs = 20;

/** The state of a new or re-registered entry: alive by its own word. */
export function passingState(): HealthState {
  return { status: "passing", failures: 0, criticalSince: 0, quickRetry: false };
}

/** The state of an entry loaded as critical at clock time `now`. */
export function criticalState(policy: HealthPolicy, now: number): HealthState {
  return { status: "critical", failures: policy.failures, criticalSince: now, quickRetry: false };
}

/**
 * Decides what a check's `outcome` means for an entry in `state` (docs/protocol.md#registry),
 * at clock time `now` for a check that was due at `due`. Pure: no I/O, no clock of its own;
 * the state it returns is `state` itself when nothing changed.
 *
 * - A pass clears the failures (a critical entry recovers); the next check is due an interval
 *   after this one was due, so slow answers or a busy queue do not stretch the period.
 * - A failure is retried after the retry delay; `failures` in a row make the entry critical.
 * - A refused connection is definitive (nothing listens there, as Consul's TCP check treats
 *   it): critical at once.
 * - A reset connection is retried almost at once, once in a row: a killed process's
 *   connections can be reset a moment before its listening socket is gone, and then the
 *   look again is refused.
 * - A critical entry is checked every interval, and expires after deregister-after.
 */
export function decide(
  policy: HealthPolicy,
  state: HealthState,
  outcome: Outcome,
  now: number,
  due: number,
): Decision {
  if (outcome === "pass") {
    // The usual case, a pass that changes nothing, keeps the state object: nothing to allocate.
    const unchanged = state.status === "passing" && state.failures === 0 && !state.quickRetry;
    const next = unchanged ? state : passingState();
    const delayMs = Math.max(0, due + policy.intervalMs - now);
    return { state: next, event: state.status === "critical" ? "recovered" : "none", delayMs };
  }
  const failures = outcome === "refused"
    ? Math.max(state.failures + 1, policy.failures)
    : state.failures + 1;
  if (failures < policy.failures) {
    const quickRetry = outcome === "reset" && !state.quickRetry;
    const next = { status: state.status, failures, criticalSince: state.criticalSince, quickRetry };
    const delayMs = quickRetry ? quickRetryMs : policy.retryDelayMs;
    return { state: next, event: "failed", delayMs };
  }
  const turned = state.status === "passing";
  const criticalSince = turned ? now : state.criticalSince;
  const next: HealthState = { status: "critical", failures, criticalSince, quickRetry: false };
  const left = criticalSince + policy.deregisterAfterMs - now;
  if (left <= 0) return { state: next, event: "expired", delayMs: 0 };
  const delayMs = Math.min(policy.intervalMs, left);
  return { state: next, event: turned ? "critical" : "none", delayMs };
}
