import { fdatasync, write } from "node:fs";
import { open } from "node:fs/promises";
import type { Logger } from "../std/log.ts";
import { describeError } from "../std/errors.ts";

/** The parts of a `FileHandle` the sink uses; tests may wrap a real one to inject faults. */
export interface SinkFile {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  stat(): Promise<{ size: number }>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Options of `openSink`. */
export interface SinkOptions {
  /** File the lines are appended to; created when missing. */
  file: string;
  /** Opens the file for appending; default `fs/promises` `open(file, "a")`. */
  open?: (file: string) => Promise<SinkFile>;
  /** Where failed rounds are reported (once per round). */
  log?: Logger;
}

/** A durable, group-committing appender. */
export interface Sink {
  /**
   * Appends `text` (whole lines, each ending in `\n`; `count` of them) and resolves once it is
   * written and fsynced. Appends that arrive while a write is in flight share the next write
   * and fsync. Rejects when that round's write or fsync fails, or when the sink is closed.
   */
  append(text: string, count: number): Promise<void>;
  /** Number of completed fsyncs. */
  readonly fsyncs: number;
  /** Number of lines durably written. */
  readonly entries: number;
  /** Byte length of the file up to the last durable line: readers never see unacked lines. */
  readonly size: number;
  /** Waits for queued rounds, then closes the file; later appends reject. */
  close(): Promise<void>;
}

interface Round {
  text: string;
  count: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function newRound(): Round {
  let resolve!: () => void; // assigned synchronously by the Promise executor below
  let reject!: (error: unknown) => void; // likewise
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every appender awaits the promise; this only keeps a round nobody awaits from crashing.
  promise.catch(() => {});
  return { text: "", count: 0, promise, resolve, reject };
}

/** Callback forms of the two calls a round makes; `error` is `null` on success, as in `fs`. */
interface RoundIO {
  write(
    buffer: Buffer,
    offset: number,
    length: number,
    done: (error: unknown, bytesWritten: number) => void,
  ): void;
  datasync(done: (error: unknown) => void): void;
}

// The file the sink opened itself is written through its descriptor with the callback `fs`
// calls: one thread-pool request each, without the FileHandle promise machinery.
function descriptorIO(fd: number): RoundIO {
  return {
    write: (buffer, offset, length, done) =>
      write(fd, buffer, offset, length, null, (error, bytesWritten) => done(error, bytesWritten)),
    datasync: (done) => fdatasync(fd, done),
  };
}

// An injected `SinkFile` (tests) keeps its promise methods; a rejection with no value still
// counts as a failure.
function fileIO(file: SinkFile): RoundIO {
  const failure = (error: unknown) => error ?? new Error("log sink: operation failed");
  return {
    write: (buffer, offset, length, done) => {
      file.write(buffer, offset, length).then(
        ({ bytesWritten }) => done(null, bytesWritten),
        (error: unknown) => done(failure(error), 0),
      );
    },
    datasync: (done) => {
      file.datasync().then(() => done(null), (error: unknown) => done(failure(error)));
    },
  };
}

/**
 * Opens `file` for appending (once; it stays open) and returns a group-commit sink.
 *
 * One round = one `write` of everything queued + one `fdatasync`; while it is in flight new
 * appends gather in the next round, so under load N concurrent requests cost far fewer than
 * N fsyncs. A failed round rejects all its appenders (never a false acknowledgement), cuts
 * any partially written bytes off again, and later rounds are tried afresh. A file that ends
 * in a torn line (a crash mid-write) gets a newline first, so new entries start on their own
 * line. Rejects when the file cannot be opened.
 */
export async function openSink(options: SinkOptions): Promise<Sink> {
  const { file, log } = options;
  let handle: SinkFile;
  let io: RoundIO;
  if (options.open) {
    handle = await options.open(file);
    io = fileIO(handle);
  } else {
    const opened = await open(file, "a");
    handle = opened;
    io = descriptorIO(opened.fd);
  }
  let size: number;
  let tornTail: boolean;
  try {
    size = (await handle.stat()).size;
    tornTail = size > 0 && !(await endsWithNewline(file, size));
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }

  let fsyncs = 0;
  let entries = 0;
  let next: Round | undefined;
  // Set while rounds run; resolved once the queue is empty.
  let running: Promise<void> | undefined;
  let idle: () => void = () => {};
  let closed = false;

  // After a failure the file may hold part of the round: cut it back to where the round
  // began. Then look at the real last byte: if a fragment is left anyway (the cut failed, or
  // the file was truncated by log rotation so `start` is stale), the next round starts on a
  // fresh line.
  const repair = async (start: number): Promise<void> => {
    try {
      let actual = (await handle.stat()).size;
      if (actual > start) {
        await handle.truncate(start);
        actual = start;
      }
      size = actual;
      tornTail = actual > 0 && !(await endsWithNewline(file, actual));
    } catch {
      tornTail = true;
    }
  };

  // Rounds are chained through callbacks rather than awaits: at thousands of rounds a second
  // the promise hops of FileHandle methods showed in profiles.
  const runRound = (): void => {
    const round = next;
    if (!round) {
      running = undefined;
      idle();
      return;
    }
    next = undefined;
    const buffer = Buffer.from(tornTail ? `\n${round.text}` : round.text, "utf8");
    const start = size;
    let offset = 0;
    const fail = (error: unknown): void => {
      log?.(`log sink: ${round.count} entries not written to ${file}: ${describeError(error)}`);
      void repair(start).then(() => {
        round.reject(error);
        later();
      });
    };
    const synced = (error: unknown): void => {
      if (error !== null) return fail(error);
      fsyncs++;
      entries += round.count;
      size = start + buffer.length;
      tornTail = false;
      round.resolve();
      later();
    };
    const written = (error: unknown, bytesWritten: number): void => {
      if (error !== null) return fail(error);
      if (bytesWritten <= 0) return fail(new Error("log sink: write made no progress"));
      offset += bytesWritten;
      if (offset < buffer.length) io.write(buffer, offset, buffer.length - offset, written);
      else io.datasync(synced);
    };
    io.write(buffer, 0, buffer.length, written);
  };
  // The next round starts on the next turn of the event loop, after the answers of this one
  // are sent and the requests that arrived meanwhile are read: fuller rounds, fewer fsyncs.
  const later = (): void => {
    setImmediate(runRound);
  };

  return {
    append(text, count) {
      if (closed) return Promise.reject(new Error("log sink: closed"));
      if (!next) {
        next = newRound();
        // Start on the next turn of the event loop, so every request that arrived in this
        // one shares the first write too.
        if (!running) {
          running = new Promise<void>((resolve) => (idle = resolve));
          later();
        }
      }
      next.text += text;
      next.count += count;
      return next.promise;
    },
    get fsyncs() {
      return fsyncs;
    },
    get entries() {
      return entries;
    },
    get size() {
      return size;
    },
    async close() {
      closed = true;
      while (running) await running;
      await handle.close();
    },
  };
}

async function endsWithNewline(file: string, size: number): Promise<boolean> {
  let reader: Awaited<ReturnType<typeof open>> | undefined;
  try {
    reader = await open(file, "r");
    const byte = Buffer.alloc(1);
    const { bytesRead } = await reader.read(byte, 0, 1, size - 1);
    return bytesRead === 1 && byte[0] === 0x0a;
  } catch {
    // Not readable (write-only, or a device such as /dev/full): nothing we can repair.
    return true;
  } finally {
    await reader?.close();
  }
}
