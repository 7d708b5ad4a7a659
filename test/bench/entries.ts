// The entries the load generator sends and the check of the log file they end up in: every
// entry says which run, connection and request it came from, so the file shows whether an
// acknowledged entry is missing, two lines interleaved or a connection's order changed.
import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";

const filler = "the quick brown fox jumps over the lazy dog";
const seqDigits = 9;
const placeholder = "0".repeat(seqDigits);

/** The text of one entry; `seq` is the request's number on its connection. */
export function entryText(run: number, connection: number, seq: string, index?: number): string {
  const within = index === undefined ? "" : ` e${index}`;
  return `bench r${run} c${connection} n${seq}${within} ${filler}`;
}

/** The one entry wrk sends, over and over (it cannot number its requests). */
export const wrkEntry = `bench wrk ${filler} ${"x".repeat(40)}`;

/**
 * A request whose entries carry a request number that can be rewritten in place: `next()`
 * returns the same buffer with the following number, so a run allocates nothing per request.
 * Safe because a connection sends its next request only after the answer to the last one.
 */
export interface RequestTemplate {
  next(): Buffer;
}

/**
 * Builds the keep-alive request of one connection: a `POST` of one text entry or of a JSON
 * batch of `batchSize`, or a `GET` of the target (query included) for "read".
 */
export function requestTemplate(target: URL, run: number, connection: number,
  mode: "text" | "batch" | "read", batchSize: number): RequestTemplate {
  const body = mode === "text"
    ? entryText(run, connection, placeholder)
    : JSON.stringify(Array.from({ length: batchSize },
      (_, index) => entryText(run, connection, placeholder, index)));
  const type = mode === "text" ? "text/plain" : "application/json";
  const request = Buffer.from(mode === "read"
    ? `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`
    : `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n` +
      `Content-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const offsets: number[] = [];
  const marker = ` n${placeholder}`;
  for (let at = request.indexOf(marker); at !== -1; at = request.indexOf(marker, at + 1)) {
    offsets.push(at + 2);
  }
  let seq = 0;
  return {
    next() {
      // The digits of `seq`, written straight into the request, last digit first.
      for (const offset of offsets) {
        let value = seq;
        for (let digit = seqDigits - 1; digit >= 0; digit--) {
          request[offset + digit] = 48 + (value % 10);
          value = Math.floor(value / 10);
        }
      }
      seq++;
      return request;
    },
  };
}

/** What one connection of one run sent: its requests are numbered 0 to `sent - 1`. */
export interface ConnectionLog {
  sent: number;
  /** Requests not answered 200 (a refusal may still have been written: not checked). */
  failed: number[];
}

/** What the file check found. */
export interface FileCheck {
  /** Lines in the file. */
  lines: number;
  /** Lines of wrk's fixed entry (counted, not checked for order). */
  wrk: number;
  /** Lines that are not one whole entry of the expected form (interleaved or torn). */
  malformed: number;
  /** Connections whose entries appear out of the order they were sent in. */
  reordered: number;
  /** Acknowledged requests whose entries are not in the file. */
  missing: number;
}

const linePattern = new RegExp(
  `^\\S+ \\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d bench r(\\d+) c(\\d+) n(\\d{${seqDigits}})` +
  `(?: e(\\d+))? ${filler}$`);

/**
 * Reads the log — `files` in the order they were written, the rotated ones first — and checks
 * it against what the generator sent: `sent` maps `run:connection` to that connection's
 * requests. Every request answered 200 must be there, each line must be one whole entry, and
 * a connection's entries must be in the order it sent them. Missing files are skipped.
 */
export async function checkLogFiles(files: readonly string[],
  sent: ReadonlyMap<string, ConnectionLog>): Promise<FileCheck> {
  const result: FileCheck = { lines: 0, wrk: 0, malformed: 0, reordered: 0, missing: 0 };
  // Per connection: the last (request, entry) seen, and which requests appeared.
  const last = new Map<string, number>();
  const seen = new Map<string, Set<number>>();
  const reordered = new Set<string>();
  const lines = async function* () {
    for (const file of files) {
      if (!existsSync(file)) continue;
      const input = createReadStream(file);
      yield* createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    }
  };
  for await (const line of lines()) {
    result.lines++;
    const match = linePattern.exec(line);
    if (!match) {
      if (line.endsWith(` ${wrkEntry}`)) result.wrk++;
      else result.malformed++;
      continue;
    }
    const key = `${match[1]}:${match[2]}`;
    const request = Number(match[3]);
    const position = request * 1_000_000 + Number(match[4] ?? 0);
    if (position <= (last.get(key) ?? -1)) reordered.add(key);
    last.set(key, position);
    let requests = seen.get(key);
    if (!requests) seen.set(key, (requests = new Set()));
    requests.add(request);
  }
  result.reordered = reordered.size;
  for (const [key, { sent: count, failed }] of sent) {
    const found = seen.get(key);
    const refused = new Set(failed);
    for (let request = 0; request < count; request++) {
      if (!refused.has(request) && !found?.has(request)) result.missing++;
    }
  }
  return result;
}
