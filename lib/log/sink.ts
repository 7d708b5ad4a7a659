import type { Logger } from "../std/log.ts";
import type { Metrics } from "../std/metrics.ts";
import { describeError } from "../std/errors.ts";
import { rotateFile } from "./rotate.ts";
import { openSinkIO, type SinkFile, type SinkIO } from "./sinkio.ts";
import { sinkMetrics } from "./sinkmetrics.ts";

export type { SinkFile } from "./sinkio.ts";

/** Options of `openSink`. */
export interface SinkOptions {
  /** File the lines are appended to; created when missing. */
  file: string;
  /** Opens the file for appending; default `fs/promises` `open(file, "a")`. */
  open?: (file: string) => Promise<SinkFile>;
  /** Where failed rounds are reported (once per failure). */
  log?: Logger;
  /** Most fdatasyncs in flight at once (Node's thread pool has 4 threads). Default 4. */
  concurrency?: number;
  /**
   * Called with each round's bytes once they are durable, in file order, before its appenders
   * hear of it: `start` is the round's offset in the file of `generation`. Must not throw.
   */
  onDurable?: (data: Buffer, count: number, start: number, generation: number) => void;
  /** Rotate once the file reaches this many bytes; 0 (the default) never rotates. */
  maxBytes?: number;
  /** Rotated files kept (`file.1` … `file.keep`), at least 1. Default 5. */
  keep?: number;
  /** Where the sink counts its entries, bytes, rounds, fdatasyncs and rotations (once per
   * round, not per entry: see `sinkMetrics`). */
  metrics?: Metrics;
}

/** Called once per append: without an error once durable, with one when not stored. */
export type AppendCallback = (error?: unknown) => void;

/** A durable, group-committing appender. */
export interface Sink {
  /**
   * Appends `text` (whole lines, each ending in `\n`; `count` of them) and calls `done` once
   * it is written and fdatasynced, or with the error when its round failed or the sink is
   * closed. Appends made in one turn of the event loop share one write and one fdatasync.
   */
  append(text: string, count: number, done: AppendCallback): void;
  /** Number of completed fdatasyncs. */
  readonly fsyncs: number;
  /** Number of lines durably written. */
  readonly entries: number;
  /** Byte length of the file up to the last durable line: readers never see unacked lines. */
  readonly size: number;
  /**
   * How many times the file was rotated since the sink opened: the file of generation `g` is
   * now called `rotatedName(file, generation - g)`.
   */
  readonly generation: number;
  /** Waits for queued rounds, then closes the file; later appends fail. */
  close(): Promise<void>;
}

interface Round {
  text: string;
  count: number;
  callbacks: AppendCallback[];
  buffer: Buffer;
  start: number;
  synced: boolean;
}

/**
 * Opens `file` for appending (it stays open) and returns a group-commit sink whose rounds
 * overlap.
 *
 * A round is one `write` of everything appended since the last round, then one `fdatasync`.
 * Writes go one at a time, in order; a round's fdatasync runs while the next rounds are
 * written and synced (up to `concurrency` rounds in flight), because waiting for the previous
 * round's fdatasync before starting the next doubles what a request waits. Rounds are
 * acknowledged strictly in file order, each only after its own fdatasync; every fdatasync in
 * flight uses a file descriptor of its own, so a writeback error is reported to each of them
 * rather than to whichever asked first. A failed write or fdatasync fails every round not yet
 * acknowledged (never a false acknowledgement), cuts the file back to the last acknowledged
 * byte once nothing is in flight, and later rounds are tried afresh. A file that ends in a
 * torn line (a crash mid-write) gets a newline first. Rejects when the file cannot be opened.
 */
export async function openSink(options: SinkOptions): Promise<Sink> {
  const { file, log, concurrency = 4, onDurable, maxBytes = 0, keep = 5 } = options;
  let io: SinkIO = await openSinkIO(file, concurrency, options.open);
  let size = io.size;
  let tornTail = io.tornTail;
  // End of the bytes written so far, durable or not.
  let written = size;
  let fsyncs = 0;
  let entries = 0;
  let gathering: Round | undefined;
  // Rounds written or being written and not yet acknowledged, in file order.
  const unacked: Round[] = [];
  let writing = false;
  let syncing = 0;
  let scheduled = false;
  let failure: unknown;
  let generation = 0;
  // After a failed rotation, the next try waits until the file grew by maxBytes again.
  let rotateAt = maxBytes;
  // A repair or a rotation is running: it owns the file.
  let exclusive = false;
  let closed = false;
  let drained: (() => void) | undefined;
  const counted = sinkMetrics(options.metrics);

  const idle = () => !writing && syncing === 0;

  const acknowledge = () => {
    for (let round = unacked[0]; round?.synced; round = unacked[0]) {
      unacked.shift();
      size = round.start + round.buffer.length;
      entries += round.count;
      counted.durable(round.count, round.buffer.length);
      onDurable?.(round.buffer, round.count, round.start, generation);
      for (const done of round.callbacks) done();
    }
  };
  // The file reached maxBytes: the next round goes to a new file.
  const rotationDue = () => maxBytes > 0 && written >= rotateAt;

  // A failure stops new rounds; once nothing is in flight the file is cut back to the last
  // acknowledged byte, every unacknowledged round fails, and rounds start again.
  const fail = (error: unknown) => {
    if (failure !== undefined) return;
    failure = error;
    const count = unacked.reduce((sum, round) => sum + round.count, 0);
    log?.(`log sink: ${count} entries not written to ${file}: ${describeError(error)}`);
  };
  const repair = async () => {
    const error = failure;
    const failed = unacked.splice(0);
    const repaired = await io.repair(size);
    written = size;
    tornTail = repaired.tornTail;
    failure = undefined;
    for (const round of failed) for (const done of round.callbacks) done(error);
  };

  // Before the round that would write past maxBytes, with nothing in flight: every entry so
  // far is durable in the old file, and none is acknowledged in the new one before its name
  // is durable too.
  const rotate = async () => {
    try {
      const old = io;
      io = await rotateFile(file, keep, () => openSinkIO(file, concurrency, options.open));
      generation++;
      counted.rotated();
      size = written = io.size;
      tornTail = io.tornTail;
      rotateAt = maxBytes;
      await old.close().catch(() => {});
    } catch (error) {
      log?.(`log sink: rotating ${file}: ${describeError(error)}; writing on`);
      rotateAt = size + maxBytes;
    }
  };

  const runExclusive = (task: () => Promise<void>) => {
    exclusive = true;
    void task().then(() => {
      exclusive = false;
      pump();
    });
  };

  // Decides what happens next; called after every event. A new round starts on the next turn
  // of the event loop, after the requests that arrived in this one are read: fuller rounds,
  // fewer fdatasyncs, no added wait.
  const pump = (): void => {
    if (exclusive) return;
    if (failure !== undefined) {
      if (idle()) runExclusive(repair);
    } else if (gathering && rotationDue()) {
      if (idle() && unacked.length === 0) runExclusive(rotate);
    } else if (gathering) {
      if (!scheduled) {
        scheduled = true;
        setImmediate(start);
      }
    } else if (unacked.length === 0 && idle()) {
      drained?.();
    }
  };

  const start = () => {
    scheduled = false;
    const round = gathering;
    if (!round || exclusive || failure !== undefined || writing || syncing >= concurrency) return;
    if (rotationDue()) return pump();
    gathering = undefined;
    round.buffer = Buffer.from(tornTail ? `\n${round.text}` : round.text, "utf8");
    round.start = written;
    tornTail = false;
    unacked.push(round);
    writing = true;
    io.write(round.buffer, (error) => {
      writing = false;
      if (error !== undefined) {
        fail(error);
        return pump();
      }
      written += round.buffer.length;
      // A round that cannot be acknowledged anyway needs no fdatasync.
      if (failure !== undefined) return pump();
      syncing++;
      const syncStarted = performance.now();
      io.datasync((syncError) => {
        syncing--;
        counted.synced(performance.now() - syncStarted);
        if (syncError !== undefined) {
          fail(syncError);
        } else if (failure === undefined) {
          fsyncs++;
          round.synced = true;
          acknowledge();
        }
        pump();
      });
      pump();
    });
  };

  return {
    append(text, count, done) {
      if (closed) {
        done(new Error("log sink: closed"));
        return;
      }
      if (!gathering) {
        gathering = { text, count, callbacks: [done], buffer: empty, start: 0, synced: false };
      } else {
        gathering.text += text;
        gathering.count += count;
        gathering.callbacks.push(done);
      }
      pump();
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
    get generation() {
      return generation;
    },
    async close() {
      closed = true;
      if (gathering || unacked.length > 0 || !idle() || exclusive || failure !== undefined) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          pump();
        });
      }
      await io.close();
    },
  };
}

const empty = Buffer.alloc(0);
