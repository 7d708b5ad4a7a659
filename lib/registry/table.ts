import type { Patch, PatchEntry, Registration, ServiceStatus, Status } from "./registration.ts";

/**
 * One change of a registry entry: its row put under its ServiceURL (a registration, or a
 * check's result), or the entry of a ServiceURL removed. Also the journal's line: both
 * overwrite by URL, so applying a change twice changes nothing.
 */
export type Change = { put: ServiceStatus } | { remove: string };

/** A patch for the dependents of one service name. */
interface Announcement {
  /** The ServiceName whose dependents must hear it. */
  name: string;
  patch: Patch;
}

/** A patch and the ServiceUpdateURLs it must go to. */
export interface Delivery {
  patch: Patch;
  to: string[];
}

/** The registry's entries, indexed by ServiceURL, by ServiceName and by required name. */
export interface Table {
  readonly size: number;
  /** How many entries have `status`. */
  count(status: Status): number;
  /** The row of `serviceURL`, or `undefined` when none is registered there. */
  get(serviceURL: string): ServiceStatus | undefined;
  /**
   * Applies `change`: the one way an entry changes — registration, deregistration, a check's
   * result, expiry, a change replayed from storage or learnt from another replica. Keeps the
   * indexes and the cached JSON right, and returns what the change means for dependents
   * (`announcements`), addressed to the dependents registered now.
   */
  apply(change: Change): Delivery[];
  /** The passing instances of `name`, as patch entries. */
  providers(name: string): PatchEntry[];
  /** Every row, or those named `name`. */
  rows(name?: string): Iterable<ServiceStatus>;
  /** Those rows as one `{"Services":[…]}` JSON document, each row's JSON made once. */
  json(name?: string): string;
  /**
   * Every row as `json()` gives them, as they are now: the rows are taken at the call, and
   * their JSON is made a slice per turn of the event loop, so a large table does not hold up
   * requests while it is saved. Never rejects.
   */
  snapshot(): Promise<string>;
}

// Rows made JSON per turn of the event loop by `snapshot`.
const snapshotSlice = 500;

interface Entry {
  row: ServiceStatus;
  /** Cached JSON of `row`; `undefined` until asked for after a change. */
  json: string | undefined;
}

/** The row of a registration with this health. */
export function rowOf(reg: Registration, status: Status, lastCheck: string | null): ServiceStatus {
  return { ...reg, Status: status, LastCheck: lastCheck };
}

/**
 * What dependents must be told when an entry's row goes from `previous` to `next`
 * (`undefined`: none). Only passing entries are visible to discovery: an entry that becomes
 * visible is `Added`, one that stops being visible `Removed` — and so is one that goes away,
 * even if it was critical already, so that a lost `Removed` gets another chance. A name change
 * is a `Removed` under the old name and an `Added` under the new one. Anything else (a new
 * LastCheck, a re-registration that changes nothing visible) is silent.
 */
function announcements(
  previous: ServiceStatus | undefined,
  next: ServiceStatus | undefined,
): Announcement[] {
  const was = previous?.Status === "passing";
  const is = next?.Status === "passing";
  const renamed = previous !== undefined && next !== undefined &&
    previous.ServiceName !== next.ServiceName;
  const found: Announcement[] = [];
  if (previous && (next === undefined || (was && (!is || renamed)))) {
    const entry = { Name: previous.ServiceName, URL: previous.ServiceURL };
    found.push({ name: previous.ServiceName, patch: { Added: [], Removed: [entry] } });
  }
  if (next && is && (!was || renamed)) {
    const entry = { Name: next.ServiceName, URL: next.ServiceURL };
    found.push({ name: next.ServiceName, patch: { Added: [entry], Removed: [] } });
  }
  return found;
}

/** Creates an empty table. */
export function createTable(): Table {
  const byURL = new Map<string, Entry>();
  const byName = new Map<string, Set<Entry>>();
  // Only entries that can be told anything: those with a ServiceUpdateURL.
  const byRequired = new Map<string, Set<Entry>>();
  const counts = { passing: 0, critical: 0 };

  const index = (map: Map<string, Set<Entry>>, key: string, entry: Entry) => {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(entry);
  };
  const unindex = (map: Map<string, Set<Entry>>, key: string, entry: Entry) => {
    const set = map.get(key);
    if (!set) return;
    set.delete(entry);
    if (set.size === 0) map.delete(key);
  };
  const link = (entry: Entry) => {
    counts[entry.row.Status] += 1;
    index(byName, entry.row.ServiceName, entry);
    if (entry.row.ServiceUpdateURL === "") return;
    for (const name of entry.row.RequiredServices) index(byRequired, name, entry);
  };
  const unlink = (entry: Entry) => {
    counts[entry.row.Status] -= 1;
    unindex(byName, entry.row.ServiceName, entry);
    for (const name of entry.row.RequiredServices) unindex(byRequired, name, entry);
  };
  // Most changes are a check's result: the indexed fields (and the status counted) stay, so
  // the indexes need not move.
  const sameIndex = (a: ServiceStatus, b: ServiceStatus) =>
    a.Status === b.Status && a.ServiceName === b.ServiceName &&
    a.ServiceUpdateURL === b.ServiceUpdateURL &&
    a.RequiredServices.length === b.RequiredServices.length &&
    a.RequiredServices.every((name, i) => b.RequiredServices[i] === name);

  const update = (change: Change): ServiceStatus | undefined => {
    if ("remove" in change) {
      const entry = byURL.get(change.remove);
      if (!entry) return undefined;
      byURL.delete(change.remove);
      unlink(entry);
      return entry.row;
    }
    const next = change.put;
    const entry = byURL.get(next.ServiceURL);
    if (!entry) {
      const added = { row: next, json: undefined };
      byURL.set(next.ServiceURL, added);
      link(added);
      return undefined;
    }
    const previous = entry.row;
    const moved = !sameIndex(previous, next);
    if (moved) unlink(entry);
    entry.row = next;
    entry.json = undefined;
    if (moved) link(entry);
    return previous;
  };

  function* select(name: string | undefined): Iterable<Entry> {
    yield* name === undefined ? byURL.values() : (byName.get(name) ?? []);
  }

  return {
    get size() {
      return byURL.size;
    },
    count: (status) => counts[status],
    get: (serviceURL) => byURL.get(serviceURL)?.row,
    apply(change) {
      const previous = update(change);
      const next = "put" in change ? change.put : undefined;
      return announcements(previous, next).map(({ name, patch }) => ({
        patch,
        to: [...(byRequired.get(name) ?? [])].map((entry) => entry.row.ServiceUpdateURL),
      }));
    },
    providers(name) {
      const found: PatchEntry[] = [];
      for (const { row } of byName.get(name) ?? []) {
        if (row.Status === "passing") found.push({ Name: name, URL: row.ServiceURL });
      }
      return found;
    },
    *rows(name) {
      for (const entry of select(name)) yield entry.row;
    },
    json(name) {
      const rows: string[] = [];
      for (const entry of select(name)) {
        entry.json ??= JSON.stringify(entry.row);
        rows.push(entry.json);
      }
      return `{"Services":[${rows.join(",")}]}`;
    },
    async snapshot() {
      // A row is never changed in place (a change puts a new one), so taking them is enough.
      const taken = [...byURL.values()].map((entry) => entry.json ?? entry.row);
      const rows: string[] = [];
      for (const [index, row] of taken.entries()) {
        rows.push(typeof row === "string" ? row : JSON.stringify(row));
        if (index % snapshotSlice === snapshotSlice - 1) {
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      return `{"Services":[${rows.join(",")}]}`;
    },
  };
}
