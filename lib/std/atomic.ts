import { randomBytes } from "node:crypto";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Replaces `file` with `text` so that a crash leaves the old or the new text, whole: the text
 * goes to a temporary file beside it, which is fsynced and renamed over `file`, and then the
 * directory is fsynced so the rename itself is durable. Rejects when any step fails (the
 * temporary file is removed again; `file` is untouched).
 */
export async function writeAtomically(file: string, text: string): Promise<void> {
  // Unique per call, so two writers never share a temporary file.
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    // `flush` fsyncs the file before `writeFile` resolves.
    await writeFile(temporary, text, { encoding: "utf8", mode: 0o644, flush: true });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(file));
}

/**
 * Makes a rename or a newly created file in `directory` durable by fsyncing the directory.
 * Some platforms cannot fsync a directory (EISDIR/EPERM/EINVAL); there the rename's own
 * ordering is all we get, and this resolves.
 */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL") throw error;
  } finally {
    await handle.close();
  }
}
