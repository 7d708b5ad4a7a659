// A registry cluster losing etcd members: a minority (a follower, then etcd's leader) is
// survived; a majority makes every change 503 — never 200 — while reads answer from the last
// known state, marked stale; when the members return, everything recovers by itself.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { listServices, register } from "../../lib/registry/client.ts";
import { parseRegistration } from "../../lib/registry/registration.ts";
import { request } from "../../lib/std/request.ts";
import { startRegistryCluster } from "../support/cluster.ts";
import { skipWithoutEtcd } from "../support/etcd.ts";
import { eventually } from "../support/wait.ts";
import { startFake } from "../lib/registry/helpers.ts";

describe("registry cluster: etcd members die", { skip: skipWithoutEtcd() }, () => {
  it("survives a minority, refuses changes without a majority, and recovers", async (t) => {
    const cluster = await startRegistryCluster(t, { replicas: 2 });
    const [first, second] = cluster.replicas;
    assert.ok(first && second);
    const dependent = await startFake(t);
    await register(parseRegistration(dependent.registration("Dependent", ["Provider"])),
      { registryURL: first.url });
    let next = 0;
    const provider = () => ({
      ServiceName: "Provider", ServiceURL: `http://127.0.0.1:${10_000 + next++}`,
      RequiredServices: [], ServiceUpdateURL: "", HeartbeatURL: "",
    });
    const registered: string[] = [];
    /** Registers a provider at `url` and waits until the dependent heard of it. */
    const registerAndHear = async (url: string) => {
      const reg = provider();
      await register(reg, { registryURL: url, timeoutMs: 10_000 });
      registered.push(reg.ServiceURL);
      await dependent.waitPatch((patch) => patch.Added.some((e) => e.URL === reg.ServiceURL),
        10_000);
    };

    // A follower, then etcd's leader: one at a time, each back before the next.
    const leader = await cluster.etcd.leader();
    const follower = cluster.etcd.members.find((member) => member !== leader);
    for (const member of [follower, leader]) {
      assert.ok(member);
      await member.kill();
      await registerAndHear(first.url);
      await registerAndHear(second.url);
      member.restart();
      await cluster.etcd.healthy();
    }

    // Two of three gone: no quorum.
    const [lost1, lost2] = cluster.etcd.members.slice(0, 2);
    assert.ok(lost1 && lost2);
    await Promise.all([lost1.kill(), lost2.kill()]);
    const answer = await request(`${first.url}/services`, {
      method: "POST", body: JSON.stringify(provider()), timeoutMs: 15_000,
    });
    assert.equal(answer.status, 503, answer.text());
    assert.match(answer.text(), /etcd is unavailable/);
    const read = await request(`${second.url}/services`, { timeoutMs: 15_000 });
    assert.equal(read.status, 200);
    assert.match(String(read.headers["x-registry-stale"]), /etcd is unavailable/);
    const listedURLs = (await listServices({ registryURL: second.url, name: "Provider" }))
      .map((row) => row.ServiceURL);
    assert.deepEqual(listedURLs.sort(), [...registered].sort(), "the last known state");

    // Back: no registry restarted, changes go through and reach the dependent again.
    lost1.restart();
    lost2.restart();
    await cluster.etcd.healthy();
    await eventually(async () => {
      const read = await request(`${first.url}/services`, { timeoutMs: 5_000 });
      return read.headers["x-registry-stale"] === undefined ? true : undefined;
    }, 15_000, "fresh reads");
    await registerAndHear(second.url);
    await registerAndHear(first.url);
    const rows = await listServices({ registryURL: second.url, name: "Provider" });
    // A change refused with 503 may still have been applied once etcd returned.
    for (const url of registered) assert.ok(rows.some((row) => row.ServiceURL === url), url);
  });
});
