/** At most `limit` tasks at once; the others wait their turn, first come first served. */
export interface Limiter {
  /** The most slots held at once. */
  readonly limit: number;
  /** Slots held right now. */
  readonly active: number;
  /** Callers waiting in `acquire` for a slot. */
  readonly waiting: number;
  /**
   * Takes a slot if one is free, without waiting; true when it did. For loops that pull work
   * only while there is room (a queue drained `while (limiter.tryAcquire())`).
   */
  tryAcquire(): boolean;
  /**
   * Resolves once the caller holds a slot; it must `release` it exactly once. Aborting
   * `signal` before then gives up the place in line and rejects with `signal.reason`, and no
   * slot is held.
   */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Returns a slot: the longest waiting caller gets it, or it becomes free. */
  release(): void;
  /**
   * Runs `task` holding a slot and releases it when the task settles, whatever the outcome.
   * Resolves or rejects as the task does; rejects with `signal.reason` (and never starts the
   * task) when `signal` aborts while waiting for the slot.
   */
  run<T>(task: () => Promise<T> | T, signal?: AbortSignal): Promise<T>;
}

interface Waiter {
  grant(): void;
}

/**
 * Creates a counting limiter (a semaphore) of `limit` slots. Waiting costs no polling: a
 * waiter is woken by the `release` that hands it the slot. Throws `RangeError` when `limit` is
 * not a positive integer.
 */
export function createLimiter(limit: number): Limiter {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`limiter: limit must be a positive integer, not ${limit}`);
  }
  let active = 0;
  // A Set keeps insertion order (FIFO) and lets an aborted waiter leave in O(1).
  const waiters = new Set<Waiter>();

  const limiter: Limiter = {
    limit,
    get active() {
      return active;
    },
    get waiting() {
      return waiters.size;
    },
    tryAcquire() {
      if (active >= limit) return false;
      active += 1;
      return true;
    },
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (limiter.tryAcquire()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          waiters.delete(waiter);
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          grant() {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
        };
        waiters.add(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    release() {
      if (active === 0) throw new Error("limiter: release without a held slot");
      const next = waiters.values().next();
      if (next.done) {
        active -= 1;
        return;
      }
      // The slot passes straight to the next waiter: `active` stays the same.
      waiters.delete(next.value);
      next.value.grant();
    },
    async run(task, signal) {
      await limiter.acquire(signal);
      try {
        return await task();
      } finally {
        limiter.release();
      }
    },
  };
  return limiter;
}
