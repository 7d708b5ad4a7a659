import type http from "node:http";
import { describeError } from "../std/errors.ts";
import { request, RequestError } from "../std/request.ts";
import type { Outcome } from "./health-policy.ts";

/** Options of `checkHeartbeat`. */
export interface HeartbeatOptions {
  timeoutMs: number;
  /** Aborting it ends the check at once, as a `fail`. */
  signal: AbortSignal;
  /** The pool the connection comes from (the crash probe's). */
  agent: http.Agent;
}

/** How a heartbeat check ended, and a few words for the log. */
export interface HeartbeatResult {
  outcome: Outcome;
  detail: string;
}

const maxHeartbeatBytes = 64 * 1024;

/**
 * Checks one heartbeat: `GET url` within `timeoutMs`; any 2xx passes. Never rejects: every
 * way it can end is an outcome (`refused` for ECONNREFUSED, `reset` for ECONNRESET or EPIPE).
 */
export async function checkHeartbeat(
  url: string,
  options: HeartbeatOptions,
): Promise<HeartbeatResult> {
  try {
    const response = await request(url, { ...options, maxResponseBytes: maxHeartbeatBytes });
    const passed = response.status >= 200 && response.status < 300;
    return { outcome: passed ? "pass" : "fail", detail: `status ${response.status}` };
  } catch (error) {
    const code = error instanceof RequestError ? error.code : "";
    const outcome = code === "ECONNREFUSED" ? "refused"
      : code === "ECONNRESET" || code === "EPIPE" ? "reset"
      : "fail";
    return { outcome, detail: describeError(error) };
  }
}
