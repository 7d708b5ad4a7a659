import { open, readFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { syncDirectory } from "../std/atomic.ts";
import { describeError } from "../std/errors.ts";
import { parseServiceList, type ServiceStatus } from "./registration.ts";

/**
 * One change of the registry state, as one journal line: a registration with its health put
 * under its ServiceURL, or the registration of a ServiceURL removed. Both overwrite by URL, so
 * replaying a change the snapshot already holds changes nothing.
 */
export type Change = { put: ServiceStatus } | { remove: string };

/** What a journal file holds: its complete changes, and what was wrong with the rest. */
export interface JournalContents {
  /** Every change up to the end, or up to the first corrupt line. */
  changes: Change[];
  /** The text ends without a newline: a crash cut the last append short (never acknowledged). */
  torn: boolean;
  /** The first complete line that is not a change (1-based), and why. */
  corrupt?: { line: number; error: unknown };
}

/** Encodes `change` as one journal line, newline included. */
export function encodeChange(change: Change): string {
  return `${JSON.stringify(change)}\n`;
}

/** Accepts a journal line's decoded JSON as a Change, or throws naming what is wrong. */
export function parseChange(value: unknown): Change {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    if ("put" in value) {
      const [row] = parseServiceList({ Services: [value.put] });
      if (row) return { put: row };
    }
    if ("remove" in value && typeof value.remove === "string") return { remove: value.remove };
  }
  throw new Error('journal: a line must be {"put":{…}} or {"remove":"<url>"}');
}

/** Splits a journal file's text into its changes; never throws. */
export function parseJournal(text: string): JournalContents {
  const lines = text.split("\n");
  // What follows the last newline: empty unless the last append was cut short.
  const tail = lines.pop() ?? "";
  const changes: Change[] = [];
  for (const [index, line] of lines.entries()) {
    try {
      changes.push(parseChange(JSON.parse(line) as unknown));
    } catch (error) {
      return { changes, torn: false, corrupt: { line: index + 1, error } };
    }
  }
  return { changes, torn: tail !== "" };
}

/** Applies `change` to `rows` (keyed by ServiceURL). */
export function applyChange(rows: Map<string, ServiceStatus>, change: Change): void {
  if ("put" in change) rows.set(change.put.ServiceURL, change.put);
  else rows.delete(change.remove);
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

/** Creates the journal at `path` (opened lazily in append mode). */
export function createJournal(path: string): Journal {
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
      await target.datasync();
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
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`registry: reading state ${file}: ${describeError(error)}`, { cause: error });
  }
}
