// A hung provider (SIGSTOP) turns critical after the configured failures and passing again
// after SIGCONT, while the other services are still checked. (How soon, and how regular the
// other checks stay, make bench measures: a busy machine must not fail this suite.)
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

  it("is critical after the failures, passing after SIGCONT; the others are still checked",
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
      // Not at once: the failed checks are a retry delay apart.
      const soonest = (failures - 1) * retryDelayMs;
      assert.ok(removedAfter >= soonest, `Removed after ${Math.round(removedAfter)} ms`);
      const entry = (await listed(system.registryURL, "GradingService"))[0];
      assert.equal(entry?.Status, "critical");

      const continued = observer.patches.length;
      const resumed = performance.now();
      grading.signal("SIGCONT");
      await observer.waitPatch((patch) => patch.Added.some((e) => e.URL === grading.url),
        continued, 10_000);
      console.log(`hang: Removed ${Math.round(removedAfter)} ms after SIGSTOP, Added ` +
        `${Math.round(performance.now() - resumed)} ms after SIGCONT`);
      assert.equal((await listed(system.registryURL, "GradingService"))[0]?.Status, "passing");
      sampling = false;
      await sampler;

      // The hung check stopped no other: each healthy service was checked while it hung.
      for (const name of ["LogService", "HelloService", "FaultObserver"]) {
        const times = seen.get(name) ?? [];
        assert.ok(times.length >= 2, `${name}: checked ${times.length} times while it hung`);
      }
    });
});
