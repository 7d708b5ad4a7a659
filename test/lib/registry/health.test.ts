import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { startProvider } from "../../support/process.ts";
import { startChecker, startHeartbeats } from "./checker.ts";
import { has, list, post, startFake, startRegistry } from "./helpers.ts";
import { eventually } from "../../support/wait.ts";

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
    await eventually(async () => (await list(url, "Flaky")).length === 0, 5_000, "Flaky dropped");
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
});

describe("registry crash detection", () => {
  it("tells dependents of a SIGKILLed provider long before the next check is due",
    async (t) => {
      const { url } = await startRegistry(t, { heartbeatIntervalMs: 60_000, failures: 3 });
      const watcher = await startFake(t);
      const { child, url: provider } = await startProvider(t);
      await post(url, watcher.registration("Watcher", ["Crashy"]));
      await post(url, { ServiceName: "Crashy", ServiceURL: provider,
        HeartbeatURL: `${provider}/heartbeat` });
      await watcher.waitPatch((patch) => has(patch, provider));
      // The first check has run (and left its connection in the pool) once LastCheck is set.
      await eventually(async () => (await list(url, "Crashy"))[0]?.LastCheck !== null, 5_000,
        "a first check of Crashy");
      const killed = performance.now();
      child.kill("SIGKILL");
      // Without the crash probe it would take the 60 s interval; how fast it is, make bench says.
      await watcher.waitPatch((patch) => has(patch, provider, "Removed"), 20_000);
      t.diagnostic(`kill -9 → Removed in ${(performance.now() - killed).toFixed(1)} ms`);
      assert.equal((await list(url, "Crashy"))[0]?.Status, "critical");
    });
});

// The checker alone, on a mocked clock: real sockets, but time moves only when the test says.
describe("health checker", () => {
  it("checks every entry once per interval, an interval after each check was due", async (t) => {
    const heartbeats = await startHeartbeats(t);
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
    const { checker, results, reported } = startChecker(t, { intervalMs: 1_000,
      timeoutMs: 60_000, concurrency: 16, clock: () => Date.now() });
    const total = 500;
    for (let i = 0; i < total; i++) {
      checker.add(`s${i}`, `${heartbeats.url}/ok/${i}`, `S${i}`);
    }
    for (let round = 1; round <= 3; round++) {
      assert.equal(checker.inFlight, 16, "no more than the concurrency at once");
      // The round takes 300 ms: the next is still due an interval after this one was.
      t.mock.timers.tick(300);
      await reported(round * total);
      const counts = new Set(heartbeats.hits.values());
      assert.deepEqual([...counts], [round], "every entry checked once per interval");
      assert.equal(heartbeats.hits.size, total);
      t.mock.timers.tick(699);
      assert.equal(checker.inFlight, 0, "nothing is due before the interval");
      t.mock.timers.tick(1);
    }
    assert.ok(results.every((result) => result.status === "passing"));
  });

  it("times out a hung check, retries it after the delay, and checks the others meanwhile",
    async (t) => {
      const heartbeats = await startHeartbeats(t);
      t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
      const { checker, results, lines, status, until } = startChecker(t, { intervalMs: 100,
        timeoutMs: 150, retryDelayMs: 150, failures: 2, concurrency: 2,
        clock: () => Date.now() });
      const healthy = ["a", "b", "c"];
      checker.add("hung", `${heartbeats.url}/hang/1`, "Hung");
      for (const key of healthy) checker.add(key, `${heartbeats.url}/ok/${key}`, key);
      const checked = (key: string) => results.filter((result) => result.key === key).length;
      const round = (n: number) => until(() => healthy.every((key) => checked(key) === n));
      await round(1);
      // [time, healthy rounds done by then, hung's status and checks reported by then]
      const steps: [number, number, number][] = [[100, 2, 0], [150, 2, 1], [200, 3, 1],
        [300, 4, 1], [400, 5, 1]];
      let now = 0;
      for (const [at, rounds, hungChecks] of steps) {
        t.mock.timers.tick(at - now);
        now = at;
        await round(rounds);
        await until(() => checked("hung") === hungChecks);
        assert.equal(status("hung") ?? "passing", "passing", `hung still passing at ${at} ms`);
      }
      assert.equal(heartbeats.hits.get("/hang/1"), 2, "retried once, after the delay");
      t.mock.timers.tick(50);
      await until(() => status("hung") === "critical");
      assert.ok(lines.some((line) => /Hung: check 1 of 2 failed: .*timed out/.test(line)));
      assert.ok(lines.some((line) => /Hung is critical: .*timed out/.test(line)));
      assert.ok(healthy.every((key) => status(key) === "passing"));
    });
});
