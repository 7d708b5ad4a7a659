import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { createNotifier } from "../../../lib/registry/notify.ts";
import type { Patch } from "../../../lib/registry/registration.ts";
import { deferred, eventually } from "../../support/wait.ts";
import { has, post, remove, startFake, startRegistry } from "./helpers.ts";

/** Applies patches in order with set semantics, as a dependent's providers do. */
function applyAll(patches: Patch[]): string[] {
  const urls = new Set<string>();
  for (const patch of patches) {
    for (const entry of patch.Added) urls.add(entry.URL);
    for (const entry of patch.Removed) urls.delete(entry.URL);
  }
  return [...urls].sort();
}

/** A server that accepts every request and never answers; counts the requests. */
async function startHungServer(
  t: TestContext,
): Promise<{ url: string; readonly requests: number }> {
  let requests = 0;
  const server = createServer(() => {
    requests += 1;
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
  };
}

const provider = (url: string): Patch => ({ Added: [{ Name: "P", URL: url }], Removed: [] });

describe("registry notifications", () => {
  it("delivers to a healthy dependent while more hung ones than any pool could hold wait",
    async (t) => {
      // 600 dependents that accept and never answer, each holding its POST for the whole
      // timeout: more than a shared pool of 512 connections, which they would all fill.
      const hungCount = 600;
      const notifier = createNotifier({ timeoutMs: 120_000, retries: 0, log: () => {} });
      t.after(() => notifier.close());
      const hung = await startHungServer(t);
      for (let i = 0; i < hungCount; i++) {
        notifier.send(`${hung.url}/d${i}`, provider("http://127.0.0.1:1/p"));
      }
      await eventually(() => (hung.requests === hungCount ? true : undefined), 20_000,
        "every hung dependent's POST in flight");
      const healthy = await startFake(t);
      notifier.send(healthy.updateURL, provider("http://127.0.0.1:1/p"));
      await healthy.waitPatch((patch) => has(patch, "http://127.0.0.1:1/p"), 20_000);
      await eventually(() => (notifier.busy === hungCount ? true : undefined), 5_000,
        "the healthy queue done");
    });

  it("keeps one change per provider for a dependent that never answers", async (t) => {
    const notifier = createNotifier({ timeoutMs: 120_000, retries: 0, log: () => {} });
    t.after(() => notifier.close());
    const hung = await startHungServer(t);
    const url = `${hung.url}/services`;
    notifier.send(url, provider("http://127.0.0.1:1/first"));
    await eventually(() => (hung.requests === 1 ? true : undefined), 5_000, "the first POST");
    // While the first POST hangs, ten providers flap a thousand times each.
    for (let round = 0; round < 1_000; round++) {
      for (let i = 0; i < 10; i++) {
        const entry = { Name: "P", URL: `http://127.0.0.1:1/p${i}` };
        notifier.send(url, { Added: [entry], Removed: [] });
        notifier.send(url, { Added: [], Removed: [entry] });
      }
    }
    // The one in flight, and the latest word on each of the ten.
    assert.equal(notifier.queued, 11);
    assert.equal(notifier.busy, 1);
  });

  it("delivers promptly to one dependent while another never answers", async (t) => {
    const { url } = await startRegistry(t, { notifyTimeoutMs: 10_000 });
    const stuck = await startFake(t);
    stuck.updateStatus = "hang";
    const prompt = await startFake(t);
    await post(url, stuck.registration("Stuck", ["LogService"]));
    await post(url, prompt.registration("Prompt", ["LogService"]));
    for (let i = 0; i < 3; i++) {
      const provider = `http://127.0.0.1:1/log${i}`;
      const response = await post(url, { ServiceName: "LogService", ServiceURL: provider });
      assert.equal(response.status, 200);
      // Queued behind the stuck one, this would wait for its 10 s timeout (past the test's).
      await prompt.waitPatch((patch) => has(patch, provider));
    }
    // The stuck one got its first patch and is still waiting on it.
    assert.equal(stuck.patches.length, 1);
  });

  it("retries a failed delivery with backoff until it succeeds", async (t) => {
    const lines: string[] = [];
    // The top of the jitter range: exactly 100 ms, then 200 ms.
    const notifier = createNotifier({ timeoutMs: 2_000, retries: 3, backoffMs: 100,
      random: () => 1, log: (line) => lines.push(line) });
    t.after(() => notifier.close());
    const dependent = await startFake(t);
    dependent.failNext = 2;
    const started = performance.now();
    notifier.send(dependent.updateURL, { Added: [{ Name: "LogService",
      URL: "http://127.0.0.1:1/log" }], Removed: [] });
    await dependent.waitPatch((patch) => dependent.patches.indexOf(patch) === 2);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290, `third attempt after ${elapsed} ms`);
    assert.equal(dependent.patches.length, 3);
    assert.deepEqual(applyAll(dependent.patches), ["http://127.0.0.1:1/log"]);
    await eventually(() => (notifier.busy === 0 ? true : undefined), 5_000, "the delivery");
    assert.deepEqual(lines, []);
  });

  it("never lets an older Added overtake a newer Removed", async (t) => {
    const { url } = await startRegistry(t);
    const dependent = await startFake(t);
    await post(url, dependent.registration("Dependent", ["P"]));
    const hold = deferred();
    dependent.hold = hold.promise;
    const p = "http://127.0.0.1:1/p";
    await post(url, { ServiceName: "P", ServiceURL: p });
    await dependent.waitPatch((patch) => has(patch, p));
    // While the first delivery is held, the provider flaps; the last word is "removed".
    for (let i = 0; i < 3; i++) {
      assert.equal((await remove(url, p)).status, 200);
      assert.equal((await post(url, { ServiceName: "P", ServiceURL: p })).status, 200);
    }
    assert.equal((await remove(url, p)).status, 200);
    dependent.hold = undefined;
    hold.resolve();
    await dependent.waitPatch((patch) => has(patch, p, "Removed"));
    assert.deepEqual(applyAll(dependent.patches), []);
    // Merged while waiting: one patch for the whole flapping.
    assert.equal(dependent.patches.length, 2);
  });

  it("gives up after the retries and logs it once", async (t) => {
    const lines: string[] = [];
    const notifier = createNotifier({ timeoutMs: 500, retries: 2, backoffMs: 5,
      log: (line) => lines.push(line) });
    t.after(() => notifier.close());
    notifier.send("http://127.0.0.1:1/services", { Added: [{ Name: "A", URL: "http://a" }],
      Removed: [] });
    assert.equal(notifier.busy, 1);
    await eventually(() => (notifier.busy === 0 ? true : undefined), 5_000, "the give-up");
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /giving up after 3 attempts: .*ECONNREFUSED/);
  });

  it("rests a dependent whose patch was given up before trying the next one", async (t) => {
    const lines: string[] = [];
    let gaveUpAt = 0;
    const notifier = createNotifier({ timeoutMs: 2_000, retries: 0, backoffMaxMs: 200,
      random: () => 1, log: (line) => {
        gaveUpAt = performance.now();
        lines.push(line);
      } });
    t.after(() => notifier.close());
    const dependent = await startFake(t);
    dependent.updateStatus = 503;
    notifier.send(dependent.updateURL, provider("http://127.0.0.1:1/a"));
    await eventually(() => (lines.length === 1 ? true : undefined), 5_000, "the give-up");
    notifier.send(dependent.updateURL, provider("http://127.0.0.1:1/b"));
    await dependent.waitPatch((patch) => has(patch, "http://127.0.0.1:1/b"));
    const rested = performance.now() - gaveUpAt;
    assert.ok(rested >= 190, `next patch tried ${rested} ms after the give-up`);
    // The given-up change is not sent again: the dependent's re-registration repairs it.
    assert.deepEqual(dependent.patches.map((patch) => applyAll([patch])), [["http://127.0.0.1:1/a"],
      ["http://127.0.0.1:1/b"]]);
  });

  it("deliver resolves with the outcome of the first POST carrying the patch", async (t) => {
    const notifier = createNotifier({ timeoutMs: 2_000, retries: 1, backoffMs: 5,
      log: () => {} });
    t.after(() => notifier.close());
    const dependent = await startFake(t);
    assert.equal(await notifier.deliver(dependent.updateURL, provider("http://a/1"), 5_000),
      true);
    dependent.failNext = 1;
    assert.equal(await notifier.deliver(dependent.updateURL, provider("http://a/2"), 5_000),
      false);
    // Failed once, then retried and delivered.
    await dependent.waitPatch((patch) => dependent.patches.indexOf(patch) === 2);
    assert.equal(await notifier.deliver(dependent.updateURL, { Added: [], Removed: [] }, 1),
      true);
    assert.equal(await notifier.deliver("", provider("http://a/3"), 1), true);
    notifier.close();
    assert.equal(await notifier.deliver(dependent.updateURL, provider("http://a/4"), 5_000),
      false);
  });

  it("sent resolves once the patch is out for good: delivered after retries, or given up",
    async (t) => {
      const notifier = createNotifier({ timeoutMs: 2_000, retries: 1, backoffMs: 5,
        log: () => {} });
      t.after(() => notifier.close());
      const dependent = await startFake(t);
      dependent.failNext = 1;
      await notifier.sent(dependent.updateURL, provider("http://a/1"));
      assert.deepEqual(applyAll(dependent.patches), ["http://a/1"], "retried, then delivered");
      const dead = "http://127.0.0.1:1/services";
      await notifier.sent(dead, provider("http://a/2")); // given up after one retry
      assert.equal(notifier.queued, 0);
      await notifier.sent(dependent.updateURL, { Added: [], Removed: [] });
      const pending = notifier.sent((await startHungServer(t)).url, provider("http://a/3"));
      notifier.close();
      await pending; // dropped at close: out for good too
    });

  it("deliver ends a dependent's rest: it registered, so it is alive", async (t) => {
    const lines: string[] = [];
    // A minute of rest after the first given-up patch.
    const notifier = createNotifier({ timeoutMs: 2_000, retries: 0, backoffMaxMs: 60_000,
      log: (line) => lines.push(line) });
    t.after(() => notifier.close());
    const dependent = await startFake(t);
    dependent.failNext = 1;
    notifier.send(dependent.updateURL, provider("http://a/1"));
    await eventually(() => (lines.length === 1 ? true : undefined), 5_000, "the give-up");
    notifier.send(dependent.updateURL, provider("http://a/2"));
    assert.equal(await notifier.deliver(dependent.updateURL, provider("http://a/3"), 10_000),
      true);
    assert.deepEqual(applyAll(dependent.patches.slice(1)), ["http://a/2", "http://a/3"]);
  });

  it("tells a dependent about every new provider, one registration after another", async (t) => {
    const { url } = await startRegistry(t);
    const dependent = await startFake(t);
    await post(url, dependent.registration("Dependent", ["LogService"]));
    const providers: string[] = [];
    for (let i = 0; i < 50; i++) {
      const provider = `http://127.0.0.1:1/p${i}`;
      providers.push(provider);
      void post(url, { ServiceName: "LogService", ServiceURL: provider });
      await dependent.waitPatch((patch) => has(patch, provider));
    }
    // How fast is a benchmark's question (make bench: registration → Added).
    assert.deepEqual(applyAll(dependent.patches), providers.sort());
  });
});
