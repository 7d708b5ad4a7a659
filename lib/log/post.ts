import type { IncomingMessage, ServerResponse } from "node:http";
import { collectBody, HttpError, sendError } from "../std/http.ts";
import type { Logger } from "../std/log.ts";
import { entryLines } from "./ingest.ts";
import type { AppendCallback } from "./sink.ts";

/** Appends entry lines durably; `done` is called once, with an error when not stored. */
export type Append = (text: string, count: number, done: AppendCallback) => void;

/**
 * The handler of `POST /log`: reads the body (64 KiB at most), turns it into entry lines
 * stamped with `head()` (see `entryLines`), hands them to `append` and answers `200` once they
 * are durable, `500` when they could not be stored, `400`/`413` for bad input (nothing
 * appended then). It answers its own errors (`sendError`, logged once to `log`), so the whole
 * request is callbacks: no promise between the body and the answer. Never throws.
 */
export function postHandler(append: Append, head: () => string,
  log?: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  const fail = (res: ServerResponse, error: unknown): void => sendError(res, error, log);
  const answer = (res: ServerResponse, error: unknown): void => {
    if (error === undefined) {
      try {
        res.writeHead(200, { "Content-Length": 0 });
        res.end();
      } catch (failure) {
        fail(res, failure);
      }
      return;
    }
    // The sink has logged the cause once for the whole round.
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    fail(res, new HttpError(500, `log: entry not stored: write failed${code ? ` (${code})` : ""}`, {
      cause: error,
    }));
  };
  return (req, res) => {
    collectBody(req, {}, (error, body) => {
      if (error) return fail(res, error);
      try {
        const { text, count } = entryLines(req.headers["content-type"], body, head());
        append(text, count, (failure) => answer(res, failure));
      } catch (error) {
        fail(res, error);
      }
    });
  };
}
