import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../std/log.ts";
import { describeError } from "../std/errors.ts";
import { EtcdError, type CallOptions, type EtcdClient } from "./client.ts";
import { asObject, idField, intField } from "./codec.ts";

/** Grants a lease of `ttlSeconds`; resolves with its ID and the TTL etcd granted. */
export async function grantLease(
  client: EtcdClient,
  ttlSeconds: number,
  options: CallOptions = {},
): Promise<{ id: string; ttlSeconds: number }> {
  const answer = await client.call("lease/grant", { TTL: String(ttlSeconds) }, options);
  return { id: idField(answer, "ID"), ttlSeconds: intField(answer, "TTL") };
}

/**
 * Renews a lease once; resolves with its TTL in seconds, 0 when it has expired or is unknown
 * (etcd answers that with a missing TTL, not an error). Uses the keepalive stream endpoint with
 * one complete message, which answers once and ends like a unary call.
 */
export async function keepAliveOnce(
  client: EtcdClient,
  id: string,
  options: CallOptions = {},
): Promise<number> {
  const answer = await client.call("lease/keepalive", { ID: id }, options);
  return intField(asObject(answer["result"] ?? {}, "result"), "TTL");
}

/** Revokes a lease, deleting its keys at once; an unknown lease counts as revoked. */
export async function revokeLease(
  client: EtcdClient,
  id: string,
  options: CallOptions = {},
): Promise<void> {
  try {
    await client.call("lease/revoke", { ID: id }, options);
  } catch (error) {
    if (!(error instanceof EtcdError && error.code === 5)) throw error;
  }
}

/** Options of `keepLease`. */
export interface KeepLeaseOptions {
  /** The lease's time to live; etcd raises it to its minimum (2 s with default timers). */
  ttlSeconds: number;
  /** Aborting it stops the renewals and revokes the lease (best effort). */
  signal: AbortSignal;
  log?: Logger;
}

/** A lease kept alive. */
export interface KeptLease {
  id: string;
  ttlSeconds: number;
  /**
   * Aborts once the lease may have expired: etcd said so, or no renewal succeeded in time.
   * Its keys may be gone then, and whatever they stood for (a leadership) is lost.
   */
  lost: AbortSignal;
  /** Resolves once the renewals have stopped and the lease was revoked (or that failed). */
  released: Promise<void>;
}

/**
 * Grants a lease and renews it every third of its TTL until `signal` aborts, then revokes it.
 * The lease counts as lost — `lost` aborts, and renewals stop — as soon as etcd reports it
 * expired, or when the TTL has run out since the last renewal that was *sent* before a
 * success: the earliest moment etcd could let it expire, so the holder never acts on a lease
 * etcd may already have dropped. Rejects when the grant fails (`EtcdUnavailableError`).
 */
export async function keepLease(
  client: EtcdClient,
  options: KeepLeaseOptions,
): Promise<KeptLease> {
  const { signal, log = () => {} } = options;
  const lease = await grantLease(client, options.ttlSeconds, { signal });
  const ttlMs = lease.ttlSeconds * 1_000;
  const lost = new AbortController();
  let expiresAt = performance.now() + ttlMs;
  const expiry = () => {
    clearTimeout(timer);
    timer = setTimeout(() => lost.abort(new Error(`etcd: lease ${lease.id} ran out`)),
      expiresAt - performance.now());
  };
  let timer: NodeJS.Timeout | undefined;
  expiry();

  async function renew(): Promise<void> {
    const stop = AbortSignal.any([signal, lost.signal]);
    while (!stop.aborted) {
      await sleep(ttlMs / 3, undefined, { signal: stop }).catch(() => {});
      if (stop.aborted) break;
      const sent = performance.now();
      try {
        const ttl = await keepAliveOnce(client, lease.id, {
          signal: stop,
          timeoutMs: Math.max(1, expiresAt - sent),
        });
        if (ttl <= 0) {
          lost.abort(new Error(`etcd: lease ${lease.id} expired`));
          break;
        }
        expiresAt = sent + ttl * 1_000;
        expiry();
      } catch (error) {
        if (!stop.aborted) log(`etcd: renewing lease ${lease.id} failed: ${describeError(error)}`);
      }
    }
    clearTimeout(timer);
    if (!lost.signal.aborted) lost.abort(new Error(`etcd: lease ${lease.id} released`));
    // Released on purpose, or lost: either way nobody should wait out its TTL.
    await revokeLease(client, lease.id, { timeoutMs: 1_000 }).catch(() => {});
  }
  const released = renew();
  return { id: lease.id, ttlSeconds: lease.ttlSeconds, lost: lost.signal, released };
}
