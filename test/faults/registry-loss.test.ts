// Losing the registry: kill -9 and restart with its state (nothing lost, no
// re-registration storm), without it (services come back by anti-entropy after 3 silent heartbeat
// intervals), and with a corrupt state file (set aside and reported).
import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { request } from "../../lib/std/request.ts";
import {
  counts,
  listed,
  report,
  spawnService,
  startSystem,
  type System,
} from "./procs.ts";
import { eventually } from "../support/wait.ts";

// docs/protocol.md#the-service-runner: a service registers again after 3 × the registry's interval
// without a heartbeat (the runner learns the interval from the heartbeats it receives). Long
// enough that restarting the registry on a busy machine stays well inside three of them (it
// took 3.7 s once, with c8, two CPU burners and other suites beside it).
const intervalMs = 2_000;

/** Lines in which the registry says it (re-)registered someone. */
function registrations(stderr: string): string[] {
  return stderr.split("\n").filter((line) => /\] (re-)?registered /.test(line));
}

describe("losing the registry", () => {
  const count = counts();
  let system: System;
  before(async () => {
    system = await startSystem({
      heartbeatIntervalMs: intervalMs,
      heartbeatTimeoutMs: 200,
      failures: 2,
    });
  });
  after(async () => {
    await system?.close();
    report("registry-loss", count);
  });

  const urls = () => Object.values(system.procs).map((proc) => proc.url).sort();

  it("restarted with its state: every registration listed, none registers again", async () => {
    const before = urls();
    count.faultsInjected += 1;
    const old = system.registry;
    await old.crash();
    const crashedAt = performance.now();
    const registry = await system.restartRegistry();
    const restartedAt = Date.now();
    const restartMs = Math.round(performance.now() - crashedAt);
    const now = await listed(system.registryURL);
    assert.deepEqual(now.map((s) => s.ServiceURL).sort(), before,
      `old registry: ${old.stderr()}\nnew registry: ${registry.stderr()}`);
    // Loaded entries are checked at once; wait until each was checked twice since the restart.
    await eventually(async () => {
      const checked = await listed(system.registryURL);
      return checked.every((s) => s.Status === "passing" && s.LastCheck !== null &&
        Date.parse(s.LastCheck) >= restartedAt + intervalMs) && checked;
    }, 10_000, "every service checked by the new registry");
    // Should a service register again, its own words say why, next to how long the restart took.
    const said = Object.values(system.procs).flatMap((proc) => proc.stderr().split("\n"))
      .filter((line) => line.includes("no heartbeat"));
    assert.deepEqual(registrations(registry.stderr()), [],
      `no re-registration storm; the registry was back after ${restartMs} ms; ` +
        `the services said: ${said.join(" | ")}`);
  });

  it("restarted without its state: every live service registers again after 3 silent intervals",
    async () => {
      const before = urls();
      count.faultsInjected += 1;
      await system.registry.crash();
      await rm(system.statePath, { force: true });
      await rm(`${system.statePath}.journal`, { force: true });
      await system.restartRegistry();
      const restarted = performance.now();
      const said = () => Object.values(system.procs)
        .flatMap((proc) => proc.stderr().split("\n"))
        .filter((line) => line.includes("no heartbeat"));
      // Each service waits three of the intervals it measured; on a busy machine those stretch,
      // so the deadline is generous and the services' own words say why they registered.
      const back = await eventually(async () => {
        const now = (await listed(system.registryURL)).map((s) => s.ServiceURL).sort();
        return before.every((url) => now.includes(url)) && now;
      }, 10 * intervalMs + 10_000, "every service registered again (anti-entropy)")
        .catch((error: unknown) => {
          throw new Error(`${(error as Error).message}; they said: ${said().join(" | ")}`,
            { cause: error });
        });
      const took = performance.now() - restarted;
      console.log(`registry-loss: every service registered again ${Math.round(took)} ms after ` +
        "the registry restarted without its state");
      assert.ok(back.length >= before.length, `back after ${Math.round(took)} ms`);
      // Each service registered once, not in a loop.
      const lines = registrations(system.registry.stderr());
      for (const url of before) {
        assert.equal(lines.filter((line) => line.endsWith(` at ${url}`)).length, 1, url);
      }
    });

  it("after re-registering together, the portal still finds grading and log", async () => {
    // Meaningful only once they all re-registered (the previous test), concurrently: a
    // registration answer must not wipe a provider announced while it was in flight.
    const now = (await listed(system.registryURL)).map((s) => s.ServiceURL);
    assert.ok(urls().every((url) => now.includes(url)), "all services registered again");
    const portal = system.get("teacherportal").url;
    const students = await eventually(async () => {
      const response = await request(`${portal}/students`);
      return response.status === 200 && response;
    }, 3_000, "portal /students");
    assert.equal(students.status, 200);
    const logs = await request(`${portal}/logs`);
    assert.equal(logs.status, 200, logs.text().slice(0, 300));
  });
});

describe("a corrupt registry state file", () => {
  const count = counts();
  after(() => report("registry-corrupt", count));

  it("is reported, set aside with its content, and the registry starts empty", async (t) => {
    const system = await startSystem({ services: [] });
    t.after(() => system.close());
    const garbage = '{"Services": [{"ServiceName": 42, truncated';
    await system.registry.crash();
    await writeFile(system.statePath, garbage);
    count.faultsInjected += 1;
    const registry = await system.restartRegistry();
    await registry.waitOutput(/corrupt/i, 2_000);
    assert.match(registry.stderr(), /registry\.json/);
    const aside = (await readdir(system.dir)).filter((name) => name.includes("corrupt"));
    assert.equal(aside.length, 1, `set aside: ${aside.join(", ")}`);
    assert.equal(await readFile(join(system.dir, aside[0] ?? ""), "utf8"), garbage);
    assert.match(registry.stderr(), new RegExp(aside[0] ?? "none"));
    assert.deepEqual(await listed(system.registryURL), []);

    // Registering again writes a fresh, valid state file; the corrupt copy stays.
    const log = await spawnService("logservice", {
      args: ["--registry", system.registryURL, "--file", join(system.dir, "x.log")],
    });
    t.after(() => log.stop());
    await eventually(async () => {
      // A running registry appends changes to its journal (snapshot written when it grows).
      const text = await readFile(`${system.statePath}.journal`, "utf8").catch(() => "");
      return text.includes(log.url);
    }, 10_000, "a fresh state file");
    assert.equal(await readFile(join(system.dir, aside[0] ?? ""), "utf8"), garbage);
  });
});
