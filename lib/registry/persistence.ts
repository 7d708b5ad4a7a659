import type { ServiceStatus } from "./registration.ts";
import type { Change } from "./table.ts";

/**
 * Where a registry keeps its entries so that they outlive the process. The registry calls
 * `load` once at start, `record` for every change it must not lose, in the order the changes
 * happen (it answers a client only once `record` resolved), and `close` when it stops. The
 * single registry's is `createFileStore` (a journal folded into a snapshot). A registry cluster
 * keeps its rows in etcd instead (`clusterserver.ts`), and what a replica learns from etcd goes
 * through `Table.apply` like any other change.
 */
export interface RegistryStore {
  /** The entries saved so far; rejects when they cannot be read. */
  load(): Promise<ServiceStatus[]>;
  /** Resolves once `change` is durable; rejects when it could not be saved or after `close`. */
  record(change: Change): Promise<void>;
  /** Saves what is pending and lets go of the storage; rejects when that fails. */
  close(): Promise<void>;
}
