import type { Patch, PatchEntry } from "./registration.ts";

/**
 * What one dependent still has to learn, coalesced: for each provider only its latest change
 * (added or removed), however often it changed, plus the callers waiting for those changes to
 * be tried. A dependent needs its latest view, not the history, so this is the bound on what
 * waits for a dependent that does not answer: one change per provider.
 */
export interface Batch {
  /** Latest change per provider, keyed by name and URL, in first-change order. */
  readonly changes: Map<string, { entry: PatchEntry; added: boolean }>;
  /** Called with the outcome of the first POST that carries these changes. */
  readonly waiters: Array<(delivered: boolean) => void>;
  /** Called once these changes are out for good: delivered, given up, or dropped at close. */
  readonly finals: Array<() => void>;
}

/** Creates an empty batch. */
export function createBatch(): Batch {
  return { changes: new Map(), waiters: [], finals: [] };
}

// One announcement shares its entry objects among all dependents: build each key once.
const keys = new WeakMap<PatchEntry, string>();
function keyOf(entry: PatchEntry): string {
  let found = keys.get(entry);
  if (found === undefined) keys.set(entry, (found = `${entry.Name}\n${entry.URL}`));
  return found;
}

/**
 * Adds `patch` to `batch`: within the patch `Added` wins over `Removed` for the same provider
 * (as a dependent applying it in Go's order would end), and the patch wins over what the batch
 * held.
 */
export function mergePatch(batch: Batch, patch: Patch): void {
  for (const entry of patch.Removed) batch.changes.set(keyOf(entry), { entry, added: false });
  for (const entry of patch.Added) batch.changes.set(keyOf(entry), { entry, added: true });
}

/**
 * Moves everything of `newer` into `older` (the newer change of a provider wins) and leaves
 * `newer` empty: a retry carries what arrived while it waited.
 */
export function absorb(older: Batch, newer: Batch): void {
  for (const [key, change] of newer.changes) older.changes.set(key, change);
  older.waiters.push(...newer.waiters);
  older.finals.push(...newer.finals);
  newer.changes.clear();
  newer.waiters.length = 0;
  newer.finals.length = 0;
}

/** Calls every waiter of `batch` with `delivered` and forgets them. */
export function settle(batch: Batch, delivered: boolean): void {
  for (const waiter of batch.waiters.splice(0)) waiter(delivered);
}

/** Calls every final waiter of `batch` (its changes are out for good) and forgets them. */
export function finish(batch: Batch): void {
  for (const final of batch.finals.splice(0)) final();
}

/** The wire form of a batch: always both lists, as arrays, fields in the Go order. */
export function toPatch(batch: Batch): Patch {
  const patch: Patch = { Added: [], Removed: [] };
  for (const { entry, added } of batch.changes.values()) {
    (added ? patch.Added : patch.Removed).push({ Name: entry.Name, URL: entry.URL });
  }
  return patch;
}
