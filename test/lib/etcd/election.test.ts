import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createEtcdClient } from "../../../lib/etcd/client.ts";
import { campaign, leaderOf, runForLeader, type Term } from "../../../lib/etcd/election.ts";
import { deleteRange, put, range } from "../../../lib/etcd/kv.ts";
import { grantLease, keepLease, revokeLease } from "../../../lib/etcd/lease.ts";
import { etcdForSuite, skipWithoutEtcd } from "../../support/etcd.ts";
import { createWaiters, eventually } from "../../support/wait.ts";

describe("etcd leases and elections", { skip: skipWithoutEtcd() }, () => {
  const etcd = etcdForSuite();

  it("keeps a lease alive past its TTL and revokes it when stopped", async (t) => {
    const { cluster } = etcd;
    const client = createEtcdClient({ endpoints: cluster.endpoints });
    t.after(() => client.close());
    const controller = new AbortController();
    const lease = await keepLease(client, { ttlSeconds: 1, signal: controller.signal });
    await put(client, "/k", "v", { lease: lease.id });
    // Three TTLs: an unrenewed lease would have taken the key with it.
    await sleep(3 * lease.ttlSeconds * 1_000);
    assert.equal((await range(client, { key: "/k" })).count, 1);
    assert.equal(lease.lost.aborted, false);
    controller.abort();
    await lease.released;
    assert.equal((await range(client, { key: "/k" })).count, 0, "revoked with its key");
  });

  it("reports the lease lost when etcd no longer knows it", async (t) => {
    const { cluster } = etcd;
    const client = createEtcdClient({ endpoints: cluster.endpoints });
    t.after(() => client.close());
    const controller = new AbortController();
    t.after(() => controller.abort());
    const lease = await keepLease(client, { ttlSeconds: 2, signal: controller.signal });
    await revokeLease(client, lease.id);
    await once(lease.lost, "abort");
    assert.match(String(lease.lost.reason), /expired/);
  });

  it("has one leader at a time and hands over when it steps down or loses its lease",
    async (t) => {
      const { cluster } = etcd;
      const client = createEtcdClient({ endpoints: cluster.endpoints });
      t.after(() => client.close());
      const terms: { who: string; term: Term }[] = [];
      const waiters = createWaiters();
      const candidates = ["a", "b", "c"].map((who) => {
        const controller = new AbortController();
        t.after(() => controller.abort());
        const done = runForLeader(client, {
          name: "/e/leader", value: who, ttlSeconds: 1, signal: controller.signal,
          lead: async (term) => {
            terms.push({ who, term });
            waiters.wake();
            if (!term.signal.aborted) await once(term.signal, "abort");
            waiters.wake();
          },
        });
        return { who, controller, done };
      });
      const inOffice = () => terms.filter(({ term }) => !term.signal.aborted);
      const nextLeader = (count: number) => waiters.until(
        () => (terms.length >= count && inOffice().length === 1 ? inOffice()[0] : undefined),
        15_000, () => new Error(`no single leader #${count}: ${terms.map((x) => x.who)}`));

      const first = await nextLeader(1);
      assert.equal((await leaderOf(client, "/e/leader"))?.value, first.who);

      // Stepping down: the next candidate in line takes over.
      candidates.find(({ who }) => who === first.who)?.controller.abort();
      const second = await nextLeader(2);
      assert.notEqual(second.who, first.who);
      assert.equal(first.term.signal.aborted, true);

      // Losing the lease behind its back ends the term; someone leads again.
      await revokeLease(client, second.term.leader.lease);
      await once(second.term.signal, "abort");
      const third = await nextLeader(3);
      assert.equal((await leaderOf(client, "/e/leader"))?.value, third.who);
      assert.equal(inOffice().length, 1);

      for (const candidate of candidates) candidate.controller.abort();
      await Promise.all(candidates.map((candidate) => candidate.done));
      assert.equal(await leaderOf(client, "/e/leader"), undefined, "everyone resigned");
    });

  it("does not lead on its key when etcd deleted that key while its campaign waited",
    async (t) => {
      // What etcd does to the key of a campaign call that was abandoned, landing after the
      // candidate's next campaign began waiting on that key.
      const { cluster } = etcd;
      const client = createEtcdClient({ endpoints: cluster.endpoints });
      t.after(() => client.close());
      const first = (await grantLease(client, 30)).id;
      await campaign(client, "/e/gone", first, "a");
      const terms: { held: boolean }[] = [];
      const waiters = createWaiters();
      const controller = new AbortController();
      t.after(() => controller.abort());
      const done = runForLeader(client, {
        name: "/e/gone", value: "b", ttlSeconds: 2, signal: controller.signal,
        lead: async (term) => {
          const { kvs } = await range(client, { key: term.leader.key });
          terms.push({ held: kvs[0]?.createRevision === term.leader.revision });
          waiters.wake();
          if (!term.signal.aborted) await once(term.signal, "abort");
        },
      });
      const waiting = await eventually(async () => (await range(client,
        { key: "/e/gone/", prefix: true })).kvs.find((kv) => kv.value === "b"), 10_000,
      "the second candidate's key");
      await deleteRange(client, { key: waiting.key });
      await revokeLease(client, first);
      await waiters.until(() => terms[0], 15_000, () => new Error("nobody leads"));
      assert.deepEqual(terms, [{ held: true }], "led only on a key etcd holds");
      controller.abort();
      await done;
    });
});
