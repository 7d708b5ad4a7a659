import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import {
  createEtcdClient,
  EtcdError,
  EtcdUnavailableError,
  parseEndpoints,
} from "../../../lib/etcd/client.ts";
import { compact, deleteRange, put, range, txn } from "../../../lib/etcd/kv.ts";
import { grantLease, keepAliveOnce, revokeLease } from "../../../lib/etcd/lease.ts";
import { etcdForSuite, skipWithoutEtcd, startEtcdCluster } from "../../support/etcd.ts";
import { deadURL } from "../../support/temp.ts";

describe("etcd endpoint list", () => {
  it("accepts comma-separated http URLs and drops trailing slashes", () => {
    assert.deepEqual(parseEndpoints("http://127.0.0.1:2379/, http://b:2380"),
      ["http://127.0.0.1:2379", "http://b:2380"]);
  });
  const bad: [string, RegExp][] = [
    ["", /no endpoint/],
    ["localhost:2379", /not an http/],
    ["https://a:1", /not an http/],
    ["http://a:1/v3", /not an http/],
    ["not a url", /not a URL/],
  ];
  for (const [list, message] of bad) {
    it(`refuses ${JSON.stringify(list)}`, () => assert.throws(() => parseEndpoints(list), message));
  }
});

describe("etcd client without a cluster", () => {
  it("fails with a known outcome when every member refuses connections", async () => {
    const client = createEtcdClient({ endpoints: [await deadURL(), await deadURL()],
      callTimeoutMs: 300 });
    const error = await put(client, "k", "v").catch((caught: unknown) => caught);
    assert.ok(error instanceof EtcdUnavailableError, String(error));
    assert.equal(error.unknownOutcome, false);
    client.close();
  });

  it("reports an unknown outcome when a member took the request and never answered", async (t) => {
    const server = createServer(() => {}); // accepts, reads, never answers
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => server.closeAllConnections());
    t.after(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = createEtcdClient({ endpoints: [url], attemptTimeoutMs: 100,
      callTimeoutMs: 250 });
    const error = await put(client, "k", "v").catch((caught: unknown) => caught);
    assert.ok(error instanceof EtcdUnavailableError, String(error));
    assert.equal(error.unknownOutcome, true);
    client.close();
  });
});

describe("etcd client against a 3-member cluster", { skip: skipWithoutEtcd() }, () => {
  const etcd = etcdForSuite();

  it("puts, reads, guards and deletes keys, failing over past dead members", async (t) => {
    const { cluster } = etcd;
    // A dead first member: every call must still succeed through the others.
    const client = createEtcdClient({ endpoints: [await deadURL(), ...cluster.endpoints] });
    t.after(() => client.close());

    const first = await put(client, "/t/a", "1");
    await put(client, "/t/b", "2");
    const listed = await range(client, { key: "/t/", prefix: true });
    assert.deepEqual(listed.kvs.map((kv) => [kv.key, kv.value]), [["/t/a", "1"], ["/t/b", "2"]]);
    assert.equal(listed.count, 2);
    assert.ok(listed.revision > first);

    const created = await txn(client,
      [{ key: "/t/a", target: "CREATE", result: "EQUAL", revision: 0 }],
      [{ put: { key: "/t/a", value: "x" } }],
      [{ range: { key: "/t/a" } }]);
    assert.equal(created.succeeded, false, "the key exists: the guard fails");
    assert.equal(created.responses[0]?.kvs[0]?.value, "1");

    const swapped = await txn(client,
      [{ key: "/t/a", target: "MOD", result: "EQUAL", revision: first }],
      [{ put: { key: "/t/a", value: "3" } }]);
    assert.equal(swapped.succeeded, true);
    const old = await range(client, { key: "/t/a" }, { revision: first });
    assert.equal(old.kvs[0]?.value, "1", "an older revision is still readable");

    const removed = await deleteRange(client, { key: "/t/", prefix: true });
    assert.equal(removed.deleted, 2);
    assert.equal((await range(client, { key: "/t/", prefix: true }, { serializable: true })).count,
      0);

    await compact(client, removed.revision);
    const compacted = await range(client, { key: "/t/a" }, { revision: first })
      .catch((caught: unknown) => caught);
    assert.ok(compacted instanceof EtcdError && compacted.code === 11, String(compacted));
  });

  it("grants, renews and revokes leases, deleting the keys attached", async (t) => {
    const { cluster } = etcd;
    const client = createEtcdClient({ endpoints: cluster.endpoints });
    t.after(() => client.close());
    const lease = await grantLease(client, 5);
    assert.equal(lease.ttlSeconds, 5);
    await put(client, "/l/k", "v", { lease: lease.id });
    assert.equal((await range(client, { key: "/l/k" })).kvs[0]?.lease, lease.id);
    assert.ok((await keepAliveOnce(client, lease.id)) > 0);
    await revokeLease(client, lease.id);
    await revokeLease(client, lease.id); // already gone: still fine
    assert.equal((await range(client, { key: "/l/k" })).count, 0);
    assert.equal(await keepAliveOnce(client, lease.id), 0, "an expired lease renews to TTL 0");
  });

  it("survives the loss of the etcd leader and answers 'unavailable' without a quorum",
    async (t) => {
      const cluster = await startEtcdCluster(t);
      const client = createEtcdClient({ endpoints: cluster.endpoints });
      t.after(() => client.close());
      await put(client, "/f/k", "0");
      const leader = await cluster.leader();
      await leader.kill();
      await put(client, "/f/k", "1"); // the call moves on until a new leader takes it
      assert.equal((await range(client, { key: "/f/k" })).kvs[0]?.value, "1");

      const second = cluster.members.find((member) => member.alive());
      await second?.kill();
      const error = await put(client, "/f/k", "2").catch((caught: unknown) => caught);
      assert.ok(error instanceof EtcdUnavailableError, String(error));
      const stale = await range(client, { key: "/f/k" }, { serializable: true });
      assert.ok(["1", "2"].includes(stale.kvs[0]?.value ?? ""), "a serializable read still answers");

      leader.restart();
      await cluster.healthy();
      await put(client, "/f/k", "3");
      assert.equal((await range(client, { key: "/f/k" })).kvs[0]?.value, "3");
    });
});
