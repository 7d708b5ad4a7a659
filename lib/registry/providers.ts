import { UnavailableError } from "../std/errors.ts";
import type { Patch } from "./registration.ts";

/**
 * Thrown when a service asks for a provider of `serviceName` and knows none: the registry has
 * told it of no passing instance, or (with the last connection error as `cause`) every one it
 * knew refused the connection. It is an `UnavailableError`, so a handler that lets it escape
 * answers `503` `{"error": "GradingService is unavailable: …"}`.
 */
export class NoProviderError extends UnavailableError {
  override name = "NoProviderError";
  /** The ServiceName nobody provides. */
  readonly serviceName: string;

  constructor(serviceName: string, options: { cause?: unknown } = {}) {
    const why = options.cause === undefined
      ? "no instance is registered and passing its health checks"
      : "no registered instance accepted the connection";
    super(
      `${serviceName} is unavailable: ${why}`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.serviceName = serviceName;
  }
}

/**
 * The providers a service knows of: a set of instance URLs per ServiceName
 * (docs/protocol.md#registry-client).
 *
 * Every method is synchronous, so the sets can never be seen half-updated (the Go original
 * guarded its maps with a mutex it forgot to use).
 */
export interface Providers {
  /** Applies a patch with set semantics: Added then Removed; applying it twice changes nothing. */
  apply(patch: Patch): void;
  /** Replaces every set with the patch's entries (the registration answer). */
  replace(patch: Patch): void;
  /**
   * A random provider URL of `name`, leaving out those in `skip`; throws `NoProviderError`
   * when there is none.
   */
  get(name: string, skip?: ReadonlySet<string>): string;
  /** Every known provider URL of `name`, in the order they were added. */
  list(name: string): string[];
  /** Forgets one provider locally (e.g. after its connection was refused). */
  remove(name: string, url: string): void;
  /**
   * Calls `listener` after every call that changed a set; returns the unsubscribe function.
   * A listener that throws does not stop the others or the change.
   */
  onChange(listener: () => void): () => void;
}

/** Options of `createProviders`. */
export interface ProvidersOptions {
  /** Source of randomness for `get`, in [0, 1); injected by tests. Default `Math.random`. */
  random?: () => number;
}

/** Creates an empty provider table; every service owns its own (no module-level state). */
export function createProviders(options: ProvidersOptions = {}): Providers {
  const random = options.random ?? Math.random;
  const sets = new Map<string, Set<string>>();
  const listeners = new Set<() => void>();

  const add = (name: string, url: string): boolean => {
    let set = sets.get(name);
    if (!set) {
      set = new Set();
      sets.set(name, set);
    }
    if (set.has(url)) return false;
    set.add(url);
    return true;
  };

  const drop = (name: string, url: string): boolean => {
    const set = sets.get(name);
    if (!set?.delete(url)) return false;
    if (set.size === 0) sets.delete(name);
    return true;
  };

  const changed = () => {
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the table has changed either way.
      }
    }
  };

  // Added before Removed, as the Go original applies a patch.
  const applyEntries = (patch: Patch): boolean => {
    let any = false;
    for (const entry of patch.Added) any = add(entry.Name, entry.URL) || any;
    for (const entry of patch.Removed) any = drop(entry.Name, entry.URL) || any;
    return any;
  };

  return {
    apply(patch) {
      if (applyEntries(patch)) changed();
    },
    replace(patch) {
      const before = snapshot(sets);
      sets.clear();
      applyEntries(patch);
      if (snapshot(sets) !== before) changed();
    },
    get(name, skip) {
      let urls = [...(sets.get(name) ?? [])];
      if (skip) urls = urls.filter((url) => !skip.has(url));
      if (urls.length === 0) throw new NoProviderError(name);
      const index = Math.min(Math.floor(random() * urls.length), urls.length - 1);
      // index is within 0..length-1 and the list is non-empty.
      return urls[index] as string;
    },
    list(name) {
      return [...(sets.get(name) ?? [])];
    },
    remove(name, url) {
      if (drop(name, url)) changed();
    },
    onChange(listener) {
      // Wrapped so the same function can subscribe twice and unsubscribe each separately.
      const entry = () => listener();
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },
  };
}

function snapshot(sets: Map<string, Set<string>>): string {
  return JSON.stringify([...sets].map(([name, urls]) => [name, [...urls].sort()]).sort());
}
