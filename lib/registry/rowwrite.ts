import type { CallOptions, EtcdClient } from "../etcd/client.ts";
import { txn, type Compare } from "../etcd/kv.ts";
import { UnavailableError } from "../std/errors.ts";
import { parseStoredRow, type StoredRow } from "./mirror.ts";
import type { ServiceStatus } from "./registration.ts";

/** Options of `writeRow`. */
export interface WriteRowOptions extends CallOptions {
  /** The row's key in etcd. */
  key: string;
  /** What the caller believes the row is (its mirror's copy); corrected when it is wrong. */
  current: StoredRow | undefined;
  /**
   * The row to write given the row etcd holds (`undefined`: delete it), or `null` to write
   * nothing. Called again with the actual row whenever the belief was wrong.
   */
  decide(current: StoredRow | undefined): ServiceStatus | undefined | null;
  /** A further condition, e.g. "this replica still leads": when it fails, nothing is written. */
  fence?: Compare;
}

/** What `writeRow` did. */
export interface WrittenRow {
  /** The row etcd held when the write (or the decision to write nothing) was made. */
  before: StoredRow | undefined;
  /** Whether something was written; its revision. */
  written: boolean;
  revision: number;
}

/** A guarded write found that this replica no longer leads. */
export class FenceError extends UnavailableError {
  override name = "FenceError";
}

/**
 * Changes one row by compare-and-swap: the write goes through only if the row is still the
 * one the decision was made on (its revision; 0 = absent), so concurrent writers on several
 * replicas never overwrite each other's changes blindly, and a timed-out write applied late
 * cannot undo a change made after it. When the row moved, the decision is made again on what
 * etcd returned. Rejects with `FenceError` when `fence` fails, with `UnavailableError` after
 * 8 lost races, and as `EtcdClient.call` does (`EtcdUnavailableError`: outcome unknown).
 */
export async function writeRow(client: EtcdClient, options: WriteRowOptions): Promise<WrittenRow> {
  const { key, fence, decide, current: _belief, ...callOptions } = options;
  let current = options.current;
  for (let attempt = 0; attempt < 8; attempt++) {
    const next = decide(current);
    const guard: Compare = {
      key, target: "MOD", result: "EQUAL", revision: current?.revision ?? 0,
    };
    const success = next === null
      ? []
      : next === undefined
        ? [{ delete: { key } }]
        : [{ put: { key, value: JSON.stringify(next) } }];
    const result = await txn(client, fence ? [guard, fence] : [guard], success,
      [{ range: { key } }], callOptions);
    if (result.succeeded) {
      return { before: current, written: next !== null, revision: result.revision };
    }
    const kv = result.responses[0]?.kvs[0];
    const actual = kv ? parseStoredRow(kv) : undefined;
    if (fence && (actual?.revision ?? 0) === (current?.revision ?? 0)) {
      throw new FenceError("registry: this replica no longer leads; the change was not made");
    }
    current = actual;
  }
  throw new UnavailableError(`registry: ${key} changed under every attempt; try again`);
}
