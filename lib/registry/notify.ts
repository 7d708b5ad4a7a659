import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "../std/backoff.ts";
import type { Logger } from "../std/log.ts";
import { describeError } from "../std/errors.ts";
import { request } from "../std/request.ts";
import {
  absorb,
  createBatch,
  finish,
  mergePatch,
  settle,
  toPatch,
  type Batch,
} from "./batch.ts";
import type { Patch } from "./registration.ts";
import { createDeliveryStats, type DeliveryStats } from "./stats.ts";

/** Options of `createNotifier`. */
export interface NotifierOptions {
  /** Bound on each POST of a patch. */
  timeoutMs: number;
  /** Further attempts after a failed POST, with exponential backoff. */
  retries: number;
  /** Wait before the first retry; doubles for each further one, with jitter. Default 100 ms. */
  backoffMs?: number;
  /** Longest wait between two attempts. Default 5 s. */
  backoffMaxMs?: number;
  /**
   * Longest rest of a dependent after a patch was given up, before its next patch is tried:
   * `backoffMaxMs` after the first such failure, doubling up to this. Default 30 s.
   */
  restMaxMs?: number;
  /** Source of the backoff's jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Sent as `Authorization: Bearer <token>` with every patch (docs/protocol.md#security). */
  token?: string | undefined;
  log: Logger;
  /** Where POSTs sent, failed and retried and patches given up are counted. */
  stats?: DeliveryStats;
}

/** Delivers patches to ServiceUpdateURLs. */
export interface Notifier {
  /** Queues `patch` for `url`; never blocks and never throws. Empty patches are dropped. */
  send(url: string, patch: Patch): void;
  /**
   * Queues `patch` as `send` does and ends a rest of that dependent (it has just shown it is
   * alive, e.g. by registering). Resolves `true` once a POST carrying the patch was answered
   * 2xx; `false` when that POST failed (it is retried as usual), when `waitMs` passed first, or
   * on close. Resolves `true` at once when there is nothing to deliver. Never rejects.
   */
  deliver(url: string, patch: Patch, waitMs: number): Promise<boolean>;
  /**
   * Queues `patch` as `send` does and resolves once it is out for good: a POST carrying it was
   * answered 2xx, or it was given up after its retries, or the notifier closed. Never rejects.
   */
  sent(url: string, patch: Patch): Promise<void>;
  /** Dependents with a patch queued or in flight. */
  readonly busy: number;
  /** Provider changes queued or in flight, over all dependents (each counted once per
   * dependent however often it changed). */
  readonly queued: number;
  /** Aborts every POST in flight and every backoff; queued patches are dropped. */
  close(): void;
}

interface Queue {
  /** Changes that arrived since `sending` was taken. */
  pending: Batch;
  /** The changes of the POST in flight or being retried; empty between patches. */
  sending: Batch;
  /**
   * Aborts this queue's POST or backoff on close. One per queue rather than one shared signal:
   * an AbortSignal's listeners are a list that every add and remove walks, so thousands of
   * requests listening on one signal cost quadratic time.
   */
  stop: AbortController;
  /** Patches given up in a row: the dependent looks dead, it rests before the next one. */
  failedRounds: number;
  /** Set while resting; aborting it ends the rest early. */
  resting: AbortController | undefined;
}

/**
 * Creates a notifier: one queue per ServiceUpdateURL with at most one POST in flight, all
 * queues delivering independently. There is no shared pool of connections or slots, so a slow
 * or dead dependent delays nobody but itself, however many of them there are. Within a queue
 * patches are delivered in order and merged while waiting (the latest change of a provider
 * wins: what a dependent needs is its latest view, not the history), so an older `Added` can
 * never overtake a newer `Removed` and what waits for a dead dependent is at most one change
 * per provider. A failed POST (error, timeout or non-2xx) is retried `retries` times with
 * exponential backoff, merged with whatever arrived meanwhile; then the patch is given up and
 * logged — the dependent's anti-entropy re-registration repairs it — and the queue rests before
 * it tries the next patch, so a dead dependent costs a few POSTs a minute, not a connection per
 * change.
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const { timeoutMs, retries, backoffMs = 100, backoffMaxMs = 5_000, log } = options;
  const restMaxMs = Math.max(backoffMaxMs, options.restMaxMs ?? 30_000);
  const random = options.random ?? Math.random;
  const stats = options.stats ?? createDeliveryStats();
  const queues = new Map<string, Queue>();
  let closed = false;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (options.token) headers["Authorization"] = `Bearer ${options.token}`;

  async function run(url: string, queue: Queue): Promise<void> {
    let attempt = 0;
    const { signal } = queue.stop;
    while (!signal.aborted) {
      if (queue.sending.changes.size === 0) {
        if (queue.failedRounds > 0) {
          await rest(queue, backoffDelay(queue.failedRounds, backoffMaxMs, restMaxMs, random));
          if (signal.aborted) break;
        }
        if (queue.pending.changes.size === 0) break;
        absorb(queue.sending, queue.pending);
        attempt = 0;
      }
      let failure: string;
      try {
        const response = await request(url, {
          method: "POST",
          headers,
          body: JSON.stringify(toPatch(queue.sending)),
          timeoutMs,
          signal,
          maxResponseBytes: 64 * 1024,
        });
        if (response.status >= 200 && response.status < 300) {
          stats.sent += 1;
          queue.sending.changes.clear();
          settle(queue.sending, true);
          finish(queue.sending);
          queue.failedRounds = 0;
          continue;
        }
        failure = `status ${response.status}`;
      } catch (error) {
        failure = describeError(error);
      }
      settle(queue.sending, false);
      if (signal.aborted) break;
      stats.failed += 1;
      attempt += 1;
      if (attempt > retries) {
        stats.givenUp += 1;
        log(`notify: ${url}: giving up after ${attempt} attempts: ${failure}`);
        queue.sending.changes.clear();
        finish(queue.sending);
        queue.failedRounds += 1;
        continue;
      }
      try {
        await sleep(backoffDelay(attempt, backoffMs, backoffMaxMs, random), undefined,
          { signal });
      } catch {
        break;
      }
      stats.retried += 1;
      // Newer changes override the ones being retried.
      absorb(queue.sending, queue.pending);
    }
    settle(queue.pending, false);
    finish(queue.sending);
    finish(queue.pending);
    if (queues.get(url) === queue) queues.delete(url);
  }

  /** Waits `ms`, or less when the queue is closed or woken. */
  async function rest(queue: Queue, ms: number): Promise<void> {
    const resting = new AbortController();
    queue.resting = resting;
    try {
      await sleep(ms, undefined, { signal: resting.signal });
    } catch {
      // woken early: closed, or the dependent registered again
    } finally {
      queue.resting = undefined;
    }
  }

  /**
   * Merges `patch` into the queue of `url` (started when new) and adds `waiter` to it; false
   * after close. The waiter goes in before a new queue starts, so it waits for the first POST.
   */
  function enqueue(
    url: string,
    patch: Patch,
    waiter?: (delivered: boolean) => void,
    final?: () => void,
  ): boolean {
    if (closed) return false;
    let queue = queues.get(url);
    const fresh = queue === undefined;
    queue ??= {
      pending: createBatch(),
      sending: createBatch(),
      stop: new AbortController(),
      failedRounds: 0,
      resting: undefined,
    };
    mergePatch(queue.pending, patch);
    if (final) queue.pending.finals.push(final);
    if (waiter) {
      queue.pending.waiters.push(waiter);
      // The dependent has just shown it is alive: no reason to keep resting.
      queue.resting?.abort();
    }
    if (fresh) {
      queues.set(url, queue);
      void run(url, queue);
    }
    return true;
  }

  const isEmpty = (patch: Patch) => patch.Added.length === 0 && patch.Removed.length === 0;

  return {
    send(url, patch) {
      if (url !== "" && !isEmpty(patch)) enqueue(url, patch);
    },
    deliver(url, patch, waitMs) {
      if (url === "" || isEmpty(patch)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), waitMs);
        const queued = enqueue(url, patch, (delivered) => {
          clearTimeout(timer);
          resolve(delivered);
        });
        if (!queued) {
          clearTimeout(timer);
          resolve(false);
        }
      });
    },
    sent(url, patch) {
      if (url === "" || isEmpty(patch)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        if (!enqueue(url, patch, undefined, resolve)) resolve();
      });
    },
    get busy() {
      return queues.size;
    },
    get queued() {
      let count = 0;
      for (const { pending, sending } of queues.values()) {
        count += pending.changes.size + sending.changes.size;
      }
      return count;
    },
    close() {
      closed = true;
      for (const queue of queues.values()) {
        queue.stop.abort();
        queue.resting?.abort();
        settle(queue.sending, false);
        settle(queue.pending, false);
        finish(queue.sending);
        finish(queue.pending);
      }
      queues.clear();
    },
  };
}
