// kill -9 of each kind of service under light traffic: dependents are told
// Removed, the portal keeps answering, the registry survives, a restart is one entry again.
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { after, before, describe, it } from "node:test";
import { request } from "../../lib/std/request.ts";
import {
  counts,
  listed,
  report,
  serviceNames,
  startObserver,
  startSystem,
  type Observer,
  type System,
} from "./procs.ts";
import { eventually } from "../support/wait.ts";

type Kind = keyof typeof serviceNames;

/** Requests each service answers cheaply, sent one after another per target. */
const traffic: Record<Kind, string> = {
  logservice: "/log?lines=5",
  gradingservice: "/students",
  teacherportal: "/students",
  helloservice: "/hello?name=traffic",
};

describe("kill -9 of each service under light traffic", () => {
  const count = counts();
  let system: System;
  let observer: Observer;
  const down = new Set<Kind>();
  const failures: string[] = [];
  const portalStatuses = new Map<number, number>();
  let stopTraffic = false;
  let trafficDone: Promise<unknown> = Promise.resolve();
  const agent = new Agent({ keepAlive: true });

  before(async () => {
    system = await startSystem();
    observer = await startObserver(system.registryURL, Object.values(serviceNames));
    // One loop per service; a failure counts only while that service is not known to be down.
    trafficDone = Promise.all(
      (Object.keys(traffic) as Kind[]).map(async (kind) => {
        while (!stopTraffic) {
          const proc = system.get(kind);
          const wasDown = down.has(kind) || !proc.alive();
          count.requests += 1;
          try {
            const response = await request(`${proc.url}${traffic[kind]}`, {
              agent,
              timeoutMs: 3_000,
            });
            if (kind === "teacherportal") {
              portalStatuses.set(response.status, (portalStatuses.get(response.status) ?? 0) + 1);
              // Its 503 page is the promised answer while grading is away.
              if (response.status !== 200 && response.status !== 503) {
                failures.push(`${kind}: status ${response.status}`);
              }
            } else if (response.status !== 200) {
              failures.push(`${kind}: status ${response.status}`);
            }
          } catch (error) {
            if (!wasDown && !down.has(kind)) {
              count.failedRequests += 1;
              failures.push(`${kind}: ${(error as Error).message}`);
            }
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }),
    );
  });

  after(async () => {
    stopTraffic = true;
    await trafficDone;
    agent.destroy();
    await observer?.close();
    await system?.close();
    report("crash", count);
  });

  for (const kind of ["gradingservice", "logservice", "helloservice", "teacherportal"] as const) {
    const name = serviceNames[kind];
    it(`${kind}: dependents get Removed, a restart is registered exactly once`, async (t) => {
      const victim = system.get(kind);
      const from = observer.patches.length;
      down.add(kind);
      const started = performance.now();
      count.faultsInjected += 1;
      await victim.crash();
      const removed = await observer.waitPatch(
        (patch) => patch.Removed.some((e) => e.Name === name && e.URL === victim.url),
        from,
        10_000,
      );
      assert.ok(removed);
      // How fast (docs/protocol.md#performance-targets) is for make bench to say, not a busy CI.
      t.diagnostic(`Removed after ${Math.round(performance.now() - started)} ms`);
      const listedNow = await listed(system.registryURL, name);
      const entry = listedNow.find((s) => s.ServiceURL === victim.url);
      assert.equal(entry?.Status, "critical", "still listed, as critical");

      if (kind === "gradingservice") {
        const page = await request(`${system.get("teacherportal").url}/students`);
        assert.equal(page.status, 503);
        assert.match(
          page.text(),
          /GradingService (is registered|at \S+ is not reachable)/,
        );
      }
      if (kind === "logservice") {
        const page = await request(`${system.get("teacherportal").url}/logs`);
        assert.equal(page.status, 503);
        assert.match(
          page.text(),
          /LogService (is registered|at \S+ is not reachable)/,
        );
        // Students do not need the log service: the remote logger only buffers meanwhile.
        const students = await request(`${system.get("teacherportal").url}/students`);
        assert.equal(students.status, 200);
      }

      const addedFrom = observer.patches.length;
      const restarted = await system.restart(kind);
      down.delete(kind);
      assert.equal(restarted.url, victim.url);
      await observer.waitPatch(
        (patch) => patch.Added.some((e) => e.Name === name && e.URL === victim.url),
        addedFrom,
      );
      const entries = await listed(system.registryURL, name);
      assert.deepEqual(
        entries.map((s) => [s.ServiceURL, s.Status]),
        [[victim.url, "passing"]],
        "exactly one entry, passing",
      );
      // Only one Added for the restart: no duplicate announcement.
      const added = observer.patches
        .slice(addedFrom)
        .flatMap((patch) => patch.Added)
        .filter((e) => e.Name === name);
      assert.equal(added.length, 1, JSON.stringify(added));

      if (kind !== "logservice") {
        await eventually(async () => {
          const response = await request(`${system.get("teacherportal").url}/students`);
          return response.status === 200;
        }, 10_000, "portal pages work again");
      }
      if (kind === "logservice" || kind === "teacherportal") {
        await eventually(async () => {
          const response = await request(`${system.get("teacherportal").url}/logs`);
          return response.status === 200;
        }, 10_000, "the portal's /logs works again");
      }
    });
  }

  it("the registry never crashed and light traffic never failed outside a service's downtime",
    () => {
      assert.ok(system.registry.alive(), "registry alive");
      assert.doesNotMatch(system.registry.stderr(), /internal error/);
      assert.deepEqual(failures, []);
      assert.ok((portalStatuses.get(200) ?? 0) > 0);
    });
});
