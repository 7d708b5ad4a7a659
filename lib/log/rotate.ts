import { open, rename } from "node:fs/promises";
import type { SinkIO } from "./sinkio.ts";
import { dirname } from "node:path";

/** The name of the `n`th rotated file: `file` itself for 0, then `file.1`, `file.2`, … */
export function rotatedName(file: string, n: number): string {
  return n === 0 ? file : `${file}.${n}`;
}

/**
 * Renames `file.(keep-1)` → `file.keep`, …, `file.1` → `file.2`, then `file` → `file.1`; the
 * rename onto `file.keep` replaces the oldest. Missing older files are skipped. Rejects when a
 * rename fails: the files renamed so far stay renamed (each is whole; only names moved).
 */
async function shiftFiles(file: string, keep: number): Promise<void> {
  for (let n = keep - 1; n >= 1; n--) {
    try {
      await rename(rotatedName(file, n), rotatedName(file, n + 1));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  await rename(file, rotatedName(file, 1));
}

/*
 * fsyncs the directory holding `file`, so that renames and a newly created file there survive
 * a crash: an entry fdatasynced in a new file is lost with it if its name is not durable.
 */
async function syncDirectory(file: string): Promise<void> {
  const directory = await open(dirname(file), "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/**
 * Rotates `file` (see `shiftFiles`), opens the new one with `reopen` and fsyncs the directory,
 * so the new file's name is durable before anything written to it is acknowledged. When
 * opening or the fsync fails, the new file is closed and `FILE.1` is renamed back; rejects
 * then, and the caller goes on with the old file.
 */
export async function rotateFile(file: string, keep: number,
  reopen: () => Promise<SinkIO>): Promise<SinkIO> {
  await shiftFiles(file, keep);
  let opened: SinkIO | undefined;
  try {
    opened = await reopen();
    await syncDirectory(file);
    return opened;
  } catch (error) {
    await opened?.close().catch(() => {});
    await rename(rotatedName(file, 1), file).catch(() => {});
    throw error;
  }
}
