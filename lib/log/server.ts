import type { IncomingMessage, ServerResponse } from "node:http";
import { bearerCheck, bearerMatcher } from "../std/auth.ts";
import type { FastRoute } from "../std/fastpath.ts";
import { collectBody, HttpError, maxBodyBytes, sendError, type Handler } from "../std/http.ts";
import type { Logger } from "../std/log.ts";
import type { Metrics } from "../std/metrics.ts";
import { createRouter } from "../std/router.ts";
import { entryHead } from "./entry.ts";
import { createFollowers } from "./follow.ts";
import { entryLines } from "./ingest.ts";
import { lineFilter } from "./match.ts";
import { filters, parseLogQuery } from "./query.ts";
import { createTailReader } from "./reader.ts";
import { createRecent } from "./recent.ts";
import { openSink, type SinkFile } from "./sink.ts";

/** Options of `createLogServer`. */
export interface LogServerOptions {
  /** File the entries are appended to; created when missing, kept open. */
  file: string;
  /** Written before each entry's timestamp, as Go's `log.New(w, prefix, …)`; default `"go "`. */
  prefix?: string;
  /** Clock of the entry timestamps; injected by tests. */
  now?: () => Date;
  /** Where bad requests (once each) and failed writes are reported. */
  log?: Logger;
  /** Opens the file for appending; tests inject faults through it (see `SinkOptions.open`). */
  open?: (file: string) => Promise<SinkFile>;
  /** Rotate the file once it reaches this many bytes; 0 never. Default 64 MiB. */
  maxBytes?: number;
  /** Rotated files kept (`file.1` … `file.keep`). Default 5. */
  keep?: number;
  /** Recent entries kept in memory for `GET /log`, in bytes. Default 16 MiB. */
  recentBytes?: number;
  /** Ends every `follow` answer when it aborts (the service is stopping). */
  signal?: AbortSignal;
  /**
   * Shared bearer token: when set, `POST /log` without `Authorization: Bearer <token>` is
   * answered `401` and nothing is written (docs/protocol.md#security). Reading stays open.
   */
  token?: string;
  /**
   * Where the log file's figures are counted (`log_entries_total`, `log_bytes_total`,
   * `log_group_commits_total`, `log_fdatasync_duration_seconds`, `log_rotations_total`): the
   * service's metrics, answered at `GET /metrics`.
   */
  metrics?: Metrics;
}

/** A log service: its handler, its counters and the way to close its file. */
export interface LogServer {
  /** Answers `POST /log` and `GET /log`; everything else `404`/`405`. */
  handler: Handler;
  /**
   * `POST /log` on raw sockets (`listen`'s `fastPath`): takes the plain, valid, authorized
   * requests and leaves every other one to `handler`, so the answers are the same.
   */
  fastPath: FastRoute;
  /** Ends the follow answers, waits for pending writes and closes the file; close the HTTP
   * server first. */
  close(): Promise<void>;
  /** fdatasyncs done so far: with group commit, far fewer than `entries` under load. */
  readonly fsyncs: number;
  /** Entries durably written so far. */
  readonly entries: number;
  /** `GET /log?follow=1` answers open now. */
  readonly followers: number;
}

/** Default `maxBytes`: the file is rotated at 64 MiB. */
export const defaultMaxBytes = 64 * 1024 * 1024;
/** Default `keep`: five rotated files. */
export const defaultKeep = 5;

/**
 * Opens the log file and returns the log service of docs/protocol.md#log-service.
 *
 * `POST /log` takes one entry as text (any type but JSON) or a JSON array of strings (a batch,
 * all appended together) and answers `200` only once the entries are written and fdatasynced,
 * or `500` when that failed. Bad input is answered `400` (empty, malformed, not an array of
 * non-empty strings), `401` (no token, when one is set) or `413` (over 64 KiB) and changes
 * nothing. `GET /log` answers the newest durable entries that match its filters, as text;
 * with `follow=1` it then streams new ones.
 * Rejects when the file cannot be opened.
 */
export async function createLogServer(options: LogServerOptions): Promise<LogServer> {
  const { file, prefix = "go ", now = () => new Date(), log, signal } = options;
  const authorize = bearerCheck(options.token, "log");
  const authorized = bearerMatcher(options.token);
  const keep = options.keep ?? defaultKeep;
  const recent = createRecent(options.recentBytes ?? 16 * 1024 * 1024);
  const followers = createFollowers();
  const sink = await openSink({
    file,
    maxBytes: options.maxBytes ?? defaultMaxBytes,
    keep,
    onDurable: (data, _count, start, generation) => {
      recent.add(data, generation, start);
      followers.publish(data);
    },
    ...(options.open ? { open: options.open } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(log ? { log } : {}),
  });
  const reader = createTailReader({ file, prefix, recent, keep,
    position: () => ({ size: sink.size, generation: sink.generation }) });
  const head = entryHead(prefix, now);
  if (signal?.aborted) followers.close();
  else signal?.addEventListener("abort", () => followers.close(), { once: true });

  // Answers its own errors (as the router would, with `sendError` and `log`) so that the
  // whole request is callbacks: no promise, no async function between the body and the 200.
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
    fail(res, notStored(error));
  };

  // One request's entries, formatted and appended; `done` once durable or failed. Throws
  // `ValidationError` for a bad body, having appended nothing.
  const store = (contentType: string | undefined, body: Buffer,
    done: (failure?: unknown) => void): void => {
    const { text, count } = entryLines(contentType, body, head());
    sink.append(text, count, done);
  };

  const post = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      authorize(req);
    } catch (error) {
      return fail(res, error);
    }
    collectBody(req, {}, (error, body) => {
      if (error) return fail(res, error);
      try {
        store(req.headers["content-type"], body, (failure) => answer(res, failure));
      } catch (error) {
        fail(res, error);
      }
    });
  };

  const get = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? "/";
    const question = url.indexOf("?");
    const query = parseLogQuery(question === -1 ? "" : url.slice(question + 1));
    if (query.follow) {
      const filter = filters(query) ? lineFilter(query, prefix) : undefined;
      return followers.follow(res, filter, (send) => reader.read(query, send));
    }
    await reader.read(query, (data) => {
      res.writeHead(200, {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": data.length,
        "X-Content-Type-Options": "nosniff",
      });
      res.end(data);
    });
  };

  // The same work as `post`, for requests read by the fast path: anything it would refuse is
  // left to `post`, which refuses it (and logs it) the usual way.
  const fastPath: FastRoute = {
    method: "POST",
    path: "/log",
    limit: maxBodyBytes,
    take(request, body, reply) {
      if (!authorized(request.authorization)) return false;
      try {
        store(request.contentType, body, (failure) => {
          if (failure === undefined) return reply(200);
          const error = notStored(failure);
          log?.(`POST /log: 500 ${error.message}`);
          reply(500, JSON.stringify({ error: error.message }));
        });
      } catch {
        return false;
      }
      return true;
    },
  };

  const handler = createRouter([{ path: "/log", methods: { POST: post, GET: get } }], {
    ...(log ? { log } : {}),
  });

  return {
    handler,
    fastPath,
    close: () => {
      followers.close();
      return sink.close();
    },
    get fsyncs() {
      return sink.fsyncs;
    },
    get entries() {
      return sink.entries;
    },
    get followers() {
      return followers.count;
    },
  };
}

// The answer to an entry whose round failed: the error code, never the message (a path).
function notStored(error: unknown): HttpError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new HttpError(500, `log: entry not stored: write failed${code ? ` (${code})` : ""}`, {
    cause: error,
  });
}
