import { open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "../log/logger.ts";
import { describeError } from "../service/http.ts";
import { parseServiceList, type ServiceStatus } from "./registration.ts";

/** Options of `createStateStore`. */
export interface StateStoreOptions {
  /** The state file; `""` keeps the state in memory only (saves resolve at once). */
  path: string;
  /** Produces the document to save; called at the start of each write. */
  snapshot: () => string;
  log: Logger;
  now?: () => Date;
}

/** The registry's state file. */
export interface StateStore {
  /**
   * Reads the saved registrations. A missing file is an empty registry; a corrupt one is
   * reported through `log`, renamed aside to `<path>.corrupt-<time>` and treated as empty,
   * so it is never silently overwritten. Rejects only when the file cannot be read or moved.
   */
  load(): Promise<ServiceStatus[]>;
  /**
   * Resolves once a snapshot taken after this call is durably on disk (group commit: calls
   * made while a write is in flight share the next write). Rejects when that write fails.
   */
  save(): Promise<void>;
  /** Writes are in flight or due. */
  readonly busy: boolean;
}

/**
 * Creates a state store that writes atomically: the snapshot goes to a temporary file, which
 * is fsynced and renamed over the state file, and the directory is fsynced, so a crash leaves
 * either the old or the new state, whole. At most one write is in flight; changes made
 * meanwhile are coalesced into the next, so a burst of registrations costs a few writes.
 */
export function createStateStore(options: StateStoreOptions): StateStore {
  const { path, snapshot, log, now = () => new Date() } = options;
  let waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  let writing = false;

  async function write(text: string): Promise<void> {
    const temporary = `${path}.tmp`;
    const file = await open(temporary, "w");
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
    await syncDirectory(dirname(path));
  }

  async function drain(): Promise<void> {
    writing = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      try {
        await write(snapshot());
        for (const waiter of batch) waiter.resolve();
      } catch (error) {
        log(`registry: saving state to ${path} failed: ${describeError(error)}`);
        for (const waiter of batch) waiter.reject(error);
      }
    }
    writing = false;
  }

  return {
    async load() {
      if (path === "") return [];
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw new Error(`registry: reading state ${path}: ${describeError(error)}`, {
          cause: error,
        });
      }
      try {
        return parseServiceList(JSON.parse(text) as unknown);
      } catch (error) {
        const aside = `${path}.corrupt-${now().toISOString().replace(/[:.]/g, "-")}`;
        await rename(path, aside);
        log(
          `registry: state file ${path} is corrupt (${describeError(error)}); ` +
            `moved it to ${aside} and starting with no registrations`,
        );
        return [];
      }
    },
    save() {
      if (path === "") return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push({ resolve, reject });
        if (!writing) void drain();
      });
    },
    get busy() {
      return writing || waiting.length > 0;
    },
  };
}

/** Makes a rename durable; some file systems cannot fsync a directory, which is harmless. */
async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EINVAL" && code !== "EPERM") throw error;
  } finally {
    await handle?.close();
  }
}
