import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseServiceList } from "../../../lib/registry/registration.ts";
import { createFileStore } from "../../../lib/registry/file-store.ts";
import { tempDir } from "../../support/temp.ts";
import { has, list, post, remove, startFake, startRegistry } from "./helpers.ts";

/** The ServiceURLs on disk: the snapshot's, then the journal's puts and removes replayed. */
async function saved(path: string): Promise<string[]> {
  const urls = new Set<string>();
  const snapshot = await readFile(path, "utf8").catch(() => undefined);
  if (snapshot !== undefined) {
    for (const row of parseServiceList(JSON.parse(snapshot))) urls.add(row.ServiceURL);
  }
  const journal = await readFile(`${path}.journal`, "utf8").catch(() => "");
  for (const line of journal.split("\n").filter((line) => line !== "")) {
    const change = JSON.parse(line) as { put?: { ServiceURL: string }; remove?: string };
    if (change.put) urls.add(change.put.ServiceURL);
    else urls.delete(change.remove ?? "");
  }
  return [...urls].sort();
}

describe("registry state file", () => {
  it("has every registration on disk by the time it is acknowledged", async (t) => {
    const statePath = join(await tempDir(t, "registry-store"), "registry.json");
    const { url } = await startRegistry(t, { statePath });
    const expected: string[] = [];
    for (let i = 0; i < 5; i++) {
      const serviceURL = `http://127.0.0.1:1/s${i}`;
      assert.equal((await post(url, { ServiceName: "S", ServiceURL: serviceURL })).status, 200);
      expected.push(serviceURL);
      assert.deepEqual(await saved(statePath), expected.slice().sort());
    }
    assert.equal((await remove(url, "http://127.0.0.1:1/s0")).status, 200);
    assert.deepEqual(await saved(statePath), expected.slice(1).sort());
  });

  it("survives a restart and checks the loaded registrations at once", async (t) => {
    const statePath = join(await tempDir(t, "registry-store"), "registry.json");
    const provider = await startFake(t);
    const watcher = await startFake(t);
    const first = await startRegistry(t, { statePath, heartbeatIntervalMs: 60_000 });
    await post(first.url, watcher.registration("Watcher", ["LogService"]));
    await post(first.url, provider.registration("LogService"));
    const before = await list(first.url);
    await first.stop();

    const beats = provider.heartbeats;
    const heartbeat = provider.nextHeartbeat(20_000);
    const second = await startRegistry(t, { statePath, heartbeatIntervalMs: 60_000 });
    await heartbeat; // checked at once, not after the 60 s interval
    assert.ok(provider.heartbeats > beats);
    const strip = (rows: typeof before) => rows.map(({ LastCheck: _, ...row }) => row);
    assert.deepEqual(strip(await list(second.url)), strip(before));
    // Dependencies still work after the restart.
    const next = `http://127.0.0.1:1/next`;
    await post(second.url, { ServiceName: "LogService", ServiceURL: next });
    await watcher.waitPatch((patch) => has(patch, next));
  });

  it("sets a corrupt state file aside, reports it and starts empty", async (t) => {
    const dir = await tempDir(t, "registry-store");
    const statePath = join(dir, "registry.json");
    const cases = ["{not json", '{"Services":[{"ServiceName":7}]}', ""];
    for (const content of cases) {
      await writeFile(statePath, content);
      const { url, lines, stop } = await startRegistry(t, { statePath });
      assert.deepEqual(await list(url), []);
      const report = lines.find((line) => line.includes("is corrupt"));
      assert.ok(report, `no report for ${JSON.stringify(content)}`);
      const aside = /moved it to (\S+)/.exec(report)?.[1] ?? "";
      assert.equal(await readFile(aside, "utf8"), content);
      await post(url, { ServiceName: "New", ServiceURL: "http://127.0.0.1:1/new" });
      assert.deepEqual(await saved(statePath), ["http://127.0.0.1:1/new"]);
      await stop();
      await rm(aside);
    }
    assert.deepEqual(await readdir(dir), ["registry.json"]);
  });

  it("answers 500, not a false 200, when the state cannot be saved", async (t) => {
    const statePath = join(await tempDir(t, "registry-store"), "missing-dir", "registry.json");
    const { url, lines } = await startRegistry(t, { statePath });
    const response = await post(url, { ServiceName: "S", ServiceURL: "http://127.0.0.1:1/s" });
    assert.equal(response.status, 500);
    assert.match((response.json() as { error: string }).error, /could not save/);
    assert.ok(lines.some((line) => line.includes("saving state") && line.includes("ENOENT")));
  });

  it("coalesces changes recorded during a write into one write", async (t) => {
    const path = join(await tempDir(t, "registry-store"), "state.json");
    let snapshots = 0;
    const store = createFileStore({
      path,
      snapshot: () => `{"Services":[],"n":${++snapshots}}`,
      log: () => {},
    });
    const first = store.record({ remove: "http://127.0.0.1:1/first" });
    await Promise.resolve(); // the first write is under way
    await Promise.all([first, ...Array.from({ length: 199 }, (_, i) =>
      store.record({ remove: `http://127.0.0.1:1/${i}` }))]);
    assert.equal(store.fsyncs, 2, "one write for the first call, one for the 199 during it");
    assert.equal(snapshots, 0, "no snapshot for a small journal");
    assert.equal((await readFile(`${path}.journal`, "utf8")).split("\n").length, 201);
    assert.equal(store.busy, false);
    await store.close();
    assert.equal(JSON.parse(await readFile(path, "utf8")).n, 1);
  });
});
