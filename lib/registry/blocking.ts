import { ValidationError } from "../std/errors.ts";

/**
 * The registry's change index, Consul-style: a number that grows with every change to the
 * list of services, and the requests waiting for it to move (blocking queries).
 */
export interface ChangeIndex {
  /** The index now: 1 at start, one more for every change. */
  readonly current: number;
  /** Requests waiting in `wait`. */
  readonly waiting: number;
  /**
   * Records a change: the index grows now, and the waiters are woken once `durable` settles
   * (when given: the change is on disk, and the request that made it has had its answer
   * first), in one go per turn of the event loop, however many changes it held. A burst of
   * registrations answers each waiter once, and costs a registration nothing but this call.
   */
  bump(durable?: Promise<unknown>): void;
  /**
   * Resolves with the index once it is greater than `after`, or when `waitMs` has passed, or
   * when `signal` aborts (the client went away: its wait is freed at once) — whichever comes
   * first. Resolves at once when `after` is already passed, or is ahead of the index (a client
   * that saw an index of an earlier run of the registry must start over). Never rejects.
   */
  wait(after: number, waitMs: number, signal?: AbortSignal): Promise<number>;
  /** Wakes every waiter; later waits resolve at once. */
  close(): void;
}

interface Waiter {
  /** The index the client saw. */
  after: number;
  finish(): void;
}

/** Creates a change index at 1 with nobody waiting. */
export function createChangeIndex(): ChangeIndex {
  let current = 1;
  let closed = false;
  let wakeScheduled = false;
  const waiters = new Set<Waiter>();

  const wakeAll = () => {
    wakeScheduled = false;
    // A waiter that arrived after the bump saw the new index already: it keeps waiting.
    for (const waiter of [...waiters]) if (closed || waiter.after < current) waiter.finish();
  };

  const scheduleWake = () => {
    if (wakeScheduled || waiters.size === 0) return;
    wakeScheduled = true;
    setImmediate(wakeAll);
  };

  return {
    get current() {
      return current;
    },
    get waiting() {
      return waiters.size;
    },
    bump(durable) {
      current += 1;
      if (durable) durable.then(scheduleWake, scheduleWake);
      else scheduleWake();
    },
    wait(after, waitMs, signal) {
      if (closed || after !== current || signal?.aborted) return Promise.resolve(current);
      return new Promise<number>((resolve) => {
        const waiter: Waiter = {
          after,
          finish() {
            waiters.delete(waiter);
            clearTimeout(timer);
            signal?.removeEventListener("abort", waiter.finish);
            resolve(current);
          },
        };
        const timer = setTimeout(waiter.finish, waitMs);
        signal?.addEventListener("abort", waiter.finish, { once: true });
        waiters.add(waiter);
      });
    },
    close() {
      closed = true;
      wakeAll();
    },
  };
}

/** A blocking query's parameters: the index the client saw, and how long it will wait. */
export interface BlockingQuery {
  index: number;
  waitMs: number;
}

/** Longest wait a client may ask for, and the wait when it names none (as Consul's). */
const maxWaitMs = 600_000;
const defaultWaitMs = 300_000;
const durationPattern = /^(\d{1,9})(ms|s|m)$/;
const unitMs: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000 };

/**
 * Reads `index` and `wait` from a query string: `undefined` when there is no `index` (an
 * ordinary request). `index` is a whole number; `wait` a duration with its unit (`500ms`,
 * `30s`, `5m`) from 1 ms to 10 minutes, 5 minutes when left out. Throws `ValidationError` for
 * anything else, and for a `wait` without an `index`.
 */
export function parseBlockingQuery(params: URLSearchParams): BlockingQuery | undefined {
  const index = params.get("index");
  const wait = params.get("wait");
  if (index === null) {
    if (wait !== null) throw new ValidationError("wait: only together with index");
    return undefined;
  }
  if (!/^\d{1,15}$/.test(index)) {
    throw new ValidationError("index: must be a whole number (the X-Registry-Index seen last)");
  }
  if (wait === null) return { index: Number(index), waitMs: defaultWaitMs };
  const match = durationPattern.exec(wait);
  const waitMs = match ? Number(match[1]) * (unitMs[match[2] ?? ""] ?? Number.NaN) : Number.NaN;
  if (!(waitMs >= 1 && waitMs <= maxWaitMs)) {
    throw new ValidationError("wait: must be a duration from 1ms to 10m, such as 30s");
  }
  return { index: Number(index), waitMs };
}
