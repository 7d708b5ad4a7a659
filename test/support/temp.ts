// Test helpers for throwaway resources: temp dirs removed after the test, and ports (URLs)
// where nothing listens.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where cleanups are registered: a `TestContext`, or a suite's own list. */
export interface Cleanups {
  after(fn: () => unknown): void;
}

/**
 * Creates a fresh directory `<tmp>/<prefix>-XXXXXX` and removes it (recursively) in `t.after`.
 * `t.after` hooks run in the order they were added: cleanups registered later run after the
 * directory is gone.
 */
export async function tempDir(t: Cleanups, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A port nothing listens on right now: bound on 127.0.0.1, then released. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `http://127.0.0.1:<port>` for a port that was just free: connections are refused. */
export async function deadURL(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}
