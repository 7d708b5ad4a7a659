import { open, type FileHandle } from "node:fs/promises";
import { setImmediate as immediate, setTimeout as delay } from "node:timers/promises";
import { UnavailableError } from "../std/errors.ts";
import { createLimiter } from "../std/limiter.ts";
import { lineFilter } from "./match.ts";
import type { LogQuery } from "./query.ts";
import type { Block, Recent } from "./recent.ts";
import { rotatedName } from "./rotate.ts";
import { collectTail, wholeLines, type Source } from "./scan.ts";

/** Options of `createTailReader`. */
export interface TailReaderOptions {
  /** The log file; rotated files are `file.1`, `file.2`, … */
  file: string;
  /** Written before each entry's timestamp. */
  prefix: string;
  /** The in-memory tail, newest durable lines. */
  recent: Recent;
  /** The sink's durable size and rotation count, read at the start of every read. */
  position: () => { size: number; generation: number };
  /** Rotated files to look into at most. */
  keep: number;
  /** Reads running at once (default 2); more wait, first come first served. */
  concurrency?: number;
  /** Reads waiting at most (default 64); beyond, a read fails with `UnavailableError`. */
  maxWaiting?: number;
  /** Bytes one read may take from files (default 64 MiB). */
  maxReadBytes?: number;
  /**
   * The share of the event loop's time reads may take (default 0.05): after a read that kept
   * the loop busy for d, the next one starts (1 / share − 1) × d later. 1 means no pause.
   * Sending an answer costs more than the loop's time shows (the kernel copies it, the
   * client's side runs on the same cores), hence a small share: at 0.1, writes kept 68–74 %
   * of their rate under 50 hammering readers on 2 cores; at 0.05, 86–93 %.
   */
  share?: number;
}

/** Reads the newest entries that match a query, from memory first, then the files. */
export interface TailReader {
  /**
   * Finds the newest `query.lines` matching entries, oldest first, as they were durable when
   * the call was made (later entries are not included, even when the read waits for its
   * turn), and hands them to `deliver` (whose time counts as the read's). Rejects with
   * `UnavailableError` when too many reads are waiting, and with the error of a failed file
   * read or of `deliver`.
   */
  read(query: LogQuery, deliver: (data: Buffer) => void): Promise<void>;
}

const maxAnswerBytes = 8 * 1024 * 1024;

/**
 * Creates the reader of `GET /log`. A read never loads a whole file: it scans the in-memory
 * tail, then reads the files backwards in chunks, newest file first, and stops at the lines
 * wanted, at 8 MiB of answer, at `maxReadBytes` read from files, or at an entry older than
 * `since`. At most `concurrency` reads run at once, so readers cannot take the process from
 * the writers.
 */
export function createTailReader(options: TailReaderOptions): TailReader {
  const { file, prefix, recent, position, keep } = options;
  const limiter = createLimiter(options.concurrency ?? 2);
  const maxWaiting = options.maxWaiting ?? 64;
  const maxReadBytes = options.maxReadBytes ?? 64 * 1024 * 1024;
  const share = options.share ?? 0.05;
  // Readers take turns on the event loop with the writers: a read starts on a later turn
  // (never straight from the one before it, which would chain them without any I/O between),
  // and after a pause that keeps their share of the loop's time at `share`.
  let nextStart = 0;
  const pace = (): Promise<unknown> => {
    const wait = nextStart - performance.now();
    return wait > 1 ? delay(wait) : immediate();
  };

  const read = async (query: LogQuery, blocks: Block[],
    { size, generation }: { size: number; generation: number },
    deliver: (data: Buffer) => void): Promise<void> => {
    const oldest = blocks[0];
    const handles: FileHandle[] = [];
    const memory = blocks.reverse().map((block): Source => ({ kind: "memory", data: block.data }));
    async function* sources(): AsyncGenerator<Buffer> {
      yield* wholeLines(memory, { left: 0 });
      // The files, opened only when memory was not enough: the current file up to where
      // memory starts (or up to the durable size), then the rotated ones.
      const from = oldest?.generation ?? generation;
      const files = await openFiles(file, from, oldest?.start ?? size, keep, position, handles);
      yield* wholeLines(files, { left: maxReadBytes });
    }
    let busyMs = 0;
    try {
      await pace();
      const tail = await collectTail(sources(), lineFilter(query, prefix),
        { lines: query.lines, maxAnswerBytes });
      const began = performance.now();
      try {
        deliver(tail.data);
      } finally {
        busyMs = tail.busyMs + performance.now() - began;
      }
    } finally {
      nextStart = Math.max(nextStart, performance.now() + (busyMs * (1 - share)) / share);
      await Promise.all(handles.map((handle) => handle.close().catch(() => {})));
    }
  };

  return {
    read(query, deliver) {
      if (limiter.active >= limiter.limit && limiter.waiting >= maxWaiting) {
        return Promise.reject(new UnavailableError("log: too many readers at once, try again"));
      }
      // The snapshot is taken now, not when the read's turn comes: what is durable at the
      // call. Files only ever grow past it or get renamed.
      const blocks = recent.blocks();
      const at = position();
      return limiter.run(() => read(query, blocks, at, deliver));
    },
  };
}

/**
 * Opens the file of generation `from` (to read up to `end`) and up to `keep` older ones, as
 * they are named now; a rotation during the opens renames them, so then it opens them again.
 * Missing files are skipped.
 */
async function openFiles(file: string, from: number, end: number, keep: number,
  position: () => { generation: number }, handles: FileHandle[]): Promise<Source[]> {
  for (let attempt = 0; ; attempt++) {
    const current = position().generation;
    const sources: Source[] = [];
    for (let generation = from; current - generation <= keep; generation--) {
      const n = current - generation;
      try {
        const handle = await open(rotatedName(file, n), "r");
        handles.push(handle);
        sources.push({ kind: "file", handle,
          end: generation === from ? end : Number.POSITIVE_INFINITY });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    if (position().generation === current || attempt >= 3) return sources;
    await Promise.all(handles.splice(0).map((handle) => handle.close().catch(() => {})));
  }
}
