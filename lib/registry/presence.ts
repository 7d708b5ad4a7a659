import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { CallOptions, EtcdClient } from "../etcd/client.ts";
import { leaderOf } from "../etcd/election.ts";
import { put, range } from "../etcd/kv.ts";
import { keepLease } from "../etcd/lease.ts";
import { backoffDelay } from "../std/backoff.ts";
import { describeError } from "../std/errors.ts";
import type { Logger } from "../std/log.ts";
import type { ReplicaInfo } from "./registration.ts";

/** The etcd keys of a registry cluster under its prefix (README "Running a registry cluster"). */
export interface ClusterKeys {
  /** `<prefix>services/`: one key per registration, the ServiceURL appended. */
  services: string;
  /** `<prefix>leader`: the election; candidates' keys are `<prefix>leader/<lease in hex>`. */
  election: string;
  /** `<prefix>delivered`: the revision up to which every patch went out. */
  delivered: string;
  /** `<prefix>replicas/`: one key per live replica, its URL appended, on its own lease. */
  replicas: string;
}

/** The key layout under `prefix` (which should end with `/`). */
export function clusterKeys(prefix: string): ClusterKeys {
  return {
    services: `${prefix}services/`,
    election: `${prefix}leader`,
    delivered: `${prefix}delivered`,
    replicas: `${prefix}replicas/`,
  };
}

/**
 * Lists the live replicas and which one leads. Reads serializably when asked, so it answers
 * (from the member's possibly stale copy) even without a quorum. Rejects as
 * `EtcdClient.call` does.
 */
export async function listReplicas(
  client: EtcdClient,
  keys: ClusterKeys,
  options: CallOptions & { serializable?: boolean } = {},
): Promise<ReplicaInfo[]> {
  const [present, leader] = await Promise.all([
    range(client, { key: keys.replicas, prefix: true }, options),
    leaderOf(client, keys.election, options),
  ]);
  const urls = present.kvs.map((kv) => kv.key.slice(keys.replicas.length));
  if (leader && !urls.includes(leader.value)) urls.push(leader.value);
  return urls.sort().map((url) => ({ URL: url, Leader: url === leader?.value }));
}

/** Options of `keepPresence`. */
export interface PresenceOptions {
  keys: ClusterKeys;
  /** This replica's URL. */
  url: string;
  ttlSeconds: number;
  log: Logger;
  /** Aborting it removes the key (its lease is revoked). */
  signal: AbortSignal;
}

/**
 * Keeps `<prefix>replicas/<url>` present on a lease of its own for as long as `signal` allows,
 * putting it again on a new lease whenever the old one is lost. A replica that dies leaves
 * the list one TTL later. Resolves once stopped.
 */
export async function keepPresence(client: EtcdClient, options: PresenceOptions): Promise<void> {
  const { keys, url, ttlSeconds, log, signal } = options;
  for (let failures = 0; !signal.aborted;) {
    const done = new AbortController();
    try {
      const lease = await keepLease(client, {
        ttlSeconds, signal: AbortSignal.any([signal, done.signal]), log,
      });
      await put(client, `${keys.replicas}${url}`, JSON.stringify({ URL: url }),
        { lease: lease.id, signal });
      failures = 0;
      const gone = AbortSignal.any([signal, lease.lost]);
      if (!gone.aborted) await once(gone, "abort");
      done.abort();
      await lease.released;
    } catch (error) {
      done.abort();
      if (signal.aborted) break;
      failures += 1;
      if (failures === 1) log(`announcing this replica failed: ${describeError(error)}`);
      await sleep(backoffDelay(failures, 200, 5_000), undefined, { signal }).catch(() => {});
    }
  }
}
