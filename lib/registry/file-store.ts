import { rename, rm } from "node:fs/promises";
import type { Logger } from "../std/log.ts";
import { writeAtomically } from "../std/atomic.ts";
import { describeError } from "../std/errors.ts";
import { applyChange, encodeChange, parseJournal } from "./journal.ts";
import { createJournal, readIfExists } from "../std/journal.ts";
import type { RegistryStore } from "./persistence.ts";
import { parseServiceList, type ServiceStatus } from "./registration.ts";
import type { Change } from "./table.ts";

/** Options of `createFileStore`. */
export interface FileStoreOptions {
  /** The snapshot file (its journal is `<path>.journal`); `""` keeps the state in memory. */
  path: string;
  /**
   * Produces the whole state as a `{"Services":[…]}` document; called at each compaction. It
   * may take its time to resolve, but must hold the state as it was at the call.
   */
  snapshot: () => string | Promise<string>;
  log: Logger;
  now?: () => Date;
  /** The journal is folded into a snapshot once it is larger than this and the snapshot. */
  compactBytes?: number;
  /** Called after each journal fdatasync with the seconds it took. */
  onSync?: (seconds: number) => void;
}

/** The registry's durable state in files: a snapshot plus a journal of the changes since. */
export interface FileStore extends RegistryStore {
  /**
   * Reads the snapshot and replays the journal; call once, before `record`. A missing file is
   * empty. A corrupt snapshot is reported through `log` and renamed aside to
   * `<path>.corrupt-<time>`, never overwritten; a torn last journal line (a crash mid-append)
   * is reported and ignored; a corrupt journal line is reported, the changes before it kept
   * and the journal renamed aside. Rejects only when a file cannot be read, written or moved.
   */
  load(): Promise<ServiceStatus[]>;
  /**
   * Appends `change` to the journal; resolves once it is durable. Changes recorded while a
   * write is in flight share the next write (group commit). Rejects when that write fails,
   * or when the store is closed. Call it in the order the changes happen.
   */
  record(change: Change): Promise<void>;
  /**
   * Folds the journal into a final snapshot, then removes it. Rejects when the snapshot
   * cannot be written; the journal is kept then, so nothing is lost.
   */
  close(): Promise<void>;
  /** Writes are in flight or due. */
  readonly busy: boolean;
  /** Journal fdatasyncs so far: one per group of changes. */
  readonly fsyncs: number;
  /** Snapshots written since `load` to fold the journal. */
  readonly compactions: number;
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Creates a file store: a write-ahead journal and a snapshot. Each change costs one
 * appended line (changes arriving together share one fdatasync), so saving is linear in the
 * changes, not in the state size times the changes. When the journal outgrows the snapshot,
 * the whole state is written atomically (temporary file, fsync, rename, directory fsync) and
 * only then the journal emptied: a crash at any point leaves a snapshot plus a journal whose
 * replay yields every acknowledged change.
 */
export function createFileStore(options: FileStoreOptions): FileStore {
  const { path, snapshot, log, now = () => new Date(), compactBytes = 64 * 1_024 } = options;
  const journalPath = `${path}.journal`;
  const journal = createJournal(journalPath, options.onSync ? { onSync: options.onSync } : {});
  const queue: Pending[] = [];
  // Every write runs on this chain, one at a time; a task never rejects.
  let chain = Promise.resolve();
  let tasks = 0;
  let flushQueued = false;
  let closing: Promise<void> | undefined;
  let snapshotBytes = 0;
  let compactAt = compactBytes;
  let compactions = 0;

  function enqueue(task: () => Promise<void>): Promise<void> {
    tasks += 1;
    const done = chain.then(task).finally(() => (tasks -= 1));
    chain = done.catch(() => {});
    return done;
  }

  /** Writes `batch` to the journal and settles its callers; false when the write failed. */
  async function commit(batch: Pending[]): Promise<boolean> {
    if (batch.length === 0) return true;
    try {
      await journal.append(batch.map((pending) => pending.line).join(""));
    } catch (error) {
      log(`saving state to ${journalPath} failed: ${describeError(error)}`);
      for (const pending of batch) pending.reject(error);
      return false;
    }
    for (const pending of batch) pending.resolve();
    return true;
  }

  async function flush(): Promise<void> {
    flushQueued = false;
    if (journal.size < compactAt) {
      await commit(queue.splice(0));
      return;
    }
    await compact();
  }

  /** Writes a snapshot and empties the journal; false when the snapshot was not written. */
  async function compact(): Promise<boolean> {
    // Taken together: the snapshot holds exactly the journal plus these unwritten changes,
    // which go to the journal first, so until the journal is emptied, replaying it over the
    // new snapshot only repeats what the snapshot holds.
    const taken = snapshot();
    if (!(await commit(queue.splice(0)))) return false;
    const text = await taken;
    const limit = () => Math.max(snapshotBytes, compactBytes);
    try {
      await writeAtomically(path, text);
    } catch (error) {
      log(`writing snapshot ${path} failed (journal kept): ${describeError(error)}`);
      compactAt = journal.size + limit(); // try again after as much journal again
      return false;
    }
    snapshotBytes = Buffer.byteLength(text);
    compactions += 1;
    try {
      await journal.reset();
    } catch (error) {
      // Harmless: its changes are all in the snapshot; the next append cuts it to zero.
      log(`emptying ${journalPath} failed: ${describeError(error)}`);
    }
    compactAt = journal.size + limit();
    return true;
  }

  async function setAside(file: string): Promise<string> {
    const aside = `${file}.corrupt-${now().toISOString().replace(/[:.]/g, "-")}`;
    await rename(file, aside);
    return aside;
  }

  return {
    async load() {
      if (path === "") return [];
      const rows = new Map<string, ServiceStatus>();
      const text = await readIfExists(path);
      if (text !== undefined) {
        try {
          for (const row of parseServiceList(JSON.parse(text) as unknown)) {
            rows.set(row.ServiceURL, row);
          }
          snapshotBytes = Buffer.byteLength(text);
        } catch (error) {
          const aside = await setAside(path);
          log(`state file ${path} is corrupt (${describeError(error)}); ` +
            `moved it to ${aside} and starting without its registrations`);
        }
      }
      const journalText = (await readIfExists(journalPath)) ?? "";
      if (journalText !== "") {
        const { changes, torn, corrupt } = parseJournal(journalText);
        for (const change of changes) applyChange(rows, change);
        if (torn) {
          log(`ignored the torn last line of ${journalPath} ` +
            "(cut short by a crash before it was acknowledged)");
        }
        // Fold what was replayed into a snapshot before touching the journal, so a crash
        // here replays the same journal again.
        const folded = `${JSON.stringify({ Services: [...rows.values()] })}\n`;
        await writeAtomically(path, folded);
        snapshotBytes = Buffer.byteLength(folded);
        if (corrupt) {
          const aside = await setAside(journalPath);
          log(`journal ${journalPath} is corrupt at line ${corrupt.line} ` +
            `(${describeError(corrupt.error)}); kept the ${changes.length} changes before it ` +
            `and moved it to ${aside}`);
        } else {
          await journal.reset();
        }
      }
      compactAt = Math.max(snapshotBytes, compactBytes);
      return [...rows.values()];
    },
    record(change) {
      if (path === "") return Promise.resolve();
      if (closing) return Promise.reject(new Error("registry: state store is closed"));
      return new Promise<void>((resolve, reject) => {
        queue.push({ line: encodeChange(change), resolve, reject });
        if (flushQueued) return;
        flushQueued = true;
        void enqueue(flush);
      });
    },
    close() {
      if (path === "") return Promise.resolve();
      closing ??= enqueue(async () => {
        if (!(await compact())) {
          await journal.close();
          throw new Error(`registry: final snapshot ${path} not written; journal kept`);
        }
        await journal.close();
        // The snapshot holds it all; should the removal not survive a crash, replaying the
        // journal over the snapshot changes nothing.
        await rm(journalPath, { force: true });
      });
      return closing;
    },
    get busy() {
      return tasks > 0;
    },
    get fsyncs() {
      return journal.syncs;
    },
    get compactions() {
      return compactions;
    },
  };
}
