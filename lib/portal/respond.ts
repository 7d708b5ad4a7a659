import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../std/log.ts";
import { asHttpError } from "../std/http.ts";
import { describeError } from "../std/errors.ts";
import { errorPage, liveScriptHash } from "./layout.ts";

/** Headers of every portal answer: defence in depth behind the escaping. */
export const securityHeaders: Readonly<Record<string, string>> = {
  // No script runs but the portal's own (by its hash); it may only open event streams back
  // here; forms only post back here.
  "Content-Security-Policy":
    `default-src 'none'; style-src 'unsafe-inline'; script-src ${liveScriptHash}; ` +
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

/** Renders any error as an HTML page with its status; unexpected ones are logged as 500. */
export function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  log: Logger,
): void {
  const known = asHttpError(error);
  const where = `${req.method ?? "?"} ${(req.url ?? "/").slice(0, 200)}`;
  if (res.destroyed) {
    // The browser left; whatever failed after that (an aborted call) is nobody's answer.
    log(`${where}: client went away before the answer`);
    return;
  }
  if (known) {
    // The page's message is written to be complete; its causes would only repeat it.
    log(`${where}: ${known.status} ${known.message}`);
  } else {
    log(`internal error: ${where}: ${describeError(error)}`);
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = known?.status ?? 500;
  const message = known?.message ?? "Something went wrong in the portal; the error is in the log.";
  const headers: Record<string, string> = { ...known?.headers };
  // The rest of a refused body is still on the wire (see sendError).
  if (status === 413 || (req.method === "POST" && !req.complete)) headers["Connection"] = "close";
  sendPage(res, status, errorPage(status, message), headers);
}

/** Sends an HTML page with the portal's security headers. */
export function sendPage(
  res: ServerResponse,
  status: number,
  page: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...securityHeaders,
    ...headers,
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": Buffer.byteLength(page),
  });
  res.end(page);
}

/** Answers a redirect to `location` with `status` (302, or 303 after a form POST). */
export function redirect(res: ServerResponse, status: number, location: string): void {
  res.writeHead(status, { ...securityHeaders, Location: location, "Content-Length": 0 });
  res.end();
}

/** Answers `204 No Content` with the portal's security headers. */
export function noContent(res: ServerResponse): void {
  res.writeHead(204, securityHeaders);
  res.end();
}

/** A signal that aborts when the browser goes away before its answer was sent. */
export function abandoned(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort(new Error("portal: client went away"));
  });
  return controller.signal;
}

/** The query parameters of a request URL. */
export function queryOf(req: IncomingMessage): URLSearchParams {
  const url = req.url ?? "/";
  const question = url.indexOf("?");
  return new URLSearchParams(question === -1 ? "" : url.slice(question + 1));
}
