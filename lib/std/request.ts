import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";

/** Options of `request`. */
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Bound on the whole exchange, connect to last byte. Default 5 s. */
  timeoutMs?: number;
  /** Aborting it abandons the request with `RequestError` code `EABORTED`. */
  signal?: AbortSignal;
  /** Largest response body read; a larger one fails with code `ETOOLARGE`. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Connection pool; default the keep-alive global agent of `node:http`/`node:https`. */
  agent?: http.Agent;
}

/** A complete response whose body has been read (and capped). */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body as UTF-8. */
  text(): string;
  /** The body parsed as JSON into `unknown`; throws `SyntaxError` on malformed JSON. */
  json(): unknown;
}

/**
 * A request that got no complete response. `code` is the system error code (`ECONNREFUSED`,
 * `ECONNRESET`, …) or one of ours: `ETIMEDOUT`, `EABORTED`, `ETOOLARGE`.
 */
export class RequestError extends Error {
  override name = "RequestError";
  readonly code: string;
  readonly url: string;

  constructor(url: string, code: string, message: string, options: { cause?: unknown } = {}) {
    super(`${message}: ${url}`, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.url = url;
  }
}

const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

/**
 * True when `error` means the peer could not be reached or dropped the connection: the
 * request was not answered, so another provider may be tried.
 */
export function isConnectionError(error: unknown): boolean {
  return error instanceof RequestError && connectionCodes.has(error.code);
}

/**
 * Sends one HTTP request and reads the whole response, within a timeout and a size cap.
 *
 * Resolves for every status (check `status`); rejects with `RequestError` when no complete
 * response arrived: a connection error, the timeout (`ETIMEDOUT`), the caller's abort
 * (`EABORTED`) or an oversized body (`ETOOLARGE`).
 */
export async function request(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  try {
    return await send(url, options);
  } catch (error) {
    // The peer closed a pooled keep-alive connection just as we reused it: the request never
    // reached it, so send it once more on a fresh connection (as the Node docs advise).
    if (error instanceof StaleSocketError) return send(url, options);
    throw error;
  }
}

class StaleSocketError extends RequestError {}

function send(url: string, options: RequestOptions): Promise<HttpResponse> {
  const { method = "GET", body, timeoutMs = 5_000, signal, maxResponseBytes = 1024 * 1024 } =
    options;
  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RequestError(url, "EABORTED", `${method} aborted`, { cause: signal.reason }));
      return;
    }
    const headers: Record<string, string | number> = { ...options.headers };
    if (body !== undefined) headers["Content-Length"] = Buffer.byteLength(body);
    let settled = false;
    const finish = (error: RequestError | undefined, response?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (error) {
        req.destroy();
        reject(error);
      } else if (response) {
        resolve(response);
      }
    };
    const onAbort = () =>
      finish(new RequestError(url, "EABORTED", `${method} aborted`, { cause: signal?.reason }));

    let req: http.ClientRequest;
    try {
      const client = url.startsWith("https:") ? https : http;
      const agent = options.agent;
      req = client.request(url, { method, headers, ...(agent ? { agent } : {}) });
    } catch (error) {
      reject(new RequestError(url, "EINVAL", `${method} invalid request`, { cause: error }));
      return;
    }
    // A timer of our own rather than AbortSignal.any([signal, AbortSignal.timeout(ms)]): on
    // Node 20 every such call leaves a dependant on the long-lived `signal` that is never
    // removed (20.20 still grows by one per call), and callers pass their service's lifetime.
    const timer = setTimeout(
      () => finish(new RequestError(url, "ETIMEDOUT", `${method} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });

    let responded = false;
    req.on("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? "EIO";
      const stale = req.reusedSocket && !responded && code === "ECONNRESET";
      const Failure = stale ? StaleSocketError : RequestError;
      finish(new Failure(url, code, `${method} failed`, { cause: error }));
    });
    req.on("response", (res) => {
      responded = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxResponseBytes) {
          const message = `${method} response over ${maxResponseBytes} bytes`;
          finish(new RequestError(url, "ETOOLARGE", message));
          return;
        }
        chunks.push(chunk);
      });
      res.on("error", (error: NodeJS.ErrnoException) => {
        const code = error.code ?? "EIO";
        finish(new RequestError(url, code, `${method} response failed`, { cause: error }));
      });
      res.on("close", () => {
        if (!res.complete) {
          finish(new RequestError(url, "ECONNRESET", `${method} response cut short`));
        }
      });
      res.on("end", () => {
        const data = Buffer.concat(chunks, size);
        finish(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: data,
          text: () => data.toString("utf8"),
          json: () => JSON.parse(data.toString("utf8")) as unknown,
        });
      });
    });
    req.end(body);
  });
}
