import type { PatchEntry, Registration, ServiceStatus, Status } from "./registration.ts";

/**
 * One registration and its health. The object keeps its identity across re-registrations
 * of the same ServiceURL; whoever changes a field other than `row` clears `row`.
 */
export interface Entry {
  reg: Registration;
  status: Status;
  lastCheck: Date | null;
  /** Cached JSON of its `GET /services` row; `undefined` when stale. */
  row: string | undefined;
}

/** The registrations, indexed by ServiceURL, by ServiceName and by required name. */
export interface Table {
  readonly size: number;
  get(serviceURL: string): Entry | undefined;
  /**
   * Inserts `reg`, or replaces the registration with the same ServiceURL in place (same
   * Entry object). Returns the entry and the registration it replaced, if any.
   */
  put(reg: Registration): { entry: Entry; previous: Registration | undefined };
  /** Removes the registration of `serviceURL`; returns it, or `undefined` when unknown. */
  delete(serviceURL: string): Entry | undefined;
  /** The passing instances of `name`, as patch entries. */
  providers(name: string): PatchEntry[];
  /** Registrations that require `name` and have a ServiceUpdateURL. */
  dependents(name: string): Iterable<Entry>;
  /** Every registration, or those named `name`. */
  entries(name?: string): Iterable<Entry>;
}

/** Creates an empty registration table. */
export function createTable(): Table {
  const byURL = new Map<string, Entry>();
  const byName = new Map<string, Set<Entry>>();
  const byRequired = new Map<string, Set<Entry>>();

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
    index(byName, entry.reg.ServiceName, entry);
    if (entry.reg.ServiceUpdateURL === "") return;
    for (const name of entry.reg.RequiredServices) index(byRequired, name, entry);
  };
  const unlink = (entry: Entry) => {
    unindex(byName, entry.reg.ServiceName, entry);
    for (const name of entry.reg.RequiredServices) unindex(byRequired, name, entry);
  };

  return {
    get size() {
      return byURL.size;
    },
    get: (serviceURL) => byURL.get(serviceURL),
    put(reg) {
      const existing = byURL.get(reg.ServiceURL);
      if (existing) {
        const previous = existing.reg;
        unlink(existing);
        existing.reg = reg;
        existing.row = undefined;
        link(existing);
        return { entry: existing, previous };
      }
      const entry: Entry = {
        reg,
        status: "passing",
        lastCheck: null,
        row: undefined,
      };
      byURL.set(reg.ServiceURL, entry);
      link(entry);
      return { entry, previous: undefined };
    },
    delete(serviceURL) {
      const entry = byURL.get(serviceURL);
      if (!entry) return undefined;
      byURL.delete(serviceURL);
      unlink(entry);
      return entry;
    },
    providers(name) {
      const found: PatchEntry[] = [];
      for (const entry of byName.get(name) ?? []) {
        if (entry.status === "passing") found.push({ Name: name, URL: entry.reg.ServiceURL });
      }
      return found;
    },
    dependents: (name) => byRequired.get(name) ?? [],
    entries: (name) => (name === undefined ? byURL.values() : (byName.get(name) ?? [])),
  };
}

/** The `GET /services` row of an entry (also the persisted form). */
export function statusOf(entry: Entry): ServiceStatus {
  const { reg } = entry;
  return {
    ServiceName: reg.ServiceName,
    ServiceURL: reg.ServiceURL,
    RequiredServices: reg.RequiredServices,
    ServiceUpdateURL: reg.ServiceUpdateURL,
    HeartbeatURL: reg.HeartbeatURL,
    Status: entry.status,
    LastCheck: entry.lastCheck?.toISOString() ?? null,
  };
}

/** The rows of `entries` as one `{"Services":[…]}` JSON document, reusing cached rows. */
export function serviceListJSON(entries: Iterable<Entry>): string {
  const rows: string[] = [];
  for (const entry of entries) {
    entry.row ??= JSON.stringify(statusOf(entry));
    rows.push(entry.row);
  }
  return `{"Services":[${rows.join(",")}]}`;
}
