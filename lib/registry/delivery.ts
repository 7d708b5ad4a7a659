import { setTimeout as sleep } from "node:timers/promises";
import { EtcdError, type EtcdClient } from "../etcd/client.ts";
import { range, txn, type Compare } from "../etcd/kv.ts";
import type { KeyValue } from "../etcd/codec.ts";
import { watchPrefix } from "../etcd/watch.ts";
import { describeError } from "../std/errors.ts";
import type { Logger } from "../std/log.ts";
import { parseStoredRow } from "./mirror.ts";
import type { Patch } from "./registration.ts";
import { createTable, type Change, type Delivery, type Table } from "./table.ts";

/** Options of `runDelivery`. */
export interface DeliveryOptions {
  client: EtcdClient;
  /** The key prefix of the rows (the prefix plus a ServiceURL is a row's key). */
  prefix: string;
  /** Where the revision up to which every patch went out is kept. */
  checkpointKey: string;
  /** Holds only while this replica leads: every checkpoint write is guarded by it. */
  fence: Compare;
  /**
   * Sends the patches of one change; settles once they were delivered or given up. Called in
   * revision order, so each dependent gets its patches in the order of the changes.
   */
  deliver(deliveries: Delivery[]): Promise<void>;
  /** How often the checkpoint is written when it moved. Default 100 ms. */
  checkpointEveryMs?: number;
  log: Logger;
  /** The leader's term: delivery stops when it aborts. */
  signal: AbortSignal;
}

/** Parses a checkpoint value; a missing or unreadable one counts as "nothing delivered". */
function parseCheckpoint(value: string | undefined): number {
  const revision = Number(value);
  return value !== undefined && /^\d+$/.test(value) && Number.isSafeInteger(revision)
    ? revision
    : 0;
}

/**
 * What every dependent in `table` must hear when nothing is known of what it was told: each
 * passing provider of the services it requires as `Added`, each critical one as `Removed`.
 */
function fullState(table: Table): Delivery[] {
  const out: Delivery[] = [];
  for (const dependent of table.rows()) {
    if (dependent.ServiceUpdateURL === "") continue;
    const patch: Patch = { Added: [], Removed: [] };
    for (const name of dependent.RequiredServices) {
      for (const row of table.rows(name)) {
        (row.Status === "passing" ? patch.Added : patch.Removed)
          .push({ Name: name, URL: row.ServiceURL });
      }
    }
    if (patch.Added.length + patch.Removed.length > 0) {
      out.push({ patch, to: [dependent.ServiceUpdateURL] });
    }
  }
  return out;
}

/** The change of the table that a key now holding `kv` (or deleted: `undefined`) is. */
function changeOf(key: string, kv: KeyValue | undefined, prefix: string): Change {
  const url = key.slice(prefix.length);
  if (!kv) return { remove: url };
  try {
    return { put: parseStoredRow(kv).row };
  } catch {
    return { remove: url }; // unreadable (the mirror logs it): as good as absent
  }
}

/**
 * Delivers every change of the rows as patches, as the leader (README "Running a registry
 * cluster"). It rebuilds the table as it was at the checkpoint — the revision up to which the
 * previous leader delivered everything — and replays every change after it through
 * `Table.apply`, so a change committed while nobody led, or delivered halfway by a leader that
 * died, goes out now (perhaps twice: patches have set semantics; never not at all). The
 * checkpoint moves to the highest revision whose patches, and all before, were delivered or
 * given up, in writes guarded by the fence. When that history was compacted away, every
 * dependent is told the whole current state instead. Resolves when the term ends; rejects when
 * a guarded write finds the leadership gone.
 */
export async function runDelivery(options: DeliveryOptions): Promise<void> {
  const { client, prefix, checkpointKey, fence, log, signal } = options;
  const everyMs = options.checkpointEveryMs ?? 100;
  const stored = await range(client, { key: checkpointKey }, { signal });
  let written = parseCheckpoint(stored.kvs[0]?.value);

  /** The table as of `revision` (0: now); undefined when that history is compacted. */
  async function tableAt(
    revision: number,
  ): Promise<{ table: Table; revision: number } | undefined> {
    try {
      const answer = await range(client, { key: prefix, prefix: true },
        { signal, ...(revision > 0 ? { revision } : {}) });
      const table = createTable();
      for (const kv of answer.kvs) table.apply(changeOf(kv.key, kv, prefix));
      return { table, revision: revision > 0 ? revision : answer.revision };
    } catch (error) {
      if (error instanceof EtcdError && error.code === 11) return undefined;
      throw error;
    }
  }

  /** Tells every dependent the whole state now; returns the table and its revision. */
  async function resync(): Promise<{ table: Table; revision: number }> {
    log("the patch history since the checkpoint is gone; sending every dependent " +
      "the whole current state");
    const now = await tableAt(0);
    if (!now) throw new Error("registry: the current state cannot be read");
    await options.deliver(fullState(now.table));
    return now;
  }

  let start = written > 0 ? await tableAt(written) : { table: createTable(), revision: 0 };
  start ??= await resync();
  let table = start.table;
  // Changes handed to `deliver` and not yet known to be out, oldest first.
  const pending: { revision: number; done: boolean }[] = [];
  let lostError: Error | undefined;
  const term = new AbortController();
  const stop = AbortSignal.any([signal, term.signal]);

  const watcher = watchPrefix(client, {
    prefix,
    startRevision: start.revision + 1,
    signal: stop,
    log,
    onEvents(events) {
      for (const event of events) {
        const item = { revision: event.kv.modRevision, done: false };
        pending.push(item);
        const kv = event.type === "put" ? event.kv : undefined;
        const deliveries = table.apply(changeOf(event.kv.key, kv, prefix));
        options.deliver(deliveries).catch(() => {}).finally(() => {
          item.done = true;
        });
      }
    },
    async onCompacted() {
      const now = await resync();
      table = now.table;
      return now.revision;
    },
  });

  /** The revision up to which everything is out: the watch's, minus what is still pending. */
  function deliveredUpTo(): number {
    while (pending[0]?.done) pending.shift();
    const first = pending[0];
    return first ? first.revision - 1 : watcher.revision;
  }

  try {
    while (!stop.aborted) {
      await sleep(everyMs, undefined, { signal: stop }).catch(() => {});
      const upTo = deliveredUpTo();
      if (upTo <= written || stop.aborted) continue;
      try {
        const result = await txn(client, [fence],
          [{ put: { key: checkpointKey, value: String(upTo) } }], [], { signal: stop });
        if (!result.succeeded) {
          lostError = new Error("registry: leadership lost (checkpoint write refused)");
          term.abort(lostError);
          break;
        }
        written = upTo;
      } catch (error) {
        if (!stop.aborted) log(`writing the patch checkpoint: ${describeError(error)}`);
      }
    }
  } finally {
    term.abort();
  }
  if (lostError) throw lostError;
}
