import type { FileHandle } from "node:fs/promises";
import type { LineFilter } from "./match.ts";

/** Bounds of one tail read. */
export interface ScanLimits {
  /** Matching lines wanted. */
  lines: number;
  /** The answer stops growing past this many bytes. */
  maxAnswerBytes: number;
}

/** Where older lines come from, newest first. */
export type Source =
  | { kind: "memory"; data: Buffer }
  | { kind: "file"; handle: FileHandle; end: number };

const chunkBytes = 256 * 1024;
const newline = 0x0a;

/**
 * Yields blocks of whole lines from `sources`, newest first: memory blocks as they are, files
 * read backwards in chunks from `end` (a line cut by a chunk border is carried to the older
 * chunk; bytes after a file's last newline are a torn line, never an entry, and dropped). Stops
 * once `budget.left` bytes have been read from files. Rejects when a read fails.
 */
export async function* wholeLines(sources: readonly Source[],
  budget: { left: number }): AsyncGenerator<Buffer> {
  for (const source of sources) {
    if (source.kind === "memory") {
      yield source.data;
      continue;
    }
    const { handle } = source;
    let position = Math.min(source.end, (await handle.stat()).size);
    let carry: Buffer | undefined;
    let newest = true;
    while (position > 0 && budget.left > 0) {
      const length = Math.min(chunkBytes, position, budget.left);
      position -= length;
      const chunk = Buffer.allocUnsafe(length);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await handle.read(chunk, read, length - read, position + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      if (read < length) throw new Error("log: file shrank while being read");
      budget.left -= length;
      let data = carry ? Buffer.concat([chunk, carry]) : chunk;
      if (newest) {
        // Until the first newline from the end, everything is a torn line.
        const last = data.lastIndexOf(newline);
        if (last === -1) continue;
        data = data.subarray(0, last + 1);
        newest = false;
      }
      // From here `data` ends in a newline; its first line is whole only at the file's start.
      const first = position === 0 ? 0 : data.indexOf(newline) + 1;
      carry = data.subarray(0, first);
      if (first < data.length) yield data.subarray(first);
    }
  }
}

/** What `collectTail` found. */
export interface Tail {
  lines: number;
  /** The lines, oldest first. */
  data: Buffer;
  /** Time spent on the event loop finding them (waiting for file reads left out). */
  busyMs: number;
}

/**
 * Collects the newest `limits.lines` lines that `filter` picks from `blocks` (all lines
 * without one), stopping early at the answer's byte bound or where the filter says nothing
 * older can match. Returns the answer, oldest line first, and the time spent on the event
 * loop doing it (waiting for file reads left out).
 */
export async function collectTail(blocks: AsyncIterable<Buffer> | Iterable<Buffer>,
  filter: LineFilter, limits: ScanLimits): Promise<Tail> {
  const pieces: Buffer[] = [];
  let lines = 0;
  let bytes = 0;
  let busyMs = 0;
  for await (const block of blocks) {
    const began = performance.now();
    // Adjacent lines are kept as one range of the block, not a piece each.
    let from = -1;
    let to = -1;
    let full = false;
    const more = filter.pick(block, (start, end) => {
      if (end + 1 === from) {
        from = start;
      } else {
        if (from >= 0) pieces.push(block.subarray(from, to));
        from = start;
        to = end + 1;
      }
      lines++;
      bytes += end + 1 - start;
      full = lines >= limits.lines || bytes >= limits.maxAnswerBytes;
      return !full;
    });
    if (from >= 0) pieces.push(block.subarray(from, to));
    busyMs += performance.now() - began;
    if (full || !more) break;
  }
  const began = performance.now();
  const data = Buffer.concat(pieces.reverse());
  return { lines, data, busyMs: busyMs + performance.now() - began };
}
