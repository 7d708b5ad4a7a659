import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../std/log.ts";
import { backoffDelay } from "../std/backoff.ts";
import { describeError } from "../std/errors.ts";
import { EtcdUnavailableError, type EtcdClient } from "./client.ts";
import {
  boolField,
  encode,
  intField,
  listField,
  asObject,
  parseKeyValue,
  prefixEnd,
  stringField,
  type KeyValue,
} from "./codec.ts";
import { openStream } from "./stream.ts";

/** One change of a watched key. */
export interface WatchEvent {
  type: "put" | "delete";
  /** The key after the change; a delete's carries only `key` and `modRevision`. */
  kv: KeyValue;
  /** The key before the change, when the watch asked for it and the key existed. */
  prevKv: KeyValue | undefined;
}

/** Options of `watchPrefix`. */
export interface WatchOptions {
  /** Every key that starts with it is watched. */
  prefix: string;
  /** The first revision whose events are wanted. */
  startRevision: number;
  /** Deliver each event's previous value too. */
  prevKv?: boolean;
  /**
   * Called with the events of one or more whole revisions, in revision order, never twice for
   * a revision and never skipping one (unless history was compacted: see `onCompacted`).
   */
  onEvents(events: WatchEvent[]): void;
  /**
   * The history the watch needs was compacted away: read the current state afresh and resolve
   * with the revision it was read at; the watch carries on after it. A rejection is logged and
   * the whole resync tried again.
   */
  onCompacted(compactRevision: number): Promise<number>;
  /** Ping period of the stream: a member that stays silent for 3 pings is left. Default 1 s. */
  progressIntervalMs?: number;
  log?: Logger;
  /** Aborting it ends the watch. */
  signal: AbortSignal;
}

/** A running watch. */
export interface Watcher {
  /**
   * Every event up to this revision has been handed to `onEvents`: the revision of the last
   * event (or of the fresh read after a compaction), the start revision minus one before any.
   */
  readonly revision: number;
  /**
   * Resolves once an event of `revision` or later has been handed to `onEvents` — so wait only
   * for a revision that changed a watched key. Rejects with `EtcdUnavailableError` after
   * `timeoutMs`, or when aborted.
   */
  reach(revision: number, timeoutMs: number): Promise<void>;
}

function parseEvent(value: unknown): WatchEvent {
  const event = asObject(value, "event");
  const prev = event["prev_kv"];
  return {
    type: stringField(event, "type") === "DELETE" ? "delete" : "put",
    kv: parseKeyValue(event["kv"]),
    prevKv: prev === undefined ? undefined : parseKeyValue(prev),
  };
}

/**
 * Watches every key under a prefix from a revision on, across member failures: the stream
 * lives at one member at a time; when that member dies, loses its leader or stays silent
 * through three progress pings, the watch re-opens at the next member from the revision after
 * the last one delivered, so no event is lost or repeated. When that history is compacted,
 * `onCompacted` resynchronises and the watch resumes after the revision it returns.
 */
export function watchPrefix(client: EtcdClient, options: WatchOptions): Watcher {
  const { prefix, signal, log = () => {}, progressIntervalMs = 1_000 } = options;
  let delivered = options.startRevision - 1;
  const waiters = new Set<{ revision: number; resolve: () => void }>();

  const advance = (revision: number) => {
    if (revision <= delivered) return;
    delivered = revision;
    for (const waiter of waiters) {
      if (waiter.revision <= delivered) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  };

  /** Runs one stream at `endpoint` until it ends; resolves with the compact revision, if any. */
  function follow(endpoint: string): Promise<{ compacted: number; error: Error | undefined }> {
    return new Promise((resolve) => {
      let heard = performance.now();
      let compacted = 0;
      const request: Record<string, unknown> = {
        key: encode(prefix),
        range_end: prefixEnd(prefix),
        start_revision: String(delivered + 1),
      };
      if (options.prevKv) request["prev_kv"] = true;
      const current = openStream(endpoint, "watch", { create_request: request }, {
        onMessage(result) {
          heard = performance.now();
          compacted = intField(result, "compact_revision");
          if (boolField(result, "canceled")) {
            const reason = stringField(result, "cancel_reason");
            if (reason !== "") log(`etcd: watch at ${endpoint} cancelled: ${reason}`);
            current.close();
            return;
          }
          // Only events count. A catching-up watch sends at most 1 000 revisions per message,
          // always whole ones, with the store's current revision in the header; and in etcd
          // 3.4.23 a requested progress report can overtake events still queued (etcd issue
          // #15220), so neither header may move the resume point. Progress reports serve as
          // pings only.
          const events = listField(result, "events").map(parseEvent);
          if (events.length > 0) {
            options.onEvents(events);
            advance(Math.max(...events.map((event) => event.kv.modRevision)));
          }
        },
        onEnd(error) {
          clearInterval(ping);
          signal.removeEventListener("abort", onAbort);
          resolve({ compacted, error: compacted > 0 ? undefined : error });
        },
      });
      const onAbort = () => current.close();
      signal.addEventListener("abort", onAbort, { once: true });
      const ping = setInterval(() => {
        if (performance.now() - heard > 3 * progressIntervalMs) {
          log(`etcd: watch at ${endpoint} silent for ${3 * progressIntervalMs} ms; leaving it`);
          current.close();
        } else {
          current.write({ progress_request: {} });
        }
      }, progressIntervalMs);
    });
  }

  async function run(): Promise<void> {
    let member = 0;
    let failures = 0;
    while (!signal.aborted) {
      const endpoint = client.endpoints[member % client.endpoints.length] ?? "";
      const started = delivered;
      const { compacted, error } = await follow(endpoint);
      if (signal.aborted) return;
      if (compacted > 0) {
        log(`etcd: watch history up to revision ${compacted} was compacted; resynchronising`);
        try {
          advance(await options.onCompacted(compacted));
          failures = 0;
        } catch (resyncError) {
          log(`etcd: resynchronising failed: ${describeError(resyncError)}`);
          failures += 1;
          await pause(failures);
        }
        continue;
      }
      failures = delivered > started ? 1 : failures + 1;
      // Once per outage: every member in turn refuses while etcd is down.
      if (error && failures === 1) log(`etcd: watch ${describeError(error)}; moving on`);
      member += 1;
      await pause(failures);
    }
  }

  async function pause(failures: number): Promise<void> {
    await sleep(backoffDelay(failures, 20, 1_000), undefined, { signal }).catch(() => {});
  }

  void run();

  return {
    get revision() {
      return delivered;
    },
    reach(revision, timeoutMs) {
      if (revision <= delivered) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const waiter = { revision, resolve: () => settle(resolve) };
        const settle = (then: () => void) => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          waiters.delete(waiter);
          then();
        };
        const onAbort = () => settle(() => reject(signal.reason));
        const timer = setTimeout(() => settle(() => reject(new EtcdUnavailableError(
          `etcd: watch did not reach revision ${revision} within ${timeoutMs} ms`, false))),
          timeoutMs);
        signal.addEventListener("abort", onAbort, { once: true });
        waiters.add(waiter);
      });
    },
  };
}
