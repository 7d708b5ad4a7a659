import { connect } from "node:net";
import { describeError } from "../std/errors.ts";

/** Options of `probeOrigin`. */
export interface OriginProbeOptions {
  timeoutMs: number;
  /** Aborting it ends the probe at once, as `fail`. */
  signal: AbortSignal;
}

/** What a probe found: `refused` (nothing listens), `open`, or `fail` (anything else). */
export interface OriginProbeResult {
  outcome: "refused" | "open" | "fail";
  detail: string;
}

/**
 * Tells whether anything listens on `host`:`port`: opens a TCP connection and closes it at
 * once. Never rejects. It is the health checker's look at a host:port it believes dead — a
 * fraction of the cost of a heartbeat `GET` (no HTTP request, agent or response), which
 * matters when thousands of them must be looked at: a refusal says the same for every entry
 * there, and a host:port that accepts is then checked entry by entry as usual.
 */
export function probeOrigin(
  host: string,
  port: number,
  options: OriginProbeOptions,
): Promise<OriginProbeResult> {
  const { timeoutMs, signal } = options;
  return new Promise<OriginProbeResult>((resolve) => {
    if (signal.aborted) return resolve({ outcome: "fail", detail: "connect aborted" });
    const socket = connect({ host, port });
    let settled = false;
    const finish = (result: OriginProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ outcome: "fail", detail: "connect aborted" });
    const timer = setTimeout(() => finish({ outcome: "fail",
      detail: `connect timed out after ${timeoutMs} ms` }), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => finish({ outcome: "open", detail: "connected" }));
    socket.once("error", (error: NodeJS.ErrnoException) => finish({
      outcome: error.code === "ECONNREFUSED" ? "refused" : "fail",
      detail: describeError(error),
    }));
  });
}
