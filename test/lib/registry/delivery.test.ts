import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { createEtcdClient, type EtcdClient } from "../../../lib/etcd/client.ts";
import { compact, deleteRange, put, range, type Compare } from "../../../lib/etcd/kv.ts";
import { runDelivery } from "../../../lib/registry/delivery.ts";
import type { Delivery } from "../../../lib/registry/table.ts";
import { etcdForSuite, skipWithoutEtcd } from "../../support/etcd.ts";
import { createWaiters, eventually } from "../../support/wait.ts";

const row = (url: string, name = "P", required: string[] = []) => JSON.stringify({
  ServiceName: name, ServiceURL: url, RequiredServices: required,
  ServiceUpdateURL: required.length > 0 ? `${url}/services` : "", HeartbeatURL: "",
  Status: "passing", LastCheck: null,
});

/**
 * One leader term delivering into `seen` (`+url`/`-url` per patch entry, in order); a patch
 * that names `hold` never settles, as for a dependent that does not answer.
 */
function term(t: TestContext, client: EtcdClient, prefix: string, fence: Compare,
  options: { hold?: string } = {}) {
  const seen: string[] = [];
  const waiters = createWaiters();
  const controller = new AbortController();
  t.after(() => controller.abort());
  const done = runDelivery({
    client, prefix: `${prefix}services/`, checkpointKey: `${prefix}delivered`, fence,
    checkpointEveryMs: 20, log: () => {}, signal: controller.signal,
    deliver: (deliveries: Delivery[]) => {
      let held = false;
      for (const { patch } of deliveries) {
        for (const entry of patch.Added) seen.push(`+${entry.URL}`);
        for (const entry of patch.Removed) seen.push(`-${entry.URL}`);
        held ||= [...patch.Added, ...patch.Removed].some((entry) => entry.URL === options.hold);
      }
      waiters.wake();
      return held ? new Promise<void>(() => {}) : Promise.resolve();
    },
  });
  const until = (count: number) => waiters.until(() => (seen.length >= count ? true : undefined),
    10_000, () => new Error(`delivered only ${JSON.stringify(seen)}`));
  return { seen, until, done, end: () => controller.abort() };
}

const checkpoint = async (client: EtcdClient, prefix: string) =>
  Number((await range(client, { key: `${prefix}delivered` })).kvs[0]?.value ?? 0);

describe("patch delivery across leader terms", { skip: skipWithoutEtcd() }, () => {
  const etcd = etcdForSuite();

  it("resumes after the checkpoint: nothing lost, undelivered changes sent again", async (t) => {
    const client = createEtcdClient({ endpoints: etcd.cluster.endpoints });
    t.after(() => client.close());
    const prefix = "/d1/";
    const fence: Compare = { key: `${prefix}leader`, target: "VALUE", result: "EQUAL",
      value: "" };
    await put(client, `${prefix}leader`, "");
    await put(client, `${prefix}services/http://d:1`, row("http://d:1", "D", ["P"]));
    const first = term(t, client, prefix, fence, { hold: "http://s:3" });
    const revisions: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const url = `http://s:${i}`;
      revisions.push(await put(client, `${prefix}services/${url}`, row(url)));
    }
    await first.until(5);
    // Everything before the held change is out; the checkpoint stops right before it.
    await eventually(async () => ((await checkpoint(client, prefix)) === (revisions[2] ?? 0) - 1
      ? true : undefined), 5_000, "the checkpoint before the held change");
    first.end();
    await first.done;

    // Changes while nobody leads.
    await deleteRange(client, { key: `${prefix}services/http://s:1` });
    await put(client, `${prefix}services/http://s:6`, row("http://s:6"));

    const second = term(t, client, prefix, fence);
    await second.until(5);
    assert.deepEqual(second.seen, ["+http://s:3", "+http://s:4", "+http://s:5", "-http://s:1",
      "+http://s:6"]);
    second.end();
    await second.done;
  });

  it("stops with an error once its checkpoint write finds the leadership gone", async (t) => {
    const client = createEtcdClient({ endpoints: etcd.cluster.endpoints });
    t.after(() => client.close());
    const prefix = "/d2/";
    await put(client, `${prefix}leader`, "me");
    const fence: Compare = { key: `${prefix}leader`, target: "VALUE", result: "EQUAL",
      value: "me" };
    const only = term(t, client, prefix, fence);
    await put(client, `${prefix}leader`, "someone else");
    await put(client, `${prefix}services/http://s:1`, row("http://s:1"));
    await assert.rejects(only.done, /leadership lost/);
  });

  it("sends the whole state when the history since the checkpoint was compacted", async (t) => {
    const client = createEtcdClient({ endpoints: etcd.cluster.endpoints });
    t.after(() => client.close());
    const prefix = "/d3/";
    await put(client, `${prefix}leader`, "");
    await put(client, `${prefix}delivered`, "1");
    await put(client, `${prefix}services/http://d:1`, row("http://d:1", "D", ["P"]));
    const latest = await put(client, `${prefix}services/http://s:1`, row("http://s:1"));
    await compact(client, latest);
    const fence: Compare = { key: `${prefix}leader`, target: "VALUE", result: "EQUAL",
      value: "" };
    const only = term(t, client, prefix, fence);
    await only.until(1);
    assert.deepEqual(only.seen, ["+http://s:1"]);
    await eventually(async () => ((await checkpoint(client, prefix)) >= latest ? true
      : undefined), 5_000, "the checkpoint past the compaction");
    only.end();
    await only.done;
  });
});
