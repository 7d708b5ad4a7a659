import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { encodeChange } from "../../../lib/registry/journal.ts";
import type { Change } from "../../../lib/registry/table.ts";
import { createJournal } from "../../../lib/std/journal.ts";
import type { ServiceStatus, Status } from "../../../lib/registry/registration.ts";
import { createFileStore } from "../../../lib/registry/file-store.ts";
import { tempDir } from "../../support/temp.ts";

function row(name: string, status: Status = "passing"): ServiceStatus {
  return {
    ServiceName: "S",
    ServiceURL: `http://127.0.0.1:1/${name}`,
    RequiredServices: [],
    ServiceUpdateURL: "",
    HeartbeatURL: "",
    Status: status,
    LastCheck: null,
  };
}

const byURL = (rows: Iterable<ServiceStatus>) =>
  [...rows].sort((a, b) => a.ServiceURL.localeCompare(b.ServiceURL));

/** A store whose snapshot is `model`, which `put` and `remove` change before recording. */
function openStore(path: string, compactBytes?: number) {
  const model = new Map<string, ServiceStatus>();
  const lines: string[] = [];
  const store = createFileStore({
    path,
    snapshot: () => `${JSON.stringify({ Services: [...model.values()] })}\n`,
    log: (line) => lines.push(line),
    ...(compactBytes === undefined ? {} : { compactBytes }),
  });
  const put = (status: ServiceStatus) => {
    model.set(status.ServiceURL, status);
    return store.record({ put: status });
  };
  const remove = (name: string) => {
    model.delete(`http://127.0.0.1:1/${name}`);
    return store.record({ remove: `http://127.0.0.1:1/${name}` });
  };
  return { model, lines, store, put, remove };
}

/** Copies the state files of `path` (as a kill -9 right now would leave them) to a new dir. */
async function crashCopy(t: TestContext, path: string): Promise<string> {
  const copy = join(await tempDir(t, "registry-crash"), "state.json");
  for (const suffix of ["", ".journal"]) {
    await copyFile(`${path}${suffix}`, `${copy}${suffix}`).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    });
  }
  return copy;
}

/**
 * Loads `path` in a fresh store, as a restarted registry would; closed after the test (by
 * then its temporary directory may be gone, hence the ignored failure).
 */
async function reload(t: TestContext, path: string) {
  const opened = openStore(path);
  t.after(() => opened.store.close().catch(() => {}));
  const rows = await opened.store.load();
  for (const status of rows) opened.model.set(status.ServiceURL, status);
  return { ...opened, rows };
}

const journal = (...changes: Change[]) => changes.map(encodeChange).join("");
const snapshotOf = (...rows: ServiceStatus[]) => `${JSON.stringify({ Services: rows })}\n`;

describe("registry state journal", () => {
  it("replays the journal after a crash: puts, removes and status changes", async (t) => {
    const path = join(await tempDir(t, "registry-journal"), "state.json");
    const { model, store, put, remove } = openStore(path);
    t.after(() => store.close().catch(() => {})); // closed at its end unless it failed
    await store.load();
    await Promise.all(Array.from({ length: 20 }, (_, i) => put(row(`s${i}`))));
    await Promise.all([remove("s5"), put(row("s7", "critical")), remove("nobody")]);
    assert.equal(store.compactions, 0);
    const copy = await crashCopy(t, path);
    assert.deepEqual(await readdir(join(copy, "..")), ["state.json.journal"]);

    const restarted = await reload(t, copy);
    assert.deepEqual(byURL(restarted.rows), byURL(model.values()));
    assert.equal(restarted.rows.find((r) => r.ServiceURL.endsWith("/s7"))?.Status, "critical");
    // Loading folded the journal into the snapshot; changes after it replay on top of it.
    assert.equal(await readFile(`${copy}.journal`, "utf8"), "");
    await restarted.remove("s0");
    assert.deepEqual(byURL((await reload(t, await crashCopy(t, copy))).rows),
      byURL(restarted.model.values()));
    await store.close();
  });

  it("ignores and reports a torn last line, and appends cleanly after it", async (t) => {
    const path = join(await tempDir(t, "registry-journal"), "state.json");
    const whole = journal({ put: row("a") }, { put: row("b") }, { remove: "http://127.0.0.1:1/a" });
    await writeFile(`${path}.journal`, `${whole}{"put":{"ServiceName":"S","Servi`);
    const { rows, lines, put, model } = await reload(t, path);
    assert.deepEqual(rows, [row("b")]);
    assert.ok(lines.some((line) => line.includes("torn last line")), lines.join("\n"));
    await put(row("c"));
    const again = await reload(t, await crashCopy(t, path));
    assert.deepEqual(byURL(again.rows), byURL(model.values()));
    assert.deepEqual(again.lines, [], "nothing torn or corrupt any more");
  });

  it("compacts a growing journal and keeps the exact state across compactions and restarts",
    async (t) => {
      const path = join(await tempDir(t, "registry-journal"), "state.json");
      const { model, store, put, remove } = openStore(path, 2_000);
      await store.load();
      for (let round = 0; round < 30; round++) {
        await Promise.all(Array.from({ length: 10 }, (_, i) => {
          const n = (round * 7 + i) % 60;
          if (i % 5 === 4) return remove(`s${n}`);
          return put(row(`s${n}`, (round + i) % 3 === 0 ? "critical" : "passing"));
        }));
      }
      assert.ok(store.compactions >= 2, `${store.compactions} compactions`);
      const journalBytes = (await readFile(`${path}.journal`)).length;
      const snapshotBytes = (await readFile(path)).length;
      assert.ok(journalBytes <= Math.max(2_000, snapshotBytes) + 2_000, `${journalBytes} B`);
      assert.deepEqual(byURL((await reload(t, await crashCopy(t, path))).rows),
        byURL(model.values()));

      // More changes after the compactions, then a clean stop folds the journal away.
      await Promise.all([remove("s1"), put(row("late", "critical")), put(row("s2"))]);
      assert.deepEqual(byURL((await reload(t, await crashCopy(t, path))).rows),
        byURL(model.values()));
      await store.close();
      assert.deepEqual(await readdir(join(path, "..")), ["state.json"]);
      await assert.rejects(store.record({ remove: "http://127.0.0.1:1/x" }), /closed/);
      assert.deepEqual(byURL((await reload(t, path)).rows), byURL(model.values()));
    });

  it("loads a crash between snapshot and journal truncation: the replay changes nothing",
    async (t) => {
      const path = join(await tempDir(t, "registry-journal"), "state.json");
      // The snapshot already holds every change of the journal.
      await writeFile(path, snapshotOf(row("a", "critical"), row("c")));
      await writeFile(`${path}.journal`, journal({ put: row("a") }, { put: row("b") },
        { remove: "http://127.0.0.1:1/b" }, { put: row("a", "critical") }, { put: row("c") }));
      const { rows, lines } = await reload(t, path);
      assert.deepEqual(rows, [row("a", "critical"), row("c")]);
      assert.deepEqual(lines, []);
    });

  it("sets a journal with a corrupt line aside, reports it and keeps what precedes it",
    async (t) => {
      const dir = await tempDir(t, "registry-journal");
      const path = join(dir, "state.json");
      await writeFile(path, snapshotOf(row("a")));
      const text = `${journal({ put: row("b") })}{"put":7}\n${journal({ put: row("c") })}`;
      await writeFile(`${path}.journal`, text);
      const { rows, lines, put, model } = await reload(t, path);
      assert.deepEqual(byURL(rows), [row("a"), row("b")]);
      const report = lines.find((line) => line.includes("is corrupt at line 2"));
      assert.ok(report, lines.join("\n"));
      const aside = /moved it to (\S+)$/.exec(report)?.[1] ?? "";
      assert.equal(await readFile(aside, "utf8"), text);
      // What it kept is in the snapshot now, so it survives the next crash too.
      assert.deepEqual(byURL(JSON.parse(await readFile(path, "utf8")).Services), rows);
      await put(row("d"));
      const again = await reload(t, await crashCopy(t, path));
      assert.deepEqual(byURL(again.rows), byURL(model.values()));
      assert.deepEqual(again.lines, []);
    });

  it("group-commits: many concurrent writers, few fsyncs", async (t) => {
    const path = join(await tempDir(t, "registry-journal"), "state.json");
    const { store, put, model } = openStore(path);
    t.after(() => store.close().catch(() => {})); // closed at its end unless it failed
    await store.load();
    // Changes recorded in one turn of the event loop share one write and one fsync.
    await Promise.all(Array.from({ length: 50 }, (_, client) => put(row(`first-${client}`))));
    assert.equal(store.fsyncs, 1);
    // 50 clients, each waiting for its acknowledgement before the next change, as HTTP does.
    await Promise.all(Array.from({ length: 50 }, async (_, client) => {
      for (let n = 0; n < 20; n++) await put(row(`c${client}-${n}`));
    }));
    t.diagnostic(`${store.fsyncs - 1} fsyncs for 1 000 changes`);
    assert.ok(store.fsyncs - 1 >= 20, "a client's changes are never acknowledged together");
    assert.ok(store.fsyncs - 1 < 1_000, "concurrent clients share fsyncs");
    assert.equal((await reload(t, await crashCopy(t, path))).rows.length, model.size);
    await store.close();
  });

  it("retries a failed append on a clean journal", async (t) => {
    const dir = join(await tempDir(t, "registry-journal"), "later");
    const file = createJournal(join(dir, "state.json.journal"));
    t.after(() => file.close());
    await assert.rejects(file.append(encodeChange({ remove: "http://127.0.0.1:1/a" })),
      { code: "ENOENT" });
    await mkdir(dir);
    const line = encodeChange({ remove: "http://127.0.0.1:1/b" });
    await file.append(line);
    assert.equal(await readFile(join(dir, "state.json.journal"), "utf8"), line);
    assert.deepEqual([file.size, file.syncs], [Buffer.byteLength(line), 1]);
  });
});
