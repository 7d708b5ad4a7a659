import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { createEtcdClient, type EtcdClient } from "../../../lib/etcd/client.ts";
import { compact, put, range, deleteRange } from "../../../lib/etcd/kv.ts";
import { watchPrefix, type WatchEvent, type WatchOptions } from "../../../lib/etcd/watch.ts";
import { etcdForSuite, skipWithoutEtcd, startEtcdCluster } from "../../support/etcd.ts";
import { createWaiters } from "../../support/wait.ts";

/** A watch whose events are recorded; `until` waits for a condition on them. */
function recordWatch(
  t: TestContext,
  client: EtcdClient,
  options: Partial<WatchOptions> & { prefix: string; startRevision: number },
) {
  const events: WatchEvent[] = [];
  const compactions: number[] = [];
  const waiters = createWaiters();
  const controller = new AbortController();
  t.after(() => controller.abort());
  const watcher = watchPrefix(client, {
    onEvents: (batch) => {
      events.push(...batch);
      waiters.wake();
    },
    onCompacted: async (revision) => {
      const fresh = await range(client, { key: options.prefix, prefix: true });
      compactions.push(revision);
      waiters.wake();
      return fresh.revision;
    },
    progressIntervalMs: 200,
    signal: controller.signal,
    ...options,
  });
  const until = (what: string, done: () => boolean, ms = 15_000) =>
    waiters.until(() => (done() ? true : undefined), ms, () => new Error(`no ${what}: ` +
      JSON.stringify(events.map((event) => [event.type, event.kv.key, event.kv.modRevision]))));
  return { events, compactions, watcher, until };
}

describe("etcd watch", { skip: skipWithoutEtcd() }, () => {
  const etcd = etcdForSuite();

  it("delivers each change once, in revision order, with the previous value", async (t) => {
    const { cluster } = etcd;
    const client = createEtcdClient({ endpoints: cluster.endpoints });
    t.after(() => client.close());
    const start = (await put(client, "/other", "x")) + 1;
    const { events, until } = recordWatch(t, client, { prefix: "/w/", startRevision: start,
      prevKv: true });
    await put(client, "/w/a", "1");
    await put(client, "/w/a", "2");
    await deleteRange(client, { key: "/w/a" });
    await put(client, "/outside", "y");
    await until("three events", () => events.length >= 3);
    assert.deepEqual(events.map((event) => [event.type, event.kv.key, event.prevKv?.value]), [
      ["put", "/w/a", undefined],
      ["put", "/w/a", "1"],
      ["delete", "/w/a", "2"],
    ]);
    assert.deepEqual(events.map((event) => event.kv.modRevision), [start, start + 1, start + 2]);
  });

  it("resolves a wait for a revision once its events are handed over", async (t) => {
    const { cluster } = etcd;
    const client = createEtcdClient({ endpoints: cluster.endpoints });
    t.after(() => client.close());
    const start = (await put(client, "/x", "0")) + 1;
    const { watcher, events } = recordWatch(t, client, { prefix: "/w/", startRevision: start });
    assert.equal(watcher.revision, start - 1);
    const revision = await put(client, "/w/a", "1");
    await watcher.reach(revision, 10_000);
    assert.deepEqual(events.map((event) => event.kv.modRevision), [revision]);
    // Changes elsewhere bring nothing: a wait for them times out instead of guessing.
    const elsewhere = await put(client, "/elsewhere", "1");
    await assert.rejects(watcher.reach(elsewhere, 200), /did not reach revision/);
  });

  it("moves to another member when its member dies, missing and repeating nothing",
    async (t) => {
      const cluster = await startEtcdCluster(t);
      const client = createEtcdClient({ endpoints: cluster.endpoints });
      t.after(() => client.close());
      const start = (await put(client, "/x", "0")) + 1;
      const { events, until } = recordWatch(t, client, { prefix: "/w/", startRevision: start });
      const written: number[] = [];
      for (let i = 0; i < 20; i++) written.push(await put(client, `/w/${i}`, String(i)));
      await until("the first writes", () => events.length >= 1);
      await cluster.members[0]?.kill(); // the watch's stream is at the first endpoint
      for (let i = 20; i < 40; i++) written.push(await put(client, `/w/${i}`, String(i)));
      await until("every write", () => events.length >= written.length);
      assert.deepEqual(events.map((event) => event.kv.modRevision), written);
    });

  it("resynchronises from a fresh read when the history it needs was compacted", async (t) => {
    const { cluster } = etcd;
    const client = createEtcdClient({ endpoints: cluster.endpoints });
    t.after(() => client.close());
    const old = await put(client, "/w/a", "1");
    const latest = await put(client, "/w/b", "2");
    await compact(client, latest);
    const { events, compactions, until } = recordWatch(t, client, { prefix: "/w/",
      startRevision: old });
    await until("a resync", () => compactions.length > 0);
    assert.deepEqual(compactions, [latest]);
    const after = await put(client, "/w/c", "3");
    await until("the next change", () => events.length > 0);
    assert.deepEqual(events.map((event) => event.kv.modRevision), [after]);
  });
});
