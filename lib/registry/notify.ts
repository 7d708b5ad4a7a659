import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "../std/backoff.ts";
import type { Logger } from "../std/log.ts";
import { describeError } from "../std/errors.ts";
import { createLimiter } from "../std/limiter.ts";
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
  /** Source of the backoff's jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** POSTs in flight at most, over all dependents. Default 512. */
  concurrency?: number;
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
  /** Aborts every POST in flight and every backoff; queued patches are dropped. */
  close(): void;
}

/** What a dependent still has to learn: for each provider, whether it was added or removed. */
type Pending = Map<string, { entry: PatchEntry; added: boolean }>;

interface Queue {
  pending: Pending;
}

/**
 * Creates a notifier: one queue per ServiceUpdateURL, all delivering concurrently, so a slow
 * or dead dependent delays nobody but itself. Within a queue patches are delivered in order
 * and merged while waiting (the latest change of a provider wins), so an older `Added` can
 * never overtake a newer `Removed`. A failed POST (error, timeout or non-2xx) is retried
 * `retries` times with exponential backoff, merged with whatever arrived meanwhile; then the
 * patch is given up and logged — the dependent's anti-entropy re-registration repairs it.
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const { timeoutMs, retries, backoffMs = 100, backoffMaxMs = 5_000, log } = options;
  const random = options.random ?? Math.random;
  const queues = new Map<string, Queue>();
  const controller = new AbortController();
  // Every request in flight listens on it; thousands at once are expected, not a leak.
  setMaxListeners(0, controller.signal);
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (options.token) headers["Authorization"] = `Bearer ${options.token}`;
  const slots = createLimiter(options.concurrency ?? 512);

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
    let current: Pending | undefined;
    let attempt = 0;
    while (!controller.signal.aborted) {
      if (!current) {
        if (queue.pending.size === 0) break;
        current = queue.pending;
        queue.pending = new Map();
        attempt = 0;
      }
      const sending = current;
      let failure: string;
      try {
        await slots.acquire(controller.signal);
      } catch {
        break;
      }
      try {
        const response = await request(url, {
          method: "POST",
          headers,
          body: JSON.stringify(toPatch(sending)),
          timeoutMs,
          signal: controller.signal,
          maxResponseBytes: 64 * 1024,
        });
        if (response.status >= 200 && response.status < 300) {
          current = undefined;
          continue;
        }
        failure = `status ${response.status}`;
      } catch (error) {
        failure = describeError(error);
      } finally {
        slots.release();
      }
      if (controller.signal.aborted) break;
      attempt += 1;
      if (attempt > retries) {
        log(`notify: ${url}: giving up after ${attempt} attempts: ${failure}`);
        current = undefined;
        continue;
      }
      try {
        await sleep(backoffDelay(attempt, backoffMs, backoffMaxMs, random), undefined,
          { signal: controller.signal });
      } catch {
        break;
      }
      // Newer changes override the ones being retried.
      for (const [name, change] of queue.pending) sending.set(name, change);
      queue.pending = new Map();
    }
    queues.delete(url);
  }

  return {
    send(url, patch) {
      if (controller.signal.aborted || url === "") return;
      if (patch.Added.length === 0 && patch.Removed.length === 0) return;
      const queue = queues.get(url);
      if (queue) return merge(queue.pending, patch);
      const fresh: Queue = { pending: new Map() };
      merge(fresh.pending, patch);
      queues.set(url, fresh);
      void deliver(url, fresh);
    },
    get busy() {
      return queues.size;
    },
    close() {
      controller.abort();
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
