import { open, readFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { syncDirectory } from "./atomic.ts";
import { describeError } from "./errors.ts";

/** What a journal file holds: its complete changes, and what was wrong with the rest. */
export interface JournalContents<C> {
  /** Every change up to the end, or up to the first corrupt line. */
  changes: C[];
  /** The text ends without a newline: a crash cut the last append short (never acknowledged). */
  torn: boolean;
  /** The first complete line that is not a change (1-based), and why. */
  corrupt?: { line: number; error: unknown };
}

/**
 * Splits a journal file's text (one JSON change per line) into its changes, each accepted by
 * `parse`; never throws. A last line without its newline was cut short by a crash before it
 * was acknowledged, so it is reported as `torn`, not as corrupt.
 */
export function splitJournal<C>(text: string, parse: (value: unknown) => C): JournalContents<C> {
  const lines = text.split("\n");
  // What follows the last newline: empty unless the last append was cut short.
  const tail = lines.pop() ?? "";
  const changes: C[] = [];
  for (const [index, line] of lines.entries()) {
    try {
      changes.push(parse(JSON.parse(line) as unknown));
    } catch (error) {
      return { changes, torn: false, corrupt: { line: index + 1, error } };
    }
  }
  return { changes, torn: tail !== "" };
}

/** An append-only journal file, opened on first use and kept open. */
export interface Journal {
  /**
   * Appends `text` and fdatasyncs it; resolves once it is durable. Rejects when either fails;
   * the next append first cuts the file back to its last durable end, so a failed append
   * never leaves a broken line in the middle of the journal. Calls must not overlap.
   */
  append(text: string): Promise<void>;
  /** Empties the journal durably (its changes must be in a durable snapshot first). */
  reset(): Promise<void>;
  /** Closes the file; a later append opens it again. */
  close(): Promise<void>;
  /** Bytes durably in the journal. */
  readonly size: number;
  /** fdatasyncs done so far (one per append: the group-commit count). */
  readonly syncs: number;
}

/** Options of `createJournal`. */
export interface JournalOptions {
  /** Called after each fdatasync with the seconds it took (for a latency metric). */
  onSync?: (seconds: number) => void;
}

/** Creates the journal at `path` (opened lazily in append mode). */
export function createJournal(path: string, options: JournalOptions = {}): Journal {
  const { onSync } = options;
  let handle: FileHandle | undefined;
  let size = 0;
  let syncs = 0;
  // The file may hold bytes past `size` (a failed append or reset): cut them before appending.
  let dirty = false;

  async function file(): Promise<FileHandle> {
    if (handle) return handle;
    const opened = await open(path, "a");
    try {
      const { size: found } = await opened.stat();
      if (!dirty) size = found;
      // The file may just have been created: make its directory entry durable, or a crash
      // could lose the whole journal along with the changes it acknowledged.
      await syncDirectory(dirname(path));
    } catch (error) {
      await opened.close();
      throw error;
    }
    return (handle = opened);
  }

  return {
    async append(text) {
      const target = await file();
      if (dirty) await target.truncate(size);
      dirty = true;
      // O_APPEND: the bytes land at the end, after the truncation above.
      await target.appendFile(text);
      const started = performance.now();
      await target.datasync();
      onSync?.((performance.now() - started) / 1_000);
      syncs += 1;
      size += Buffer.byteLength(text);
      dirty = false;
    },
    async reset() {
      const target = await file();
      // Everything in it is in the snapshot now, so zero is the right end even if this fails.
      size = 0;
      dirty = true;
      await target.truncate(0);
      await target.sync();
      dirty = false;
    },
    async close() {
      const target = handle;
      handle = undefined;
      await target?.close();
    },
    get size() {
      return size;
    },
    get syncs() {
      return syncs;
    },
  };
}

/** The text of `file`, or `undefined` when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`reading ${file}: ${describeError(error)}`, { cause: error });
  }
}
