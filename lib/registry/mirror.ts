import { setTimeout as sleep } from "node:timers/promises";
import type { EtcdClient } from "../etcd/client.ts";
import type { KeyValue } from "../etcd/codec.ts";
import { range } from "../etcd/kv.ts";
import { watchPrefix, type Watcher } from "../etcd/watch.ts";
import { backoffDelay } from "../std/backoff.ts";
import { describeError } from "../std/errors.ts";
import type { Logger } from "../std/log.ts";
import { parseServiceStatus, type ServiceStatus } from "./registration.ts";

/** A registration row as etcd holds it, and the revision it was last written at. */
export interface StoredRow {
  row: ServiceStatus;
  revision: number;
}

/** A full read of the rows. */
interface Listing {
  fresh: Map<string, StoredRow>;
  /** Keys that hold no readable row. */
  bad: Set<string>;
  revision: number;
}

/** Options of `openMirror`. */
export interface MirrorOptions {
  client: EtcdClient;
  /** The key prefix of the rows; each key is the prefix plus the ServiceURL. */
  prefix: string;
  /**
   * Called for every change of a row, in revision order, with the row before and after
   * (`undefined`: absent), after the mirror has applied it. After a resynchronisation (the
   * watch's history was compacted) it is called with the differences the fresh read showed.
   */
  onChange(url: string, before: StoredRow | undefined, after: StoredRow | undefined): void;
  log: Logger;
  /** Aborting it stops the watch (and a first read still retrying). */
  signal: AbortSignal;
}

/** A replica's local copy of every registration row in etcd, kept current by a watch. */
export interface Mirror {
  get(url: string): StoredRow | undefined;
  rows(): IterableIterator<StoredRow>;
  readonly size: number;
  /** Every change up to this revision is applied. */
  readonly revision: number;
  /**
   * Resolves once every change etcd committed before the call is applied (a linearizable
   * read gives the revision, the watch is asked to reach it): reads after it see every write
   * acknowledged anywhere before. Rejects with `UnavailableError` when etcd cannot confirm
   * within `timeoutMs` (no quorum); the mirror then still holds the last state it knew.
   */
  sync(timeoutMs: number): Promise<void>;
  /**
   * Resolves once every change up to `revision` is applied; rejects with `UnavailableError`
   * after `timeoutMs`.
   */
  reach(revision: number, timeoutMs: number): Promise<void>;
}

/** The row a key-value pair holds, or throws `ValidationError`. */
export function parseStoredRow(kv: KeyValue): StoredRow {
  return { row: parseServiceStatus(JSON.parse(kv.value) as unknown), revision: kv.modRevision };
}

/**
 * Reads every row under the prefix and then follows the changes (README "Running a registry
 * cluster"). Resolves once the first read is done; while etcd cannot be read it says so once
 * in the log and keeps trying. Rejects only when `signal` aborts first.
 */
export async function openMirror(options: MirrorOptions): Promise<Mirror> {
  const { client, prefix, log, signal } = options;
  const rows = new Map<string, StoredRow>();
  // Keys under the prefix that hold no readable row: counted, not listed.
  const unreadable = new Set<string>();
  const urlOf = (key: string) => key.slice(prefix.length);

  /** Reads the whole prefix; returns the rows and the revision they were read at. */
  async function list(timeoutMs?: number): Promise<Listing> {
    const answer = await range(client, { key: prefix, prefix: true },
      { signal, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    const fresh = new Map<string, StoredRow>();
    const bad = new Set<string>();
    for (const kv of answer.kvs) {
      const row = readRow(kv);
      if (row) fresh.set(urlOf(kv.key), row);
      else bad.add(kv.key);
    }
    return { fresh, bad, revision: answer.revision };
  }

  /** The row `kv` holds, or undefined (logged) when it holds none. */
  function readRow(kv: KeyValue): StoredRow | undefined {
    try {
      return parseStoredRow(kv);
    } catch (error) {
      log(`ignoring the unreadable row ${kv.key}: ${describeError(error)}`);
      return undefined;
    }
  }

  /** Makes the mirror equal a listing, telling `onChange` about every difference. */
  function replace({ fresh, bad }: Listing): void {
    unreadable.clear();
    for (const key of bad) unreadable.add(key);
    for (const [url, before] of [...rows]) {
      if (!fresh.has(url)) {
        rows.delete(url);
        options.onChange(url, before, undefined);
      }
    }
    for (const [url, after] of fresh) {
      const before = rows.get(url);
      if (before?.revision === after.revision) continue;
      rows.set(url, after);
      options.onChange(url, before, after);
    }
  }

  let first: Listing | undefined;
  for (let attempt = 1; !first; attempt++) {
    try {
      first = await list(1_000);
    } catch (error) {
      signal.throwIfAborted();
      if (attempt === 1) {
        log(`cannot read etcd at ${client.endpoints.join(",")} ` +
          `(${describeError(error)}); retrying until it answers`);
      }
      await sleep(backoffDelay(attempt, 100, 2_000), undefined, { signal });
    }
  }
  replace(first);

  const watcher: Watcher = watchPrefix(client, {
    prefix,
    startRevision: first.revision + 1,
    signal,
    log,
    onEvents(events) {
      for (const event of events) {
        const url = urlOf(event.kv.key);
        const before = rows.get(url);
        const after = event.type === "put" ? readRow(event.kv) : undefined;
        if (after) rows.set(url, after);
        else rows.delete(url);
        if (event.type === "put" && !after) unreadable.add(event.kv.key);
        else unreadable.delete(event.kv.key);
        if (before || after) options.onChange(url, before, after);
      }
    },
    async onCompacted() {
      const fresh = await list();
      replace(fresh);
      return fresh.revision;
    },
  });

  return {
    get: (url) => rows.get(url),
    rows: () => rows.values(),
    get size() {
      return rows.size;
    },
    get revision() {
      return watcher.revision;
    },
    reach: (revision, timeoutMs) => watcher.reach(revision, timeoutMs),
    async sync(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        // Which keys changed after the last event the mirror applied, and how many there are:
        // none changed and as many as the mirror knows means no change is missing. (A watch's
        // progress report cannot tell: in etcd 3.4.23 it may overtake events, see `watch.ts`.)
        const known = watcher.revision;
        const left = Math.max(1, deadline - performance.now());
        const answer = await range(client, { key: prefix, prefix: true }, {
          signal, keysOnly: true, minModRevision: known + 1,
          timeoutMs: left, attemptTimeoutMs: Math.max(1, left / 2),
        });
        if (answer.kvs.length === 0 && answer.count === rows.size + unreadable.size) return;
        const newest = Math.max(known + 1, ...answer.kvs.map((kv) => kv.modRevision));
        // Deletions show only in the count: wait for the next event, whatever it is.
        await watcher.reach(newest, Math.max(1, deadline - performance.now()));
      }
    },
  };
}
