import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { RequestError } from "./request.ts";

/** Options of `openStream`. */
export interface StreamOptions {
  headers?: Record<string, string>;
  /** Bound on the wait for the response headers (the body may take as long as it likes). */
  timeoutMs?: number;
  /** Aborting it abandons the request, or destroys the body once it is streaming. */
  signal?: AbortSignal;
  /** Connection pool; default a fresh connection (a stream holds it for its whole life). */
  agent?: http.Agent;
}

/** A response whose body is still to be read, as a stream. */
export interface OpenStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body; the caller reads it (or destroys it) — an unread body holds the connection. */
  body: IncomingMessage;
}

/**
 * GETs `url` and resolves as soon as the response headers arrived, leaving the body to the
 * caller as a stream: for answers that are long (read only the part needed) or never end
 * (a followed log, server-sent events).
 *
 * Rejects with `RequestError` when no response came: a connection error, the timeout
 * (`ETIMEDOUT`) or the caller's abort (`EABORTED`). Aborting later destroys the body, which
 * then emits `error` to its reader (code `ETIMEDOUT` when the signal's reason is a timeout).
 */
export function openStream(url: string, options: StreamOptions = {}): Promise<OpenStream> {
  const { timeoutMs = 5_000, signal } = options;
  return new Promise<OpenStream>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RequestError(url, "EABORTED", "GET aborted", { cause: signal.reason }));
      return;
    }
    let req: http.ClientRequest;
    try {
      const client = url.startsWith("https:") ? https : http;
      const agent = options.agent ?? false;
      req = client.request(url, { method: "GET", headers: options.headers ?? {}, agent });
    } catch (error) {
      reject(new RequestError(url, "EINVAL", "GET invalid request", { cause: error }));
      return;
    }
    let body: IncomingMessage | undefined;
    const fail = (error: RequestError) => {
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };
    const onAbort = () => {
      // A signal that timed out (AbortSignal.timeout, e.g. a bound on reading the body) is a
      // timeout to the reader, not an abandoned request.
      const timedOut = (signal?.reason as Error | undefined)?.name === "TimeoutError";
      const [code, what] = timedOut ? ["ETIMEDOUT", "GET timed out"] : ["EABORTED", "GET aborted"];
      const error = new RequestError(url, code, what, { cause: signal?.reason });
      if (body) body.destroy(error);
      else fail(error);
    };
    const timer = setTimeout(
      () => fail(new RequestError(url, "ETIMEDOUT", `GET timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? "EIO";
      if (body === undefined) fail(new RequestError(url, code, "GET failed", { cause: error }));
    });
    req.on("response", (res) => {
      clearTimeout(timer);
      body = res;
      res.once("close", () => signal?.removeEventListener("abort", onAbort));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    req.end();
  });
}
