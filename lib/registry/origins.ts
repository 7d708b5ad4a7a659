import { endpointOf } from "./crash-probe.ts";

/** A host:port with entries, and what the health checker knows of it. `E`: its entries. */
export interface Origin<E> {
  key: string;
  host: string;
  port: number;
  entries: number;
  /** Its passing entries, the ones a refusal or a closed connection concerns. */
  passing: Set<E>;
  /** Clock time the latest look that was refused there started; `undefined`: not known dead. */
  refusedAt: number | undefined;
  /** What that refusal said. */
  detail: string;
  /** A pooled connection there was closed: the next check looks whether it listens first. */
  suspect: boolean;
  /** The latest look at it in progress. */
  looking: Look<E> | undefined;
}

/** A look at a host:port (is anything listening?), and the entries waiting for its answer. */
export interface Look<E> {
  /** Entries added when it started: it speaks for those (numbered up to this). */
  looked: number;
  waiting: Set<E>;
}

/** The host:ports that have entries, each with its count of entries. */
export interface Origins<E> {
  /** The host:port of `url`, counting one more entry there. */
  enter(url: string): Origin<E>;
  /** Counts one entry less at `origin`; forgets it with the last. */
  leave(origin: Origin<E>): void;
  get(key: string): Origin<E> | undefined;
  clear(): void;
}

/** Creates an empty table of host:ports. */
export function createOrigins<E>(): Origins<E> {
  const origins = new Map<string, Origin<E>>();
  return {
    enter(url) {
      const { key, host, port } = endpointOf(url);
      let origin = origins.get(key);
      if (!origin) {
        origin = { key, host, port, entries: 0, passing: new Set(), refusedAt: undefined,
          detail: "", suspect: false, looking: undefined };
        origins.set(key, origin);
      }
      origin.entries += 1;
      return origin;
    },
    leave(origin) {
      origin.entries -= 1;
      if (origin.entries <= 0 && origins.get(origin.key) === origin) origins.delete(origin.key);
    },
    get: (key) => origins.get(key),
    clear: () => origins.clear(),
  };
}

/**
 * What a check of an entry at `origin` does at clock time `now` (pure): `check` its heartbeat
 * as usual; or, while the host:port is known dead or suspect, `refused` (a critical entry,
 * within `intervalMs` of the last refusal there: it stays critical on that word), `join` the
 * look in progress (it started after the entry, numbered `added`, was added, so it speaks for
 * it), or `look` first.
 */
export function nextStep<E>(
  origin: Origin<E>,
  entry: { critical: boolean; added: number },
  now: number,
  intervalMs: number,
): "check" | "refused" | "join" | "look" {
  if (origin.refusedAt === undefined && !origin.suspect) return "check";
  const fresh = origin.refusedAt !== undefined && now - origin.refusedAt < intervalMs;
  if (fresh && entry.critical) return "refused";
  const current = origin.looking;
  return current && current.looked >= entry.added ? "join" : "look";
}
