import type { IncomingMessage, ServerResponse } from "node:http";
import { open } from "node:fs/promises";
import {
  collectBody,
  HttpError,
  sendError,
  sendText,
  type Handler,
} from "../std/http.ts";
import { createRouter } from "../std/router.ts";
import { entryHead, escapeMessage } from "./entry.ts";
import type { Logger } from "../std/log.ts";
import { openSink, type AppendCallback, type SinkFile } from "./sink.ts";

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
}

/** A log service: its handler, its counters and the way to close its file. */
export interface LogServer {
  /** Answers `POST /log` and `GET /log`; everything else `404`/`405`. */
  handler: Handler;
  /** Waits for pending writes and closes the file; close the HTTP server first. */
  close(): Promise<void>;
  /** fdatasyncs done so far: with group commit, far fewer than `entries` under load. */
  readonly fsyncs: number;
  /** Entries durably written so far. */
  readonly entries: number;
}

/** How many entries `GET /log` answers without `?lines=`. */
export const defaultTailLines = 100;
/** The largest `lines` `GET /log` accepts (docs/protocol.md#wire-protocol). */
export const maxTailLines = 10_000;
// A tail answer never reads more than this, whatever the file holds.
const maxTailBytes = 8 * 1024 * 1024;
const tailChunkBytes = 64 * 1024;

/**
 * Opens the log file and returns the log service of docs/protocol.md#wire-protocol and §4.3.
 *
 * `POST /log` takes one entry as text (any type but JSON) or a JSON array of strings (a batch,
 * all appended together) and answers `200` only once the entries are written and fsynced, or
 * `500` when that failed. Bad input is answered `400` (empty, malformed, not an array of
 * non-empty strings) or `413` (over 64 KiB) and changes nothing. `GET /log?lines=N` answers
 * the last N durable entries as text. Rejects when the file cannot be opened.
 */
export async function createLogServer(options: LogServerOptions): Promise<LogServer> {
  const { file, prefix = "go ", now = () => new Date(), log } = options;
  const sink = await openSink({
    file,
    ...(options.open ? { open: options.open } : {}),
    ...(log ? { log } : {}),
  });
  const head = entryHead(prefix, now);

  // Answers its own errors (as the router would, with `sendError` and `log`) so that the
  // whole request is callbacks: no promise, no async function between the body and the 200.
  const fail = (res: ServerResponse, error: unknown): void => sendError(res, error, log);
  const stored = (res: ServerResponse): void => {
    try {
      res.writeHead(200, { "Content-Length": 0 });
      res.end();
    } catch (error) {
      fail(res, error);
    }
  };
  const notStored = (res: ServerResponse, error: unknown): void => {
    // The sink has logged the cause once for the whole round.
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    fail(res, new HttpError(500, `log: entry not stored: write failed${code ? ` (${code})` : ""}`, {
      cause: error,
    }));
  };
  // Formats the entry lines of a body and appends them; throws HttpError(400) for bad input.
  const append = (req: IncomingMessage, body: Buffer, done: AppendCallback): void => {
    if (body.length === 0) throw new HttpError(400, "log: empty body, expected an entry");
    if (!isJSON(req.headers["content-type"])) {
      const message = escapeMessage(body.toString("utf8"));
      if (message === "") throw new HttpError(400, "log: empty entry");
      return sink.append(`${head()}${message}\n`, 1, done);
    }
    const messages = parseBatch(body);
    const start = head();
    let text = "";
    for (let index = 0; index < messages.length; index++) {
      const escaped = escapeMessage(messages[index] ?? "");
      if (escaped === "") throw new HttpError(400, `log: element ${index}: empty entry`);
      text += `${start}${escaped}\n`;
    }
    sink.append(text, messages.length, done);
  };

  const post = (req: IncomingMessage, res: ServerResponse): void => {
    collectBody(req, {}, (error, body) => {
      if (error) return fail(res, error);
      try {
        append(req, body, (failure) => {
          if (failure === undefined) stored(res);
          else notStored(res, failure);
        });
      } catch (error) {
        fail(res, error);
      }
    });
  };

  const get = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const lines = parseLines(req.url ?? "/");
    const data = await tail(file, sink.size, lines);
    sendText(res, 200, data.toString("utf8"));
  };

  const handler = createRouter([{ path: "/log", methods: { POST: post, GET: get } }], {
    ...(log ? { log } : {}),
  });

  return {
    handler,
    close: () => sink.close(),
    get fsyncs() {
      return sink.fsyncs;
    },
    get entries() {
      return sink.entries;
    },
  };
}

function isJSON(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim();
  return type.toLowerCase() === "application/json";
}

/** Parses a batch body: a non-empty JSON array of strings, else `HttpError(400)`. */
export function parseBatch(body: Buffer): string[] {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HttpError(400, `log: malformed JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(value)) {
    throw new HttpError(400, `log: JSON body must be an array of strings, got ${kind(value)}`);
  }
  if (value.length === 0) throw new HttpError(400, "log: empty array, expected at least one entry");
  for (const [index, element] of value.entries()) {
    if (typeof element !== "string") {
      throw new HttpError(400, `log: element ${index}: want a string, got ${kind(element)}`);
    }
  }
  return value as string[];
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** Parses the `lines` query parameter: an integer from 1 to 10 000, default 100. */
export function parseLines(url: string): number {
  const question = url.indexOf("?");
  if (question === -1) return defaultTailLines;
  const raw = new URLSearchParams(url.slice(question + 1)).get("lines");
  if (raw === null) return defaultTailLines;
  const value = Number(raw);
  if (!/^\d{1,6}$/.test(raw) || value < 1 || value > maxTailLines) {
    throw new HttpError(
      400,
      `log: lines: want an integer from 1 to ${maxTailLines}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/**
 * Reads the last `lines` complete lines of the first `end` bytes of `file`, backwards in
 * chunks, so a large file costs only the bytes of the answer (at most `maxTailBytes`).
 */
export async function tail(file: string, end: number, lines: number): Promise<Buffer> {
  const reader = await open(file, "r");
  try {
    const chunks: Buffer[] = [];
    // The file may have been truncated (log rotation) since `end` was known.
    let position = Math.min(end, (await reader.stat()).size);
    let newlines = 0;
    let total = 0;
    // lines + 1 newlines: the one before the first wanted line marks where it starts.
    while (position > 0 && newlines <= lines && total < maxTailBytes) {
      const length = Math.min(tailChunkBytes, position);
      position -= length;
      const chunk = Buffer.allocUnsafe(length);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await reader.read(chunk, read, length - read, position + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      if (read < length) throw new Error(`log: ${file} shrank while being read`);
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) newlines++;
      chunks.unshift(chunk);
      total += length;
    }
    const data = Buffer.concat(chunks, total);
    // Only complete lines: drop a torn tail (a crash mid-write) after the last newline.
    const stop = data.lastIndexOf(0x0a) + 1;
    let start = stop;
    let seen = 0;
    while (seen < lines && start > 0) {
      const previous = start - 2 < 0 ? -1 : data.lastIndexOf(0x0a, start - 2);
      seen++;
      if (previous === -1) {
        // The first line in the buffer is whole only when the buffer starts the file.
        if (position === 0) start = 0;
        break;
      }
      start = previous + 1;
    }
    return data.subarray(start, stop);
  } finally {
    await reader.close();
  }
}
