import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../std/log.ts";
import { backoffDelay } from "../std/backoff.ts";
import { describeError } from "../std/errors.ts";
import {
  EtcdUnavailableError,
  type CallOptions,
  type EtcdClient,
} from "./client.ts";
import { asObject, decode, encode, intField, idField, stringField } from "./codec.ts";
import { range, type RangeOptions } from "./kv.ts";
import { keepLease } from "./lease.ts";

/** The key that makes its holder the leader of an election (etcd's `LeaderKey`). */
export interface LeaderKey {
  /** The election's name. */
  name: string;
  /** `<name>/<lease in hex>`: the key whose existence is the leadership. */
  key: string;
  /** The key's create revision: a write guarded by it fails once the leadership is gone. */
  revision: number;
  lease: string;
}

/** Who leads an election right now. */
export interface Leader {
  key: string;
  value: string;
  revision: number;
}

/**
 * Campaigns for the election `name` with a lease and waits until elected; resolves with the
 * leader key. Campaigning again with the same lease reuses the same key (and place in line).
 * Aborting (or the timeout) withdraws the candidacy. Rejects as `EtcdClient.call` does.
 */
export async function campaign(
  client: EtcdClient,
  name: string,
  lease: string,
  value: string,
  options: CallOptions = {},
): Promise<LeaderKey> {
  const answer = await client.call("election/campaign", {
    name: encode(name),
    lease,
    value: encode(value),
  }, options);
  const leader = asObject(answer["leader"], "leader");
  return {
    name,
    key: decode(stringField(leader, "key")),
    revision: intField(leader, "rev"),
    lease: idField(leader, "lease"),
  };
}

/**
 * The current leader of `name` — the candidate key created first, as etcd's election decides
 * — or `undefined` when nobody leads. Read with a range rather than `/v3/election/leader`,
 * which sets up a session inside etcd for every call. Rejects as `EtcdClient.call` does.
 */
export async function leaderOf(
  client: EtcdClient,
  name: string,
  options: RangeOptions = {},
): Promise<Leader | undefined> {
  const { kvs } = await range(client, { key: `${name}/`, prefix: true },
    { ...options, limit: 1, oldestFirst: true });
  const kv = kvs[0];
  return kv && { key: kv.key, value: kv.value, revision: kv.createRevision };
}

/**
 * Whether `leader`'s key is still the oldest of its election. etcd deletes the key of a
 * campaign whose call was abandoned (our deadline passed), and that delete can land after the
 * next campaign with the same lease found the key and began waiting behind it: that campaign
 * then returns "elected" on a key that is gone, while another candidate leads for real.
 */
async function holdsFirstPlace(
  client: EtcdClient,
  leader: LeaderKey,
  signal: AbortSignal,
): Promise<boolean> {
  const first = await leaderOf(client, leader.name, { signal });
  return first?.key === leader.key && first.revision === leader.revision;
}

/** One term of office, handed to `runForLeader`'s `lead`. */
export interface Term {
  leader: LeaderKey;
  /** Aborts when the term ends: the lease was lost or the candidate stopped. */
  signal: AbortSignal;
}

/** Options of `runForLeader`. */
export interface RunForLeaderOptions {
  /** The election's name (an etcd key prefix). */
  name: string;
  /** What the leader key holds, e.g. the candidate's URL. */
  value: string;
  /** TTL of the candidate's lease: how long a dead leader blocks the next one at most. */
  ttlSeconds: number;
  /**
   * Runs while this candidate leads; should return once `term.signal` aborts. When it
   * returns or rejects, the candidate resigns and campaigns again.
   */
  lead(term: Term): Promise<void>;
  /** Bound on one campaign call; a waiting candidate re-campaigns after it. Default 10 s. */
  campaignTimeoutMs?: number;
  log?: Logger;
  /** Aborting it ends the candidacy; a leader resigns first (its lease is revoked). */
  signal: AbortSignal;
}

/**
 * Campaigns for leadership for as long as `signal` allows: keeps a lease alive, waits in
 * line, and runs `lead` for each term won. A term ends when the lease may have expired (see
 * `keepLease`), so two candidates never both believe they lead for longer than the clock
 * drift of one renewal. Resolves once the candidacy has ended and the lease is revoked.
 */
export async function runForLeader(
  client: EtcdClient,
  options: RunForLeaderOptions,
): Promise<void> {
  const { name, value, ttlSeconds, lead, signal, log = () => {} } = options;
  const campaignTimeoutMs = options.campaignTimeoutMs ?? 10_000;
  let failures = 0;
  while (!signal.aborted) {
    const held = new AbortController();
    const stop = AbortSignal.any([signal, held.signal]);
    let released: Promise<void> | undefined;
    try {
      const lease = await keepLease(client, { ttlSeconds, signal: stop, log });
      released = lease.released;
      const inOffice = AbortSignal.any([stop, lease.lost]);
      let leader: LeaderKey | undefined;
      while (!inOffice.aborted && !leader) {
        try {
          const won = await campaign(client, name, lease.id, value, {
            signal: inOffice,
            timeoutMs: campaignTimeoutMs,
            attemptTimeoutMs: campaignTimeoutMs,
          });
          if (await holdsFirstPlace(client, won, inOffice)) leader = won;
          else log(`etcd: campaign for ${name} ended on a key etcd no longer holds; again`);
        } catch (error) {
          if (inOffice.aborted) break;
          // Still in line when the call's deadline passed: campaign again.
          if (!(error instanceof EtcdUnavailableError)) throw error;
        }
      }
      if (leader && !inOffice.aborted) {
        failures = 0;
        log(`etcd: elected leader of ${name} (${leader.key})`);
        await lead({ leader, signal: inOffice }).catch((error: unknown) => {
          log(`etcd: leader of ${name} stopped: ${describeError(error)}`);
        });
        log(`etcd: no longer leader of ${name}`);
      }
    } catch (error) {
      if (signal.aborted) break;
      failures += 1;
      log(`etcd: campaign for ${name} failed: ${describeError(error)}`);
      await sleep(backoffDelay(failures, 100, 2_000), undefined, { signal }).catch(() => {});
    } finally {
      // Ends the lease's renewals and revokes it, which deletes the leader key at once.
      held.abort();
      await released;
    }
  }
}
