import { ValidationError } from "../std/errors.ts";

/** What the log service tells an ingest worker (IPC). */
export type ToWorker =
  /** Who it works for: the entry prefix, and the service URL requests it does not take go to. */
  | { type: "config"; prefix: string; url: string }
  /** A connection (its socket rides along), with the bytes already read from it. */
  | { type: "connection"; head: string }
  /** A batch is durable (no `code`), or was not stored (`code`: the error code, or ""). */
  | { type: "stored"; id: number; code?: string }
  /** Finish the requests in flight, then exit. */
  | { type: "stop" };

/** What an ingest worker tells the log service (IPC). */
export type FromWorker =
  /** Started: it can be configured. */
  | { type: "ready" }
  /** Entry lines to append durably, answered with `stored` and the same `id`. */
  | { type: "append"; id: number; text: string; count: number };

function record(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null) {
    throw new ValidationError("log worker: message: not an object");
  }
  return value as Record<string, unknown>;
}

function field<T extends "string" | "number">(raw: Record<string, unknown>, name: string,
  kind: T): T extends "string" ? string : number {
  const value = raw[name];
  if (typeof value !== kind || (kind === "number" && !Number.isSafeInteger(value))) {
    throw new ValidationError(`log worker: message: ${name} must be a ${kind}`);
  }
  return value as T extends "string" ? string : number;
}

/** Accepts a message to a worker, or throws `ValidationError`. */
export function parseToWorker(value: unknown): ToWorker {
  const raw = record(value);
  switch (raw["type"]) {
    case "config":
      return { type: "config", prefix: field(raw, "prefix", "string"),
        url: field(raw, "url", "string") };
    case "connection":
      return { type: "connection", head: field(raw, "head", "string") };
    case "stored": {
      const id = field(raw, "id", "number");
      return raw["code"] === undefined ? { type: "stored", id }
        : { type: "stored", id, code: field(raw, "code", "string") };
    }
    case "stop":
      return { type: "stop" };
    default:
      throw new ValidationError(`log worker: message: unknown type ${String(raw["type"])}`);
  }
}

/** Accepts a message from a worker, or throws `ValidationError`. */
export function parseFromWorker(value: unknown): FromWorker {
  const raw = record(value);
  if (raw["type"] === "ready") return { type: "ready" };
  if (raw["type"] === "append") {
    return { type: "append", id: field(raw, "id", "number"), text: field(raw, "text", "string"),
      count: field(raw, "count", "number") };
  }
  throw new ValidationError(`log worker: message: unknown type ${String(raw["type"])}`);
}
