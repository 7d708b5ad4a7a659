import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { startProvider } from "../../support/process.ts";
import { eventually, has, list, post, startFake, startRegistry } from "./helpers.ts";

const fast = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 200, retryDelayMs: 20 };

describe("registry health checks", () => {
  it("turns a service critical after N failed checks and passing again on a pass",
    async (t) => {
      const { url, lines } = await startRegistry(t, { ...fast, failures: 3 });
      const watcher = await startFake(t);
      const provider = await startFake(t);
      await post(url, watcher.registration("Watcher", ["LogService"]));
      await post(url, provider.registration("LogService"));
      await watcher.waitPatch((patch) => has(patch, provider.url));
      provider.health = 500;
      await watcher.waitPatch((patch) => has(patch, provider.url, "Removed"));
      const failed = lines.filter((line) => /LogService.*check \d of 3/.test(line));
      assert.deepEqual(failed.map((line) => /check (\d)/.exec(line)?.[1]), ["1", "2"]);
      assert.equal((await list(url, "LogService"))[0]?.Status, "critical");
      // Critical entries are hidden from discovery...
      const client = await startFake(t);
      assert.deepEqual((await post(url, client.registration("C", ["LogService"]))).json(),
        { Added: [], Removed: [] });
      // ...but still checked: a pass brings them back.
      provider.health = 204;
      const removedAt = watcher.patches.length;
      await watcher.waitPatch((patch) => watcher.patches.indexOf(patch) >= removedAt &&
        has(patch, provider.url));
      const [row] = await list(url, "LogService");
      assert.equal(row?.Status, "passing");
      assert.ok(row?.LastCheck !== null && !Number.isNaN(Date.parse(row?.LastCheck ?? "")));
    });

  it("deregisters a service that stays critical for deregister-after", async (t) => {
    const { url, lines } = await startRegistry(t, { ...fast, failures: 1,
      deregisterAfterMs: 150 });
    const provider = await startFake(t);
    provider.health = 503;
    await post(url, provider.registration("Flaky"));
    await eventually(() => list(url, "Flaky"), (rows) => rows.length === 0);
    assert.ok(lines.some((line) => line.includes("critical for 150 ms: deregistering")));
  });

  it("treats a refused connection as definitive: critical after one check", async (t) => {
    const { url, lines } = await startRegistry(t, { ...fast, failures: 5 });
    const watcher = await startFake(t);
    const gone = await startFake(t);
    const { heartbeatURL } = gone;
    gone.server.close();
    gone.server.closeAllConnections();
    await once(gone.server, "close");
    await post(url, watcher.registration("Watcher", ["Gone"]));
    await post(url, { ServiceName: "Gone", ServiceURL: gone.url, HeartbeatURL: heartbeatURL });
    await watcher.waitPatch((patch) => has(patch, gone.url, "Removed"));
    assert.equal(lines.some((line) => /Gone.*check 1 of 5/.test(line)), false);
    assert.ok(lines.some((line) => /Gone at .* is critical: .*ECONNREFUSED/.test(line)));
  });

  it("times out a hung heartbeat, retrying after the delay, without delaying others",
    async (t) => {
      const { url } = await startRegistry(t, { heartbeatIntervalMs: 40, heartbeatTimeoutMs: 150,
        retryDelayMs: 150, failures: 2 });
      const watcher = await startFake(t);
      const hung = await startFake(t);
      const healthy = await startFake(t);
      await post(url, watcher.registration("Watcher", ["Hung", "Healthy"]));
      await post(url, healthy.registration("Healthy"));
      await post(url, hung.registration("Hung"));
      await hung.nextHeartbeat();
      // Like SIGSTOP: the pooled keep-alive connection stays open, nothing answers on it.
      hung.health = "hang";
      await hung.nextHeartbeat();
      const before = healthy.heartbeats;
      const started = performance.now();
      const removed = await watcher.waitPatch((patch) => has(patch, hung.url, "Removed"));
      const elapsed = performance.now() - started;
      // Timeout, retry delay, timeout: ≥ 450 ms; the healthy one is checked every 40 ms.
      assert.ok(elapsed >= 420, `critical after ${elapsed} ms`);
      const checked = healthy.heartbeats - before;
      assert.ok(checked >= 5, `healthy checked ${checked}×`);
      assert.equal(watcher.patches.some((patch) => has(patch, healthy.url, "Removed")), false);
      // Answering again brings it back.
      hung.health = 200;
      const after = watcher.patches.indexOf(removed);
      await watcher.waitPatch((patch) => watcher.patches.indexOf(patch) > after &&
        has(patch, hung.url));
    });

  it("checks hundreds of registrations every interval, on time", async (t) => {
    const seen = new Map<string, number[]>();
    const server = createServer((req, res) => {
      const times = seen.get(req.url ?? "") ?? [];
      times.push(performance.now());
      seen.set(req.url ?? "", times);
      res.end();
    });
    server.keepAliveTimeout = 60_000;
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const intervalMs = 500;
    const { url } = await startRegistry(t, { heartbeatIntervalMs: intervalMs });
    const total = 500;
    for (let batch = 0; batch < total; batch += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => post(url, {
        ServiceName: "Many", ServiceURL: `${base}/s${batch + i}`,
        HeartbeatURL: `${base}/h${batch + i}`,
      })));
    }
    await eventually(async () => seen.size, (size) => size === total, 10_000);
    seen.clear();
    // Measuring a rate over time is the point here, so this one waits on the clock.
    await new Promise((resolve) => setTimeout(resolve, 3 * intervalMs));
    assert.equal(seen.size, total, "every registration checked in the window");
    const gaps = [...seen.values()].flatMap((times) => times.slice(1).map((time, i) =>
      time - (times[i] ?? 0)));
    gaps.sort((x, y) => x - y);
    const median = gaps[gaps.length >> 1] ?? Infinity;
    t.diagnostic(`median gap between checks: ${median.toFixed(0)} ms`);
    assert.ok(median > 0.8 * intervalMs && median < 1.5 * intervalMs, `median gap ${median}`);
  });
});

describe("registry crash detection", () => {
  it("tells dependents of a SIGKILLed provider within a second, with a 60 s interval",
    async (t) => {
      const { url } = await startRegistry(t, { heartbeatIntervalMs: 60_000, failures: 3 });
      const watcher = await startFake(t);
      const { child, url: provider } = await startProvider(t);
      await post(url, watcher.registration("Watcher", ["Crashy"]));
      await post(url, { ServiceName: "Crashy", ServiceURL: provider,
        HeartbeatURL: `${provider}/heartbeat` });
      await watcher.waitPatch((patch) => has(patch, provider));
      // The first check has run (and left its connection in the pool) once LastCheck is set.
      await eventually(() => list(url, "Crashy"), (rows) => rows[0]?.LastCheck !== null);
      const killed = performance.now();
      child.kill("SIGKILL");
      await watcher.waitPatch((patch) => has(patch, provider, "Removed"), 3_000);
      const latency = performance.now() - killed;
      t.diagnostic(`kill -9 → Removed in ${latency.toFixed(1)} ms`);
      assert.ok(latency < 1_000, `Removed after ${latency} ms`);
      assert.equal((await list(url, "Crashy"))[0]?.Status, "critical");
    });
});
