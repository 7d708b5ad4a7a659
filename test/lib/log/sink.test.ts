import assert from "node:assert/strict";
import { mkdir, open, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { openSink, type Sink, type SinkFile } from "../../../lib/log/sink.ts";
import { tempDir } from "../../support/temp.ts";
import { createWaiters, deferred, type Deferred } from "../../support/wait.ts";

async function tempFile(t: TestContext): Promise<string> {
  return join(await tempDir(t, "sink-test"), "test.log");
}

const append = (sink: Sink, text: string, count = 1) =>
  new Promise<void>((resolve, reject) => {
    sink.append(text, count, (error) => (error === undefined ? resolve() : reject(error)));
  });

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** A real file handle whose writes and fdatasyncs a test can fail or hold. */
interface Faults {
  /** The next writes write half their bytes, then fail with EIO. */
  failWrite: boolean;
  /** While set, every fdatasync is held until the test releases it (in `held`). */
  hold: boolean;
  held: Array<Deferred<Error | undefined>>;
  /** Resolves once `n` fdatasyncs are held. */
  holding(n: number): Promise<void>;
}

function faults(): Faults {
  const waiters = createWaiters();
  const control: Faults = {
    failWrite: false,
    hold: false,
    held: [],
    holding: (n) => waiters.until(() => (control.held.length >= n ? true : undefined), 5_000,
      () => new Error(`fewer than ${n} fdatasyncs held`)).then(() => {}),
  };
  const original = control.held.push.bind(control.held);
  control.held.push = (...items) => {
    const length = original(...items);
    waiters.wake();
    return length;
  };
  return control;
}

function faultyOpen(control: Faults): (file: string) => Promise<SinkFile> {
  return async (file) => {
    const real = await open(file, "a");
    return {
      async write(buffer, offset, length) {
        if (!control.failWrite) return real.write(buffer, offset, length);
        await real.write(buffer, offset, Math.floor(length / 2));
        throw Object.assign(new Error("injected write failure"), { code: "EIO" });
      },
      async datasync() {
        if (control.hold) {
          const release = deferred<Error | undefined>();
          control.held.push(release);
          const error = await release.promise;
          if (error) throw error;
        }
        return real.datasync();
      },
      stat: () => real.stat(),
      truncate: (length) => real.truncate(length),
      close: () => real.close(),
    };
  };
}

/** A sink on a temp file whose I/O the test controls, and the lines the sink logged. */
async function faultySink(t: TestContext, options: { hold?: boolean; concurrency?: number } = {}) {
  const file = await tempFile(t);
  const control = faults();
  control.hold = options.hold ?? false;
  const messages: string[] = [];
  const sink = await openSink({ file, open: faultyOpen(control),
    log: (message) => messages.push(message),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }) });
  t.after(() => sink.close());
  return { file, control, messages, sink };
}

const syncFailure = () => Object.assign(new Error("injected fsync failure"), { code: "EIO" });

describe("sink", () => {
  it("writes appends made in one turn in one write and one fdatasync, in order", async (t) => {
    const file = await tempFile(t);
    const sink = await openSink({ file });
    t.after(() => sink.close());
    await Promise.all(Array.from({ length: 50 }, (_, i) => append(sink, `line ${i}\n`)));
    assert.equal(sink.fsyncs, 1);
    assert.equal(sink.entries, 50);
    const expected = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join("");
    assert.equal(await readFile(file, "utf8"), expected);
    assert.equal(sink.size, Buffer.byteLength(expected));
  });

  it("writes the next round while the last one's fdatasync is in flight", async (t) => {
    const { file, control, sink } = await faultySink(t, { hold: true });
    const acked: string[] = [];
    const first = append(sink, "first\n").then(() => acked.push("first"));
    await control.holding(1);
    const second = append(sink, "second\n").then(() => acked.push("second"));
    await control.holding(2);
    assert.equal(await readFile(file, "utf8"), "first\nsecond\n", "both written already");
    assert.deepEqual(acked, [], "neither acknowledged before its fdatasync");
    assert.equal(sink.size, 0, "readers see no unacknowledged byte");
    // The second fdatasync finishes first: still, the first round is acknowledged first.
    control.held[1]?.resolve(undefined);
    await turn();
    assert.deepEqual(acked, []);
    control.held[0]?.resolve(undefined);
    await Promise.all([first, second]);
    assert.deepEqual(acked, ["first", "second"]);
    assert.equal(sink.size, Buffer.byteLength("first\nsecond\n"));
  });

  it("keeps at most `concurrency` rounds in flight and gathers the rest", async (t) => {
    const { file, control, sink } = await faultySink(t, { hold: true, concurrency: 2 });
    const appends = [append(sink, "a\n")];
    await control.holding(1);
    appends.push(append(sink, "b\n"));
    await control.holding(2);
    for (let i = 0; i < 5; i++) {
      appends.push(append(sink, `c${i}\n`));
      await turn();
    }
    assert.equal(control.held.length, 2, "no third round while two are in flight");
    control.hold = false;
    control.held[0]?.resolve(undefined);
    control.held[1]?.resolve(undefined);
    await Promise.all(appends);
    assert.equal(sink.fsyncs, 3, "the five later appends shared one round");
    assert.equal(await readFile(file, "utf8"), "a\nb\nc0\nc1\nc2\nc3\nc4\n");
  });

  it("fails every unacknowledged round when one fdatasync fails, and cuts them off", async (t) => {
    const { file, control, messages, sink } = await faultySink(t);
    await append(sink, "good 1\n");
    control.hold = true;
    const first = append(sink, "round 1\n");
    await control.holding(1);
    const second = append(sink, "round 2\n");
    await control.holding(2);
    control.hold = false;
    control.held[1]?.resolve(syncFailure());
    await turn();
    // The earlier round's fdatasync succeeds, but a writeback error may have been its own.
    control.held[0]?.resolve(undefined);
    const results = await Promise.allSettled([first, second]);
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    assert.equal(messages.length, 1, "one report per failure");
    assert.match(messages[0] ?? "", /2 entries not written.*injected fsync failure \(EIO\)/);
    assert.equal(await readFile(file, "utf8"), "good 1\n");
    await append(sink, "good 2\n");
    assert.equal(await readFile(file, "utf8"), "good 1\ngood 2\n");
    assert.equal(sink.entries, 2);
  });

  it("fails every appender of a failed write, cuts the partial bytes and recovers", async (t) => {
    const { file, control, messages, sink } = await faultySink(t);
    await append(sink, "good 1\n");
    control.failWrite = true;
    const failed = await Promise.allSettled([
      append(sink, "bad 1\n"),
      append(sink, "bad 2 with a longer text\n"),
    ]);
    assert.deepEqual(failed.map((r) => r.status), ["rejected", "rejected"]);
    assert.equal(messages.length, 1, "one report per failed round");
    assert.match(messages[0] ?? "", /2 entries not written.*injected write failure \(EIO\)/);
    assert.equal(await readFile(file, "utf8"), "good 1\n", "partial bytes were cut off");
    control.failWrite = false;
    await append(sink, "good 2\n");
    assert.equal(await readFile(file, "utf8"), "good 1\ngood 2\n");
    assert.equal(sink.entries, 2);
  });

  it("keeps new entries on their own line after a failed write in a truncated file", async (t) => {
    const { file, control, sink } = await faultySink(t);
    await append(sink, `${"a".repeat(99)}\n`);
    await truncate(file, 0); // copytruncate: the sink's idea of the size is now stale
    await append(sink, "x\n");
    control.failWrite = true;
    await assert.rejects(append(sink, `${"b".repeat(299)}\n`));
    control.failWrite = false;
    await append(sink, "good\n");
    const lines = (await readFile(file, "utf8")).split("\n");
    assert.equal(lines[0], "x");
    assert.equal(lines.at(-2), "good", "the fragment of the failed round ends with a newline");
    assert.equal(lines.at(-1), "");
  });

  it("fails with ENOSPC on a full device, round after round", async (t) => {
    const sink = await openSink({ file: "/dev/full" });
    t.after(() => sink.close());
    await assert.rejects(append(sink, "x\n"), { code: "ENOSPC" });
    await assert.rejects(append(sink, "y\n"), { code: "ENOSPC" });
    assert.equal(sink.entries, 0);
    assert.equal(sink.fsyncs, 0);
  });

  it("starts on a new line when the file ends in a torn line", async (t) => {
    const file = await tempFile(t);
    await writeFile(file, "go whole\ngo tor");
    const sink = await openSink({ file });
    t.after(() => sink.close());
    await append(sink, "next\n");
    await append(sink, "after\n");
    assert.equal(await readFile(file, "utf8"), "go whole\ngo tor\nnext\nafter\n");
  });

  it("reports each durable round in file order with its offset", async (t) => {
    const file = await tempFile(t);
    const rounds: Array<[string, number, number]> = [];
    const sink = await openSink({ file, onDurable: (data, count, start) =>
      rounds.push([data.toString(), count, start]) });
    t.after(() => sink.close());
    await Promise.all([append(sink, "a\nb\n", 2), append(sink, "c\n")]);
    await append(sink, "d\n");
    assert.deepEqual(rounds, [["a\nb\nc\n", 3, 0], ["d\n", 1, 6]]);
  });

  it("rotates before a round that would start past maxBytes, whole rounds per file", async (t) => {
    const file = await tempFile(t);
    const sink = await openSink({ file, maxBytes: 10, keep: 2 });
    t.after(() => sink.close());
    const rounds: Array<[string, number]> = [];
    const appends = [];
    for (const text of ["aaaa\n", "bbbbbbbb\n", "cc\n", "dddddddddddd\n", "e\n"]) {
      appends.push(append(sink, text));
      await appends.at(-1);
      rounds.push([text, sink.generation]);
    }
    assert.deepEqual(rounds.map(([, generation]) => generation), [0, 0, 1, 1, 2]);
    assert.equal(await readFile(`${file}.2`, "utf8"), "aaaa\nbbbbbbbb\n");
    assert.equal(await readFile(`${file}.1`, "utf8"), "cc\ndddddddddddd\n");
    assert.equal(await readFile(file, "utf8"), "e\n");
    assert.equal(sink.size, 2);
  });

  it("keeps writing to the same file when rotating fails, and says so once", async (t) => {
    const file = await tempFile(t);
    const messages: string[] = [];
    // A directory in the way of FILE.1 makes the rename fail.
    await mkdir(join(`${file}.1`, "in-the-way"), { recursive: true });
    const sink = await openSink({ file, maxBytes: 5, keep: 1,
      log: (message) => messages.push(message) });
    t.after(() => sink.close());
    await append(sink, "first line\n");
    await append(sink, "x\n");
    await append(sink, "y\n");
    assert.equal(await readFile(file, "utf8"), "first line\nx\ny\n");
    assert.equal(sink.generation, 0);
    assert.equal(messages.length, 1, "tried again only after another maxBytes");
    assert.match(messages[0] ?? "", /rotating .*test\.log: .*; writing on/);
  });

  it("finishes queued rounds on close and refuses later appends", async (t) => {
    const file = await tempFile(t);
    const sink = await openSink({ file });
    const pending = append(sink, "queued\n");
    await sink.close();
    await pending;
    assert.equal(await readFile(file, "utf8"), "queued\n");
    await assert.rejects(append(sink, "late\n"), /log sink: closed/);
  });

  it("fails to open a file in a missing directory", async (t) => {
    const file = await tempFile(t);
    await assert.rejects(openSink({ file: join(file, "missing", "x.log") }), { code: "ENOENT" });
  });
});
