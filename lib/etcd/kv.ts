import type { CallOptions, EtcdClient } from "./client.ts";
import {
  asObject,
  boolField,
  encode,
  intField,
  listField,
  parseHeader,
  parseKeyValue,
  prefixEnd,
  type KeyValue,
} from "./codec.ts";

/** What a range covers: one key, or every key under a prefix. */
export interface KeyRange {
  key: string;
  /** Every key that starts with `key`. */
  prefix?: boolean;
}

/** Options of `range`. */
export interface RangeOptions extends CallOptions {
  /** Read the store as of this revision (fails with `EtcdError` code 11 when compacted). */
  revision?: number;
  /** Answered by the member alone, without a quorum round: works without quorum, may be stale. */
  serializable?: boolean;
  /** At most this many keys. */
  limit?: number;
  /** Only keys, no values. */
  keysOnly?: boolean;
  /** Only the count. */
  countOnly?: boolean;
  /** Oldest key first (by create revision) instead of key order. */
  oldestFirst?: boolean;
  /** Only keys last changed at this revision or later (`count` still counts them all). */
  minModRevision?: number;
}

/** The answer to a range: the keys, how many matched, and the revision read. */
export interface RangeResult {
  revision: number;
  kvs: KeyValue[];
  count: number;
  more: boolean;
}

/** A condition of a transaction (etcd's `Compare`). */
export type Compare =
  | { key: string; target: "CREATE" | "MOD" | "VERSION"; result: CompareResult; revision: number }
  | { key: string; target: "VALUE"; result: CompareResult; value: string };

/** How a `Compare` compares. */
export type CompareResult = "EQUAL" | "NOT_EQUAL" | "GREATER" | "LESS";

/** One operation of a transaction. */
export type Op =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: KeyRange }
  | { range: KeyRange };

/** What a transaction did: which branch ran, at which revision, and each operation's answer. */
export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** One per operation of the branch that ran: the keys of a range, the count of a delete. */
  responses: { kvs: KeyValue[]; deleted: number }[];
}

function rangeOf(range: KeyRange): Record<string, string> {
  const wire: Record<string, string> = { key: encode(range.key) };
  if (range.prefix) wire["range_end"] = prefixEnd(range.key);
  return wire;
}

/** Reads one key or a prefix; rejects as `EtcdClient.call` does. */
export async function range(
  client: EtcdClient,
  keys: KeyRange,
  options: RangeOptions = {},
): Promise<RangeResult> {
  const {
    revision, serializable, limit, keysOnly, countOnly, oldestFirst, minModRevision,
    ...callOptions
  } = options;
  const body: Record<string, unknown> = { ...rangeOf(keys) };
  if (revision !== undefined) body["revision"] = String(revision);
  if (serializable) body["serializable"] = true;
  if (limit !== undefined) body["limit"] = String(limit);
  if (keysOnly) body["keys_only"] = true;
  if (countOnly) body["count_only"] = true;
  if (oldestFirst) Object.assign(body, { sort_order: "ASCEND", sort_target: "CREATE" });
  if (minModRevision !== undefined) body["min_mod_revision"] = String(minModRevision);
  const answer = await client.call("kv/range", body, {
    ...callOptions,
    ...(serializable ? { requireLeader: false } : {}),
  });
  return {
    revision: parseHeader(answer).revision,
    kvs: listField(answer, "kvs").map(parseKeyValue),
    count: intField(answer, "count"),
    more: boolField(answer, "more"),
  };
}

/** Writes one key (attached to `lease` when given); resolves with the new revision. */
export async function put(
  client: EtcdClient,
  key: string,
  value: string,
  options: CallOptions & { lease?: string } = {},
): Promise<number> {
  const { lease, ...callOptions } = options;
  const body: Record<string, string> = { key: encode(key), value: encode(value) };
  if (lease !== undefined) body["lease"] = lease;
  return parseHeader(await client.call("kv/put", body, callOptions)).revision;
}

/** Deletes one key or a prefix; resolves with how many keys went and the revision. */
export async function deleteRange(
  client: EtcdClient,
  keys: KeyRange,
  options: CallOptions = {},
): Promise<{ deleted: number; revision: number }> {
  const answer = await client.call("kv/deleterange", rangeOf(keys), options);
  return { deleted: intField(answer, "deleted"), revision: parseHeader(answer).revision };
}

function compareWire(compare: Compare): Record<string, string> {
  const wire: Record<string, string> = {
    key: encode(compare.key),
    target: compare.target,
    result: compare.result,
  };
  if (compare.target === "VALUE") wire["value"] = encode(compare.value);
  else {
    const field = { CREATE: "create_revision", MOD: "mod_revision", VERSION: "version" };
    wire[field[compare.target]] = String(compare.revision);
  }
  return wire;
}

function opWire(op: Op): Record<string, unknown> {
  if ("put" in op) {
    const put: Record<string, string> = { key: encode(op.put.key), value: encode(op.put.value) };
    if (op.put.lease !== undefined) put["lease"] = op.put.lease;
    return { request_put: put };
  }
  if ("delete" in op) return { request_delete_range: rangeOf(op.delete) };
  return { request_range: rangeOf(op.range) };
}

/**
 * Runs a transaction: when every `compare` holds, `success`, otherwise `failure`, all at one
 * revision. Rejects as `EtcdClient.call` does (`EtcdError` code 3 for two writes of one key).
 */
export async function txn(
  client: EtcdClient,
  compare: readonly Compare[],
  success: readonly Op[],
  failure: readonly Op[] = [],
  options: CallOptions = {},
): Promise<TxnResult> {
  const answer = await client.call("kv/txn", {
    compare: compare.map(compareWire),
    success: success.map(opWire),
    failure: failure.map(opWire),
  }, options);
  const responses = listField(answer, "responses").map((item) => {
    const response = asObject(item, "response");
    const inner = asObject(
      response["response_range"] ?? response["response_delete_range"] ??
        response["response_put"] ?? {},
      "response",
    );
    return { kvs: listField(inner, "kvs").map(parseKeyValue), deleted: intField(inner, "deleted") };
  });
  return {
    succeeded: boolField(answer, "succeeded"),
    revision: parseHeader(answer).revision,
    responses,
  };
}

/**
 * Discards the history before `revision` (physically, once etcd confirms). Watches and reads
 * at older revisions fail afterwards with `EtcdError` code 11.
 */
export async function compact(
  client: EtcdClient,
  revision: number,
  options: CallOptions = {},
): Promise<void> {
  await client.call("kv/compaction", { revision: String(revision), physical: true }, options);
}
