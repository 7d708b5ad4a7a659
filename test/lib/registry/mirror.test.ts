import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createEtcdClient } from "../../../lib/etcd/client.ts";
import { deleteRange, put } from "../../../lib/etcd/kv.ts";
import { openMirror, type StoredRow } from "../../../lib/registry/mirror.ts";
import type { ServiceStatus } from "../../../lib/registry/registration.ts";
import { writeRow, FenceError } from "../../../lib/registry/rowwrite.ts";
import { etcdForSuite, skipWithoutEtcd } from "../../support/etcd.ts";
import { createWaiters } from "../../support/wait.ts";

function row(url: string, status: ServiceStatus["Status"] = "passing"): ServiceStatus {
  return {
    ServiceName: "LogService", ServiceURL: url, RequiredServices: [], ServiceUpdateURL: "",
    HeartbeatURL: "", Status: status, LastCheck: null,
  };
}

describe("registry mirror and row writes on etcd", { skip: skipWithoutEtcd() }, () => {
  const etcd = etcdForSuite();

  it("reads every row, then follows each change with the row before and after", async (t) => {
    const client = createEtcdClient({ endpoints: etcd.cluster.endpoints });
    t.after(() => client.close());
    const prefix = "/m1/services/";
    await put(client, `${prefix}http://a:1`, JSON.stringify(row("http://a:1")));
    await put(client, `${prefix}http://bad:1`, "{not json");
    const changes: [string, string | undefined, string | undefined][] = [];
    const waiters = createWaiters();
    const controller = new AbortController();
    t.after(() => controller.abort());
    const lines: string[] = [];
    const mirror = await openMirror({
      client, prefix, signal: controller.signal, log: (line) => void lines.push(line),
      onChange(url, before, after) {
        changes.push([url, before?.row.Status, after?.row.Status]);
        waiters.wake();
      },
    });
    assert.deepEqual(changes, [["http://a:1", undefined, "passing"]]);
    assert.match(lines.join("\n"), /ignoring the unreadable row \/m1\/services\/http:\/\/bad:1/);

    await put(client, `${prefix}http://a:1`, JSON.stringify(row("http://a:1", "critical")));
    await put(client, `${prefix}http://b:1`, JSON.stringify(row("http://b:1")));
    await deleteRange(client, { key: `${prefix}http://a:1` });
    await waiters.until(() => (changes.length >= 4 ? true : undefined), 10_000,
      () => new Error(`changes: ${JSON.stringify(changes)}`));
    assert.deepEqual(changes.slice(1), [
      ["http://a:1", "passing", "critical"],
      ["http://b:1", undefined, "passing"],
      ["http://a:1", "critical", undefined],
    ]);
    assert.deepEqual([...mirror.rows()].map((stored) => stored.row.ServiceURL), ["http://b:1"]);
  });

  it("after a sync holds every write another client had acknowledged", async (t) => {
    const reader = createEtcdClient({ endpoints: etcd.cluster.endpoints });
    // The writer prefers another member than the reader's watch.
    const writer = createEtcdClient({ endpoints: [...etcd.cluster.endpoints].reverse() });
    t.after(() => reader.close());
    t.after(() => writer.close());
    const controller = new AbortController();
    t.after(() => controller.abort());
    const prefix = "/m2/services/";
    const mirror = await openMirror({
      client: reader, prefix, signal: controller.signal, log: () => {}, onChange: () => {},
    });
    for (let i = 0; i < 20; i++) {
      const url = `http://s:${i + 1}`;
      await put(writer, `${prefix}${url}`, JSON.stringify(row(url)));
      await mirror.sync(5_000);
      assert.ok(mirror.get(url), `write ${i} seen after the sync`);
    }
    assert.equal(mirror.size, 20);
    // Deletions, and rows nobody can read, count too.
    await put(writer, `${prefix}http://bad:1`, "{not json");
    await mirror.sync(5_000);
    for (let i = 0; i < 20; i++) {
      await deleteRange(writer, { key: `${prefix}http://s:${i + 1}` });
      await mirror.sync(5_000);
      assert.equal(mirror.size, 19 - i, `deletion ${i} seen after the sync`);
    }
  });

  it("writes a row only over the row it was decided on, deciding again when it moved",
    async (t) => {
      const client = createEtcdClient({ endpoints: etcd.cluster.endpoints });
      t.after(() => client.close());
      const key = "/m3/services/http://a:1";
      const first = await writeRow(client, { key, current: undefined,
        decide: () => row("http://a:1") });
      assert.equal(first.written, true);
      const stale: StoredRow = { row: row("http://a:1"), revision: first.revision };
      await put(client, key, JSON.stringify(row("http://a:1", "critical")));

      const seen: (string | undefined)[] = [];
      const second = await writeRow(client, { key, current: stale, decide: (current) => {
        seen.push(current?.row.Status);
        return current?.row.Status === "critical" ? undefined : null;
      } });
      assert.deepEqual(seen, ["passing", "critical"], "decided again on the actual row");
      assert.equal(second.written, true);
      assert.equal(second.before?.row.Status, "critical");

      const absent = await writeRow(client, { key, current: undefined, decide: () => undefined });
      assert.equal(absent.before, undefined, "deleting what is not there finds nothing");
    });

  it("refuses a guarded write once the guard no longer holds", async (t) => {
    const client = createEtcdClient({ endpoints: etcd.cluster.endpoints });
    t.after(() => client.close());
    const leaderKey = "/m4/leader/1";
    const created = await put(client, leaderKey, "me");
    await put(client, leaderKey, "me again"); // same create revision: still the same term
    const fence = { key: leaderKey, target: "CREATE" as const, result: "EQUAL" as const,
      revision: created };
    const key = "/m4/services/http://a:1";
    const written = await writeRow(client, { key, current: undefined, fence,
      decide: () => row("http://a:1") });
    assert.equal(written.written, true);
    await deleteRange(client, { key: leaderKey });
    await assert.rejects(
      writeRow(client, { key, current: { row: row("http://a:1"), revision: written.revision },
        fence, decide: () => row("http://a:1", "critical") }),
      FenceError,
    );
  });
});
