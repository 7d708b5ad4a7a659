import type { IncomingMessage, ServerResponse } from "node:http";
import { describeError, NotFoundError, UnavailableError, ValidationError } from "./errors.ts";

/** A request handler: Go's `http.Handler` as one function. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Largest request body any endpoint accepts (docs/protocol.md#bad-input). */
export const maxBodyBytes = 64 * 1024;

/**
 * An error whose status and message are safe to send to the client.
 *
 * Anything else that reaches the HTTP boundary is answered `500` with a generic message.
 */
export class HttpError extends Error {
  override name = "HttpError";
  readonly status: number;
  /** Extra response headers, e.g. `Allow` on a 405. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.status = status;
    this.headers = options.headers ?? {};
  }
}

/** Options of the body readers. */
export interface ReadBodyOptions {
  /** Largest accepted body in bytes; a larger one is refused with `413`. */
  limit?: number;
}

/** Called once by `collectBody`: with the error, or with `undefined` and the whole body. */
export type BodyCallback = (error: HttpError | undefined, body: Buffer) => void;

const noBody = Buffer.alloc(0);

/**
 * The callback form of `readText`, for hot paths (the log service's `POST /log`): the same
 * limit, errors and discarding, without a promise or decoding. `done` is called exactly once,
 * right away for a declared `Content-Length` over the limit; its body is empty when there is an
 * error.
 */
export function collectBody(
  req: IncomingMessage,
  options: ReadBodyOptions,
  done: BodyCallback,
): void {
  const limit = options.limit ?? maxBodyBytes;
  if (Number(req.headers["content-length"]) > limit) {
    done(new HttpError(413, `request body larger than ${limit} bytes`), noBody);
    return;
  }
  let first: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  // The listeners stay on the request (it is dropped after the answer) and ignore what
  // comes after the outcome: cheaper than removing four listeners per request.
  let settled = false;
  req.on("data", (chunk: Buffer) => {
    if (settled) return;
    size += chunk.length;
    if (size > limit) {
      // The rest is read and dropped; the 413 answer closes the connection (see sendError).
      settled = true;
      done(new HttpError(413, `request body larger than ${limit} bytes`), noBody);
    } else if (first === undefined) {
      first = chunk;
    } else {
      (chunks ??= [first]).push(chunk);
    }
  });
  req.on("end", () => {
    if (settled) return;
    settled = true;
    done(undefined, chunks ? Buffer.concat(chunks, size) : (first ?? noBody));
  });
  const onAbort = (error?: unknown) => {
    if (settled) return;
    settled = true;
    done(new HttpError(400, "request body: connection aborted", { cause: error }), noBody);
  };
  req.on("error", onAbort);
  req.on("close", onAbort);
}

/**
 * Reads the whole request body as UTF-8 text, refusing it with `HttpError(413)` once it passes
 * `limit`.
 *
 * A declared `Content-Length` over the limit is refused before any byte is read. On 413 the
 * rest of the body is discarded; the caller's answer closes the connection (see `sendError`).
 * A client that goes away mid-body gets `HttpError(400)`.
 */
export async function readText(
  req: IncomingMessage,
  options: ReadBodyOptions = {},
): Promise<string> {
  const body = await new Promise<Buffer>((resolve, reject) => {
    collectBody(req, options, (error, bytes) => (error ? reject(error) : resolve(bytes)));
  });
  return body.toString("utf8");
}

/**
 * Reads and parses a JSON body into `unknown`; parse it further with a `parseX` function.
 *
 * Throws `HttpError(400)` for an empty body or malformed JSON, `413` for an oversized one.
 */
export async function readJSON(
  req: IncomingMessage,
  options: ReadBodyOptions = {},
): Promise<unknown> {
  const text = await readText(req, options);
  if (text.trim() === "") throw new HttpError(400, "request body: empty, expected JSON");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `request body: malformed JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Sends `value` as a JSON answer with `status`. */
export function sendJSON(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value));
}

/** Sends a plain-text answer with `status`. */
export function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, status, "text/plain; charset=utf-8", text);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    "Content-Type": contentType,
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Turns any thrown value into the JSON error answer of every service: `{"error": message}`.
 *
 * An `HttpError` keeps its status, headers and message; the plain errors of domain code are
 * answered with their message too (`ValidationError` 400, `NotFoundError` 404,
 * `UnavailableError` 503); anything else is answered `500` with a generic message, so
 * internals never leak to clients. With `log`, every error is reported there
 * once — a client mistake as `POST /log: 413 …`, anything else as an internal
 * error with its causes. Refused bodies (413, or 400 for an unfinished one) close the
 * connection, because the rest of the body is still on the wire.
 */
export function sendError(
  res: ServerResponse,
  error: unknown,
  log?: (message: string) => void,
): void {
  const known = asHttpError(error);
  if (known) {
    const url = (res.req.url ?? "?").slice(0, 200);
    log?.(`${res.req.method ?? "?"} ${url}: ${known.status} ${known.message}`);
  } else {
    log?.(`internal error: ${describeError(error)}`);
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = known?.status ?? 500;
  for (const [name, value] of Object.entries(known?.headers ?? {})) res.setHeader(name, value);
  if (status === 413 || (status === 400 && !res.req.complete)) res.setHeader("Connection", "close");
  sendJSON(res, status, { error: known?.message ?? "internal server error" });
}

/** The HTTP form of an error whose message is safe to show, or `undefined` for any other. */
export function asHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  const status =
    error instanceof ValidationError ? 400
    : error instanceof NotFoundError ? 404
    : error instanceof UnavailableError ? 503
    : undefined;
  return status === undefined ? undefined : new HttpError(status, (error as Error).message, {
    cause: error,
  });
}

/** The path of a request URL: everything before the query. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return "/";
  const question = url.indexOf("?");
  return question === -1 ? url : url.slice(0, question);
}
