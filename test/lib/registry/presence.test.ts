import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createEtcdClient } from "../../../lib/etcd/client.ts";
import { runForLeader } from "../../../lib/etcd/election.ts";
import { revokeLease } from "../../../lib/etcd/lease.ts";
import { range } from "../../../lib/etcd/kv.ts";
import { clusterKeys, keepPresence, listReplicas } from "../../../lib/registry/presence.ts";
import { etcdForSuite, skipWithoutEtcd } from "../../support/etcd.ts";
import { eventually } from "../../support/wait.ts";

describe("registry replicas on etcd", { skip: skipWithoutEtcd() }, () => {
  const etcd = etcdForSuite();

  it("lists the live replicas and the leader, and forgets a replica that stops", async (t) => {
    const client = createEtcdClient({ endpoints: etcd.cluster.endpoints });
    t.after(() => client.close());
    const keys = clusterKeys("/p1/");
    assert.deepEqual(keys, {
      services: "/p1/services/", election: "/p1/leader", delivered: "/p1/delivered",
      replicas: "/p1/replicas/",
    });
    const stops = ["http://r:1", "http://r:2"].map((url) => {
      const controller = new AbortController();
      t.after(() => controller.abort());
      const done = keepPresence(client, { keys, url, ttlSeconds: 2, log: () => {},
        signal: controller.signal });
      return { controller, done };
    });
    const election = new AbortController();
    t.after(() => election.abort());
    void runForLeader(client, { name: keys.election, value: "http://r:2", ttlSeconds: 2,
      signal: election.signal, lead: (term) => new Promise((resolve) => {
        term.signal.addEventListener("abort", () => resolve(), { once: true });
      }) });
    const listed = await eventually(async () => {
      const replicas = await listReplicas(client, keys);
      return replicas.length === 2 && replicas.some((r) => r.Leader) ? replicas : undefined;
    }, 10_000, "both replicas and a leader");
    assert.deepEqual(listed, [
      { URL: "http://r:1", Leader: false },
      { URL: "http://r:2", Leader: true },
    ]);
    stops[0]?.controller.abort();
    await stops[0]?.done;
    assert.deepEqual((await listReplicas(client, keys, { serializable: true }))
      .map((replica) => replica.URL), ["http://r:2"]);
  });

  it("announces itself again on a new lease when its lease is lost", async (t) => {
    const client = createEtcdClient({ endpoints: etcd.cluster.endpoints });
    t.after(() => client.close());
    const keys = clusterKeys("/p2/");
    const controller = new AbortController();
    t.after(() => controller.abort());
    void keepPresence(client, { keys, url: "http://r:1", ttlSeconds: 2, log: () => {},
      signal: controller.signal });
    const lease = await eventually(async () =>
      (await range(client, { key: keys.replicas, prefix: true })).kvs[0]?.lease, 10_000,
      "the replica's key");
    await revokeLease(client, lease);
    const again = await eventually(async () => {
      const kv = (await range(client, { key: keys.replicas, prefix: true })).kvs[0];
      return kv && kv.lease !== lease ? kv : undefined;
    }, 10_000, "the key on a new lease");
    assert.equal(again.key, "/p2/replicas/http://r:1");
  });
});
