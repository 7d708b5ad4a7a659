import assert from "node:assert/strict";
import { open, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { openSink, type SinkFile } from "../../../lib/log/sink.ts";
import { tempDir } from "../../support/temp.ts";
import { deferred } from "../../support/wait.ts";

async function tempFile(t: TestContext): Promise<string> {
  return join(await tempDir(t, "sink-test"), "test.log");
}

/** Switches for a real file handle whose writes and fsyncs can be made to fail or wait. */
interface Faults {
  /** The next writes write half their bytes, then fail with EIO. */
  failWrite: boolean;
  failSync: boolean;
  /** While set, datasync waits for it; `syncStarted` is called when one begins. */
  gate: Promise<void> | undefined;
  syncStarted: () => void;
}

function faultyOpen(faults: Faults): (file: string) => Promise<SinkFile> {
  return async (file) => {
    const real = await open(file, "a");
    return {
      async write(buffer, offset, length) {
        if (!faults.failWrite) return real.write(buffer, offset, length);
        await real.write(buffer, offset, Math.floor(length / 2));
        throw Object.assign(new Error("injected write failure"), { code: "EIO" });
      },
      async datasync() {
        faults.syncStarted();
        if (faults.gate) await faults.gate;
        if (faults.failSync) {
          throw Object.assign(new Error("injected fsync failure"), { code: "EIO" });
        }
        return real.datasync();
      },
      stat: () => real.stat(),
      truncate: (length) => real.truncate(length),
      close: () => real.close(),
    };
  };
}

function faults(): Faults {
  return { failWrite: false, failSync: false, gate: undefined, syncStarted: () => {} };
}

describe("sink", () => {
  it("writes appends made together in one write and one fsync, in order", async (t) => {
    const file = await tempFile(t);
    const sink = await openSink({ file });
    t.after(() => sink.close());
    const appends = Array.from({ length: 50 }, (_, i) => sink.append(`line ${i}\n`, 1));
    await Promise.all(appends);
    assert.equal(sink.fsyncs, 1);
    assert.equal(sink.entries, 50);
    const expected = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join("");
    assert.equal(await readFile(file, "utf8"), expected);
    assert.equal(sink.size, Buffer.byteLength(expected));
  });

  it("groups appends that arrive while an fsync is in flight into the next round", async (t) => {
    const file = await tempFile(t);
    const control = faults();
    const gate = deferred();
    control.gate = gate.promise;
    const firstSync = new Promise<void>((resolve) => (control.syncStarted = resolve));
    const sink = await openSink({ file, open: faultyOpen(control) });
    t.after(() => sink.close());

    let firstDone = false;
    const first = sink.append("first\n", 1).then(() => (firstDone = true));
    await firstSync;
    const later = [];
    for (let i = 0; i < 20; i++) {
      later.push(sink.append(`later ${i}\n`, 1));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(firstDone, false, "not acknowledged before its fsync completes");
    control.gate = undefined;
    gate.resolve();
    await Promise.all([first, ...later]);
    assert.equal(sink.fsyncs, 2, "20 appends in flight-time share one fsync");
    assert.equal(sink.entries, 21);
  });

  it("rejects every appender of a failed write, cuts the partial bytes and recovers", async (t) => {
    const file = await tempFile(t);
    const control = faults();
    const messages: string[] = [];
    const log = (message: string) => messages.push(message);
    const sink = await openSink({ file, open: faultyOpen(control), log });
    t.after(() => sink.close());
    await sink.append("good 1\n", 1);

    control.failWrite = true;
    const failed = await Promise.allSettled([
      sink.append("bad 1\n", 1),
      sink.append("bad 2 with a longer text\n", 1),
    ]);
    assert.deepEqual(failed.map((r) => r.status), ["rejected", "rejected"]);
    assert.equal(messages.length, 1, "one report per failed round");
    assert.match(messages[0] ?? "", /2 entries not written.*injected write failure \(EIO\)/);
    assert.equal(await readFile(file, "utf8"), "good 1\n", "partial bytes were cut off");

    control.failWrite = false;
    await sink.append("good 2\n", 1);
    assert.equal(await readFile(file, "utf8"), "good 1\ngood 2\n");
    assert.equal(sink.entries, 2);
  });

  it("keeps new entries on their own line after a failed write in a rotated file", async (t) => {
    const file = await tempFile(t);
    const control = faults();
    const sink = await openSink({ file, open: faultyOpen(control) });
    t.after(() => sink.close());
    await sink.append(`${"a".repeat(99)}\n`, 1);
    await truncate(file, 0); // copytruncate: the sink's idea of the size is now stale
    await sink.append("x\n", 1);
    control.failWrite = true;
    await assert.rejects(sink.append(`${"b".repeat(299)}\n`, 1));
    control.failWrite = false;
    await sink.append("good\n", 1);
    const lines = (await readFile(file, "utf8")).split("\n");
    assert.equal(lines[0], "x");
    assert.equal(lines.at(-2), "good", "the fragment of the failed round ends with a newline");
    assert.equal(lines.at(-1), "");
  });

  it("rejects when the fsync fails and does not keep the unsynced bytes", async (t) => {
    const file = await tempFile(t);
    const control = faults();
    const sink = await openSink({ file, open: faultyOpen(control) });
    t.after(() => sink.close());
    control.failSync = true;
    await assert.rejects(sink.append("unsynced\n", 1), /injected fsync failure/);
    control.failSync = false;
    await sink.append("synced\n", 1);
    assert.equal(await readFile(file, "utf8"), "synced\n");
    assert.equal(sink.fsyncs, 1);
  });

  it("rejects with ENOSPC on a full device, round after round", async (t) => {
    const sink = await openSink({ file: "/dev/full" });
    t.after(() => sink.close());
    await assert.rejects(sink.append("x\n", 1), { code: "ENOSPC" });
    await assert.rejects(sink.append("y\n", 1), { code: "ENOSPC" });
    assert.equal(sink.entries, 0);
    assert.equal(sink.fsyncs, 0);
  });

  it("starts on a new line when the file ends in a torn line", async (t) => {
    const file = await tempFile(t);
    await writeFile(file, "go whole\ngo tor");
    const sink = await openSink({ file });
    t.after(() => sink.close());
    await sink.append("next\n", 1);
    await sink.append("after\n", 1);
    assert.equal(await readFile(file, "utf8"), "go whole\ngo tor\nnext\nafter\n");
  });

  it("finishes queued rounds on close and refuses later appends", async (t) => {
    const file = await tempFile(t);
    const sink = await openSink({ file });
    const pending = sink.append("queued\n", 1);
    await sink.close();
    await pending;
    assert.equal(await readFile(file, "utf8"), "queued\n");
    await assert.rejects(sink.append("late\n", 1), /log sink: closed/);
  });

  it("fails to open a file in a missing directory", async (t) => {
    const file = await tempFile(t);
    await assert.rejects(openSink({ file: join(file, "missing", "x.log") }), { code: "ENOENT" });
  });
});
