// What the bench and its load generator processes say to each other over IPC.
import type { ConnectionLog } from "./entries.ts";

/** What the generator is told to do for one run (an IPC message). */
export interface LoadConfig {
  url: string;
  connections: number;
  /** Numbers this process's connections from here (several processes share a run). */
  firstConnection: number;
  /** Written into every entry, so runs can be told apart in the file. */
  run: number;
  warmupMs: number;
  durationMs: number;
  /**
   * "text": one short entry per request; "batch": a JSON array of `batchSize` entries;
   * "read": `GET` of the URL (its query included), the answer read and dropped.
   */
  mode: "text" | "batch" | "read";
  batchSize: number;
}

/** What the generator reports at the end. */
export interface LoadResult {
  type: "result";
  /** 200 answers completed inside the measured window. */
  ok: number;
  /** Other statuses and failed requests inside the window. */
  bad: number;
  errors: number;
  /** 200 answers over the whole run, warm-up included. */
  okTotal: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  firstError: string;
  /** Per connection (from `firstConnection`): what it sent, for the file check. */
  connections: ConnectionLog[];
}

/** Accepts a LoadConfig from decoded JSON or throws. */
export function parseLoadConfig(value: unknown): LoadConfig {
  if (typeof value !== "object" || value === null) {
    throw new Error("loadgen: config: not an object");
  }
  const raw = value as Record<string, unknown>;
  const number = (name: string, max: number): number => {
    const field = raw[name];
    if (typeof field !== "number" || !Number.isInteger(field) || field < 0 || field > max) {
      throw new Error(`loadgen: config: ${name} must be an integer 0…${max}`);
    }
    return field;
  };
  const mode = raw["mode"];
  if (mode !== "text" && mode !== "batch" && mode !== "read") {
    throw new Error("loadgen: config: mode text, batch or read");
  }
  if (typeof raw["url"] !== "string") throw new Error("loadgen: config: url must be a string");
  const url = new URL(raw["url"]);
  if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost") {
    throw new Error("loadgen: config: only loopback targets");
  }
  return {
    url: raw["url"],
    connections: Math.max(1, number("connections", 1_024)),
    firstConnection: number("firstConnection", 1_000_000),
    run: number("run", 1_000_000),
    warmupMs: number("warmupMs", 10_000),
    // Bounded: a generator never runs longer than a minute.
    durationMs: Math.max(100, number("durationMs", 60_000)),
    mode,
    batchSize: Math.max(1, number("batchSize", 1_000)),
  };
}

/** Accepts the generator's result message from IPC, or throws. */
export function parseLoadResult(value: unknown): LoadResult {
  if (typeof value !== "object" || value === null) {
    throw new Error("loadgen: result: not an object");
  }
  const raw = value as Record<string, unknown>;
  for (const name of ["ok", "bad", "errors", "okTotal", "latencyP50Ms", "latencyP99Ms"]) {
    if (typeof raw[name] !== "number") throw new Error(`loadgen: result: ${name} not a number`);
  }
  if (raw["type"] !== "result" || typeof raw["firstError"] !== "string" ||
    !Array.isArray(raw["connections"])) {
    throw new Error("loadgen: result: malformed");
  }
  return value as LoadResult;
}

