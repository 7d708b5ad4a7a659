import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "../std/backoff.ts";
import type { Logger } from "../std/log.ts";
import { describeError } from "../std/errors.ts";
import { request } from "../std/request.ts";
import type { Patch, PatchEntry } from "./registration.ts";

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
}

/** Delivers patches to ServiceUpdateURLs. */
export interface Notifier {
  /** Queues `patch` for `url`; never blocks and never throws. Empty patches are dropped. */
  send(url: string, patch: Patch): void;
  /** Dependents with a patch queued or in flight. */
  readonly busy: number;
  /** Provider changes queued or in flight, over all dependents (each counted once per
   * dependent however often it changed). */
  readonly queued: number;
  /** Aborts every POST in flight and every backoff; queued patches are dropped. */
  close(): void;
}

/** What a dependent still has to learn: for each provider, whether it was added or removed. */
type Pending = Map<string, { entry: PatchEntry; added: boolean }>;

interface Queue {
  /** Changes that arrived since `sending` was taken. */
  pending: Pending;
  /** The changes of the POST in flight or being retried; empty between patches. */
  sending: Pending;
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
  const queues = new Map<string, Queue>();
  let closed = false;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (options.token) headers["Authorization"] = `Bearer ${options.token}`;

  // One announcement shares its entry objects among all dependents: build each key once.
  const keys = new WeakMap<PatchEntry, string>();
  const key = (entry: PatchEntry): string => {
    let found = keys.get(entry);
    if (found === undefined) keys.set(entry, (found = `${entry.Name}\n${entry.URL}`));
    return found;
  };
  const merge = (into: Pending, patch: Patch) => {
    for (const entry of patch.Removed) into.set(key(entry), { entry, added: false });
    for (const entry of patch.Added) into.set(key(entry), { entry, added: true });
  };

  async function deliver(url: string, queue: Queue): Promise<void> {
    let attempt = 0;
    const { signal } = queue.stop;
    while (!signal.aborted) {
      if (queue.sending.size === 0) {
        if (queue.failedRounds > 0) {
          await rest(queue, backoffDelay(queue.failedRounds, backoffMaxMs, restMaxMs, random));
          if (signal.aborted) break;
        }
        if (queue.pending.size === 0) break;
        queue.sending = queue.pending;
        queue.pending = new Map();
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
          queue.sending = new Map();
          queue.failedRounds = 0;
          continue;
        }
        failure = `status ${response.status}`;
      } catch (error) {
        failure = describeError(error);
      }
      if (signal.aborted) break;
      attempt += 1;
      if (attempt > retries) {
        log(`notify: ${url}: giving up after ${attempt} attempts: ${failure}`);
        queue.sending = new Map();
        queue.failedRounds += 1;
        continue;
      }
      try {
        await sleep(backoffDelay(attempt, backoffMs, backoffMaxMs, random), undefined,
          { signal });
      } catch {
        break;
      }
      // Newer changes override the ones being retried.
      for (const [name, change] of queue.pending) queue.sending.set(name, change);
      queue.pending = new Map();
    }
    queues.delete(url);
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

  return {
    send(url, patch) {
      if (closed || url === "") return;
      if (patch.Added.length === 0 && patch.Removed.length === 0) return;
      const queue = queues.get(url);
      if (queue) return merge(queue.pending, patch);
      const fresh: Queue = {
        pending: new Map(),
        sending: new Map(),
        stop: new AbortController(),
        failedRounds: 0,
        resting: undefined,
      };
      merge(fresh.pending, patch);
      queues.set(url, fresh);
      void deliver(url, fresh);
    },
    get busy() {
      return queues.size;
    },
    get queued() {
      let count = 0;
      for (const queue of queues.values()) count += queue.pending.size + queue.sending.size;
      return count;
    },
    close() {
      closed = true;
      for (const queue of queues.values()) {
        queue.stop.abort();
        queue.resting?.abort();
      }
      queues.clear();
    },
  };
}

/** The wire form: always both lists, as arrays, fields in the Go order. */
function toPatch(pending: Pending): Patch {
  const patch: Patch = { Added: [], Removed: [] };
  for (const { entry, added } of pending.values()) {
    (added ? patch.Added : patch.Removed).push({ Name: entry.Name, URL: entry.URL });
  }
  return patch;
}
