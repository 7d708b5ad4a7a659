// The etcd v3 JSON gateway's encoding (README "Running a registry cluster"): keys and values
// are standard base64 with padding, int64s arrive as JSON strings, and fields holding a zero
// value are left out of responses, so "missing" means 0, false or [].
import { ValidationError } from "../std/errors.ts";

/** A key-value pair as etcd stores it; revisions are numbers, the lease ID stays a string. */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The lease the key is attached to; `"0"` for none. Larger than 2^53: never a Number. */
  lease: string;
}

/** The header every gateway answer carries. */
export interface ResponseHeader {
  /** The store revision when the answer was produced (absent in some stream messages: 0). */
  revision: number;
  memberId: string;
  raftTerm: number;
}

/** Encodes text (or bytes) as etcd's gateway expects bytes: base64 with padding. */
export function encode(text: string | Uint8Array): string {
  return Buffer.from(text).toString("base64");
}

/** Decodes a base64 field of a gateway answer to UTF-8 text. */
export function decode(base64: string): string {
  return Buffer.from(base64, "base64").toString("utf8");
}

/**
 * The base64 `range_end` that makes a range cover every key starting with `prefix`: the
 * prefix with trailing 0xff bytes dropped and its last byte incremented, or `"\0"` (the end of
 * the keyspace) when nothing is left, as etcd's clientv3 `GetPrefixRangeEnd` does.
 */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = bytes[i] ?? 0xff;
    if (byte < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = byte + 1;
      return end.toString("base64");
    }
  }
  return encode("\0");
}

/** Narrows `value` to a plain object, or throws `ValidationError` naming `what`. */
export function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError(`etcd: ${what}: not an object`);
  }
  return value as Record<string, unknown>;
}

/** The string field `name` of `object`; `""` when it is missing (a zero value). */
export function stringField(object: Record<string, unknown>, name: string): string {
  const value = object[name];
  if (value === undefined) return "";
  if (typeof value !== "string") throw new ValidationError(`etcd: ${name}: not a string`);
  return value;
}

/**
 * The int64 field `name` as a number; 0 when missing. Accepts the gateway's strings and plain
 * numbers; throws `ValidationError` for anything else or a value beyond 2^53 (revisions and
 * counts stay far below it; IDs must be read with `idField`).
 */
export function intField(object: Record<string, unknown>, name: string): number {
  const value = object[name];
  if (value === undefined) return 0;
  const number = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number)) {
    throw new ValidationError(`etcd: ${name}: not an integer`);
  }
  return number;
}

/** An ID field (lease, member) as its decimal string; `"0"` when missing. */
export function idField(object: Record<string, unknown>, name: string): string {
  const value = object[name];
  if (value === undefined) return "0";
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) {
    throw new ValidationError(`etcd: ${name}: not an ID`);
  }
  return value;
}

/** The boolean field `name`; false when missing. */
export function boolField(object: Record<string, unknown>, name: string): boolean {
  const value = object[name];
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw new ValidationError(`etcd: ${name}: not a boolean`);
  return value;
}

/** The list field `name`; `[]` when missing. */
export function listField(object: Record<string, unknown>, name: string): unknown[] {
  const value = object[name];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ValidationError(`etcd: ${name}: not a list`);
  return value;
}

/** Parses an answer's `header`; a missing header reads as revision 0. */
export function parseHeader(answer: Record<string, unknown>): ResponseHeader {
  const header = answer["header"] === undefined ? {} : asObject(answer["header"], "header");
  return {
    revision: intField(header, "revision"),
    memberId: idField(header, "member_id"),
    raftTerm: intField(header, "raft_term"),
  };
}

/** Parses one `mvccpb.KeyValue` of the gateway (a DELETE event's has only key and revision). */
export function parseKeyValue(value: unknown): KeyValue {
  const kv = asObject(value, "kv");
  return {
    key: decode(stringField(kv, "key")),
    value: decode(stringField(kv, "value")),
    createRevision: intField(kv, "create_revision"),
    modRevision: intField(kv, "mod_revision"),
    version: intField(kv, "version"),
    lease: idField(kv, "lease"),
  };
}
