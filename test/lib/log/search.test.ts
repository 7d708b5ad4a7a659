import assert from "node:assert/strict";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { createTailReader } from "../../../lib/log/reader.ts";
import { createRecent } from "../../../lib/log/recent.ts";
import { createLogServer, type LogServerOptions } from "../../../lib/log/server.ts";
import { UnavailableError } from "../../../lib/std/errors.ts";
import { listen } from "../../../lib/std/listen.ts";
import { goTimestamp } from "../../../lib/std/log.ts";
import { request } from "../../../lib/std/request.ts";
import { postEntries } from "../../support/log.ts";
import { tempDir } from "../../support/temp.ts";

async function start(t: TestContext, options: Partial<LogServerOptions> & { now?: () => Date }) {
  const dir = await tempDir(t, "logsearch-test");
  const file = join(dir, "test.log");
  const server = await createLogServer({ file, log: () => {}, ...options });
  const listening = await listen(server.handler, { host: "127.0.0.1", port: 0 });
  t.after(async () => {
    await listening.close(0);
    await server.close();
  });
  const get = async (query: string) => {
    const response = await request(`${listening.url}/log?${query}`,
      { maxResponseBytes: 16 << 20 });
    assert.equal(response.status, 200, response.text());
    return response.text();
  };
  return { url: listening.url, dir, file, server, get };
}

const lines = (text: string) => (text === "" ? [] : text.trimEnd().split("\n"));

describe("log service GET /log filters", () => {
  it("picks by service, contains, since and until, newest `lines` of them", async (t) => {
    let clock = new Date(2026, 10, 25, 14, 0, 0);
    const { url, get } = await start(t, { now: () => clock });
    for (let minute = 0; minute < 6; minute++) {
      clock = new Date(2026, 10, 25, 14, minute, 0);
      const service = minute % 2 === 0 ? "GradingService" : "TeacherPortal";
      await postEntries(url, [`[${service}] - event ${minute}`, `plain ${minute}`]);
    }
    const stamp = (minute: number) => goTimestamp(new Date(2026, 10, 25, 14, minute, 0));
    const iso = (minute: number) => new Date(2026, 10, 25, 14, minute, 0).toISOString();
    assert.deepEqual(lines(await get("service=GradingService")),
      [0, 2, 4].map((m) => `go ${stamp(m)} [GradingService] - event ${m}`));
    assert.deepEqual(lines(await get("service=TeacherPortal&lines=1")),
      [`go ${stamp(5)} [TeacherPortal] - event 5`]);
    assert.deepEqual(lines(await get("contains=plain%203")), [`go ${stamp(3)} plain 3`]);
    assert.deepEqual(lines(await get(`since=${iso(4)}&contains=plain`)),
      [`go ${stamp(4)} plain 4`, `go ${stamp(5)} plain 5`]);
    assert.deepEqual(lines(await get(`until=${iso(0)}`)),
      [`go ${stamp(0)} [GradingService] - event 0`, `go ${stamp(0)} plain 0`]);
    assert.deepEqual(lines(await get(`since=${iso(2)}&until=${iso(3)}&service=TeacherPortal`)),
      [`go ${stamp(3)} [TeacherPortal] - event 3`]);
    assert.deepEqual(lines(await get("service=Nobody")), []);
  });

  it("answers 400 naming the parameter for a bad value", async (t) => {
    const { url } = await start(t, {});
    for (const [query, message] of [
      ["since=yesterday", /since: want an RFC 3339 date-time/],
      ["until=2026-13-01T00:00:00Z", /until: want an RFC 3339/],
      ["follow=2", /follow: want 1, 0, true or false/],
      ["service=", /service: want 1 to 1024 characters/],
    ] as const) {
      const response = await request(`${url}/log?${query}`);
      assert.equal(response.status, 400, query);
      assert.match(String((response.json() as { error?: unknown }).error), message);
    }
  });

  it("reads past the entries kept in memory into the file, whole lines only", async (t) => {
    const { url, get } = await start(t, { recentBytes: 256, now: () => new Date(2026, 0, 1) });
    const all = Array.from({ length: 300 }, (_, i) => `entry ${i} ${"x".repeat(i % 50)}`);
    for (let i = 0; i < all.length; i += 10) await postEntries(url, all.slice(i, i + 10));
    const got = lines(await get("lines=10000")).map((line) => line.slice(23));
    assert.deepEqual(got, all);
    assert.deepEqual(lines(await get("contains=entry%2017%20")).map((l) => l.slice(23)),
      [all[17]]);
  });

  it("reads lines longer than a read chunk whole, and drops a torn last line", async (t) => {
    const dir = await tempDir(t, "logsearch-long");
    const file = join(dir, "long.log");
    const long = `go 2026/01/01 00:00:00 ${"y".repeat(600 * 1024)}`;
    await writeFile(file, `go 2026/01/01 00:00:00 first\n${long}\ngo 2026/01/01 00:00:01 ` +
      `after\n${"z".repeat(300 * 1024)}`);
    const { get } = await start(t, { file });
    assert.deepEqual(lines(await get("lines=3")), ["go 2026/01/01 00:00:00 first", long,
      "go 2026/01/01 00:00:01 after"]);
    assert.deepEqual(lines(await get("contains=first")), ["go 2026/01/01 00:00:00 first"]);
  });

  it("reads a file written before it started", async (t) => {
    const dir = await tempDir(t, "logsearch-old");
    const file = join(dir, "old.log");
    await writeFile(file, "go 2026/01/01 00:00:00 [Old] - one\ngo 2026/01/01 00:00:01 two\n");
    const { get } = await start(t, { file });
    assert.deepEqual(lines(await get("service=Old")), ["go 2026/01/01 00:00:00 [Old] - one"]);
  });
});

describe("log service rotation", () => {
  it("rotates at --max-bytes into FILE.1 … FILE.keep, whole entries, oldest dropped", async (t) => {
    const { url, dir, file, get } = await start(t, { maxBytes: 300, keep: 2,
      recentBytes: 64, now: () => new Date(2026, 0, 1) });
    const all = Array.from({ length: 60 }, (_, i) => `entry ${String(i).padStart(2, "0")}`);
    for (const entry of all) await postEntries(url, [entry]);
    assert.deepEqual((await readdir(dir)).sort(), ["test.log", "test.log.1", "test.log.2"]);
    const kept = [];
    for (const name of [`${file}.2`, `${file}.1`, file]) {
      const text = await readFile(name, "utf8");
      assert.ok(text === "" || text.endsWith("\n"), `${name} ends with a whole entry`);
      assert.ok(Buffer.byteLength(text) < 300 + 40, `${name} is about --max-bytes`);
      kept.push(...lines(text).map((line) => line.slice(23)));
    }
    assert.deepEqual(kept, all.slice(-kept.length), "the newest entries, in order, none split");
    assert.ok(kept.length >= 2 * (300 / 32), `${kept.length} kept`);
    // A read spans the rotated files, newest last.
    assert.deepEqual(lines(await get("lines=10000")).map((line) => line.slice(23)), kept);
  });

  it("never rotates with --max-bytes 0", async (t) => {
    const { url, dir } = await start(t, { maxBytes: 0 });
    for (let i = 0; i < 20; i++) await postEntries(url, ["x".repeat(100)]);
    assert.deepEqual(await readdir(dir), ["test.log"]);
  });
});

describe("tail reader", () => {
  it("runs a few reads at once, queues some and refuses the rest with 503", async () => {
    const recent = createRecent(1_000);
    recent.add(Buffer.from("go 2026/01/01 00:00:00 a\n"), 0, 0);
    const reader = createTailReader({ file: "/nonexistent/none.log", prefix: "go ", recent,
      keep: 1, position: () => ({ size: 25, generation: 0 }), concurrency: 1, maxWaiting: 1 });
    const query = { lines: 1, follow: false };
    const answers: string[] = [];
    const read = () => reader.read(query, (data) => answers.push(data.toString()));
    const results = await Promise.allSettled([read(), read(), read()]);
    assert.deepEqual(results.map((result) => result.status), ["fulfilled", "fulfilled",
      "rejected"]);
    const refused = results[2];
    assert.ok(refused?.status === "rejected" && refused.reason instanceof UnavailableError);
    assert.match(String(refused.reason), /too many readers/);
    assert.deepEqual(answers, ["go 2026/01/01 00:00:00 a\n", "go 2026/01/01 00:00:00 a\n"]);
  });
});
