// Test helpers for waiting on things without fixed sleeps: a promise settled by hand, a
// condition re-checked whenever the test's own state changes, and polling with a deadline.
import { setTimeout as delay } from "node:timers/promises";

/** A promise and the function that resolves it (`Promise.withResolvers` is missing on v20). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

/** Creates a promise that the caller resolves by hand, e.g. to release a held handler. */
export function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** Waiters on state a test records (requests, lines, patches, output). */
export interface Waiters {
  /** Call after every change: each pending `until` checks its condition again. */
  wake(): void;
  /**
   * Resolves with the first value other than `undefined` that `find` returns, checked at once
   * and at every `wake`. Rejects with `timeout()` after `ms`, or with what `find` throws.
   */
  until<T>(find: () => T | undefined, ms: number, timeout: () => Error): Promise<T>;
}

/** Creates an empty set of waiters. */
export function createWaiters(): Waiters {
  const checks = new Set<() => void>();
  return {
    wake() {
      for (const check of [...checks]) check();
    },
    until(find, ms, timeout) {
      return new Promise((resolve, reject) => {
        const settle = (settled: () => void) => {
          clearTimeout(timer);
          checks.delete(check);
          settled();
        };
        const check = () => {
          try {
            const found = find();
            if (found !== undefined) settle(() => resolve(found));
          } catch (error) {
            settle(() => reject(error));
          }
        };
        const timer = setTimeout(() => settle(() => reject(timeout())), ms);
        checks.add(check);
        check();
      });
    },
  };
}

/**
 * Retries `probe` until it returns a value other than `undefined` or `false`, and resolves with
 * it; for conditions that have no event to await (e.g. "the port refuses connections", "the
 * registry lists it"). An error `probe` throws counts as "not yet". Rejects after `ms`, naming
 * `what` and the last error. The pause between tries grows from 5 ms to 100 ms, so a quick
 * condition is seen at once and a slow one does not keep a busy machine busier.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 5_000,
  what = "condition",
): Promise<T> {
  const deadline = performance.now() + ms;
  let lastError: unknown;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${ms} ms waiting for ${what}${why}`, { cause: lastError });
    }
    await delay(pause);
  }
}
