// A hung provider (SIGSTOP) turns critical after the configured failures and passing again
// after SIGCONT, while the other services' checks stay on schedule.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  counts,
  listed,
  report,
  startObserver,
  startSystem,
  type Observer,
  type System,
} from "./procs.ts";

const intervalMs = 200;
const timeoutMs = 200;
const failures = 2;
// The registry retries a failed check after 1 s (not a flag).
const retryDelayMs = 1_000;

describe("a hung (SIGSTOPped) provider", () => {
  const count = counts();
  let system: System;
  let observer: Observer;
  before(async () => {
    system = await startSystem({
      heartbeatIntervalMs: intervalMs,
      heartbeatTimeoutMs: timeoutMs,
      failures,
      services: ["logservice", "gradingservice", "helloservice"],
    });
    observer = await startObserver(system.registryURL, ["GradingService"]);
  });
  after(async () => {
    system?.get("gradingservice").signal("SIGCONT");
    await observer?.close();
    await system?.close();
    report("hang", count);
  });

  it("is critical after the failures, passing after SIGCONT; other checks stay on time",
    async () => {
      const grading = system.get("gradingservice");
      const from = observer.patches.length;
      // Sample the healthy services' LastCheck while grading hangs.
      const seen = new Map<string, number[]>();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          for (const entry of await listed(system.registryURL)) {
            if (entry.ServiceName === "GradingService" || entry.LastCheck === null) continue;
            const times = seen.get(entry.ServiceName) ?? [];
            const time = Date.parse(entry.LastCheck);
            if (times.at(-1) !== time) times.push(time);
            seen.set(entry.ServiceName, times);
          }
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      })();

      const stopped = performance.now();
      count.faultsInjected += 1;
      grading.signal("SIGSTOP");
      await observer.waitPatch(
        (patch) => patch.Removed.some((e) => e.URL === grading.url),
        from,
        10_000,
      );
      const removedAfter = performance.now() - stopped;
      // ≤ interval + failures × (timeout + retry delay), plus scheduling slack.
      const bound = intervalMs + failures * (timeoutMs + retryDelayMs);
      assert.ok(removedAfter <= bound + 1_000, `Removed after ${Math.round(removedAfter)} ms`);
      assert.ok(removedAfter >= timeoutMs, "not before a check could time out");
      const entry = (await listed(system.registryURL, "GradingService"))[0];
      assert.equal(entry?.Status, "critical");

      const continued = observer.patches.length;
      const resumed = performance.now();
      grading.signal("SIGCONT");
      await observer.waitPatch((patch) => patch.Added.some((e) => e.URL === grading.url),
        continued, 5_000);
      const addedAfter = performance.now() - resumed;
      assert.ok(addedAfter <= intervalMs + 1_000, `Added after ${Math.round(addedAfter)} ms`);
      assert.equal((await listed(system.registryURL, "GradingService"))[0]?.Status, "passing");
      sampling = false;
      await sampler;

      // The hung check delayed no other: each healthy service was checked about every interval.
      for (const name of ["LogService", "HelloService", "FaultObserver"]) {
        const times = seen.get(name) ?? [];
        const span = (times.at(-1) ?? 0) - (times[0] ?? 0);
        assert.ok(times.length >= Math.floor(removedAfter / intervalMs) - 1,
          `${name}: ${times.length} checks in ${Math.round(removedAfter)} ms`);
        const gaps = times.slice(1).map((time, index) => time - (times[index] ?? time));
        const worst = Math.max(...gaps);
        assert.ok(worst <= intervalMs + timeoutMs + 300, `${name}: a gap of ${worst} ms (${span})`);
      }
    });
});
