import { fdatasync, writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/** The parts of a `FileHandle` the sink uses; tests may wrap a real one to inject faults. */
export interface SinkFile {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  stat(): Promise<{ size: number }>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Called once with `undefined` on success or the error, as the `fs` callbacks are. */
export type IOCallback = (error?: unknown) => void;

/** The sink's file: callback I/O for the hot path, promises for the rare repairs. */
export interface SinkIO {
  /** Size when opened. */
  readonly size: number;
  /** Whether the file ended in a torn line (no final newline) when opened. */
  readonly tornTail: boolean;
  /**
   * Writes the whole buffer at the end of the file (several writes if it must); `done` may be
   * called before `write` returns.
   */
  write(buffer: Buffer, done: IOCallback): void;
  /** fdatasync on a descriptor no other fdatasync in flight is using. */
  datasync(done: IOCallback): void;
  /** Cuts the file back to `length` (when longer) and says whether it ends in a torn line. */
  repair(length: number): Promise<{ tornTail: boolean }>;
  close(): Promise<void>;
}

/**
 * Opens `file` for appending and, for fdatasync, `syncs` more descriptors of it (each its own
 * open file description: Linux reports a writeback error once per description, so two
 * fdatasyncs in flight on one description could see one error between them and the other
 * succeed). `inject` replaces all of them with one test handle. Rejects when the file cannot
 * be opened.
 */
export async function openSinkIO(file: string, syncs: number,
  inject?: (file: string) => Promise<SinkFile>): Promise<SinkIO> {
  const handle: SinkFile & Partial<Pick<FileHandle, "fd">> = inject
    ? await inject(file)
    : await open(file, "a");
  // FileHandles, not bare descriptors: a dropped FileHandle closes its descriptor when
  // collected, even one still in use.
  const extra: FileHandle[] = [];
  try {
    if (!inject) {
      for (let i = 0; i < syncs; i++) extra.push(await open(file, "r"));
    }
    const size = (await handle.stat()).size;
    const tornTail = size > 0 && !(await endsWithNewline(file, size));
    return sinkIO(file, handle, extra, size, tornTail);
  } catch (error) {
    await Promise.all(extra.map((reader) => reader.close().catch(() => {})));
    await handle.close().catch(() => {});
    throw error;
  }
}

function sinkIO(file: string, handle: SinkFile & Partial<Pick<FileHandle, "fd">>,
  syncHandles: FileHandle[], size: number, tornTail: boolean): SinkIO {
  const fd = handle.fd;
  const free = syncHandles.map((reader) => reader.fd);
  const failure = (error: unknown) => error ?? new Error("log sink: operation failed");

  // The write is made on the spot: appending a few KiB to the page cache takes microseconds,
  // and a trip through the thread pool would cost the round a whole turn of a busy event loop
  // before its fdatasync could start. Only the fdatasync, which waits for the disk, goes to
  // the thread pool. An injected test handle keeps its promise methods.
  const writeSome = fd === undefined
    ? (buffer: Buffer, offset: number, done: (error: unknown, written: number) => void) => {
      handle.write(buffer, offset, buffer.length - offset).then(
        ({ bytesWritten }) => done(null, bytesWritten),
        (error: unknown) => done(failure(error), 0));
    }
    : (buffer: Buffer, offset: number, done: (error: unknown, written: number) => void) => {
      let written: number;
      try {
        written = writeSync(fd, buffer, offset, buffer.length - offset);
      } catch (error) {
        done(error, 0);
        return;
      }
      done(null, written);
    };

  return {
    size,
    tornTail,
    write(buffer, done) {
      let offset = 0;
      const written = (error: unknown, count: number): void => {
        if (error !== null) return done(error);
        if (count <= 0) return done(new Error("log sink: write made no progress"));
        offset += count;
        if (offset < buffer.length) writeSome(buffer, offset, written);
        else done();
      };
      writeSome(buffer, 0, written);
    },
    datasync(done) {
      const slot = free.pop();
      if (slot === undefined) {
        // Injected handles (tests) have no descriptors of their own: one handle serves all.
        handle.datasync().then(() => done(), (error: unknown) => done(failure(error)));
        return;
      }
      fdatasync(slot, (error) => {
        free.push(slot);
        done(error ?? undefined);
      });
    },
    async repair(length) {
      try {
        let actual = (await handle.stat()).size;
        if (actual > length) {
          await handle.truncate(length);
          actual = length;
        }
        // A fragment left anyway (the cut failed, or the file was truncated by someone else)
        // means the next round starts on a fresh line.
        return { tornTail: actual > 0 && !(await endsWithNewline(file, actual)) };
      } catch {
        return { tornTail: true };
      }
    },
    async close() {
      await Promise.all(syncHandles.map((reader) => reader.close()));
      await handle.close();
    },
  };
}

async function endsWithNewline(file: string, size: number): Promise<boolean> {
  let reader: FileHandle | undefined;
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
