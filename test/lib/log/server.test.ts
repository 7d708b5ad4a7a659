import assert from "node:assert/strict";
import { readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { describe, it, type TestContext } from "node:test";
import { createLogServer, type LogServerOptions } from "../../../lib/log/server.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request, type RequestOptions } from "../../../lib/std/request.ts";
import { tempDir } from "../../support/temp.ts";
import { eventually } from "../../support/wait.ts";

const when = new Date(2026, 10, 25, 14, 40, 27);
const stamp = "2026/11/25 14:40:27";

interface Started {
  url: string;
  file: string;
  logs: string[];
  server: Awaited<ReturnType<typeof createLogServer>>;
}

// Every suite runs twice: POST /log through node:http alone, and through the fast path in
// front of it (as the service runs), which must answer everything the same way.
async function startServer(t: TestContext, options: Partial<LogServerOptions>,
  fast: boolean): Promise<Started> {
  const dir = await tempDir(t, "logserver-test");
  const file = options.file ?? join(dir, "test.log");
  const logs: string[] = [];
  const server = await createLogServer({
    now: () => when,
    log: (message) => logs.push(message),
    ...options,
    file,
  });
  const listening = await listen(server.handler, { host: "127.0.0.1", port: 0,
    ...(fast ? { fastPath: server.fastPath } : {}) });
  t.after(async () => {
    await listening.close(0);
    await server.close();
  });
  return { url: listening.url, file, logs, server };
}

const post = (url: string, body: string, type = "text/plain", options: RequestOptions = {}) =>
  request(`${url}/log`, { method: "POST", headers: { "Content-Type": type }, body, ...options });

const json = "application/json";

function suites(fast: boolean): void {
  const mode = fast ? " (fast path)" : "";
  const start = (t: TestContext, options: Partial<LogServerOptions> = {}) =>
    startServer(t, options, fast);

  describe(`log service POST /log${mode}`, () => {
    it("appends a text entry in the Go format and answers 200", async (t) => {
      const { url, file, server } = await start(t);
      const response = await post(url, "hello from curl\n");
      assert.equal(response.status, 200);
      assert.equal(await readFile(file, "utf8"), `go ${stamp} hello from curl\n`);
      assert.equal(server.entries, 1);
      assert.ok(server.fsyncs >= 1);
    });

    it("appends a JSON batch in order, one line per string", async (t) => {
      const { url, file } = await start(t, { prefix: "svc: " });
      const response = await post(url, JSON.stringify(["one", "two\nforged", "three"]), json);
      assert.equal(response.status, 200);
      assert.equal(
        await readFile(file, "utf8"),
        `svc: ${stamp} one\nsvc: ${stamp} two\\nforged\nsvc: ${stamp} three\n`,
      );
    });

    it("takes JSON only with a JSON content type, parameters allowed", async (t) => {
      const { url, file } = await start(t);
      assert.equal((await post(url, '["a"]', "application/json; charset=utf-8")).status, 200);
      assert.equal((await post(url, '["b"]', "text/plain")).status, 200);
      assert.equal((await post(url, "c", "application/x-www-form-urlencoded")).status, 200);
      const text = await readFile(file, "utf8");
      assert.equal(text, `go ${stamp} a\ngo ${stamp} ["b"]\ngo ${stamp} c\n`);
    });

    it("never lets one request forge a second entry", async (t) => {
      const { url, file } = await start(t);
      await post(url, `a\ngo ${stamp} forged\r\u0000\u2028end\n`);
      const text = await readFile(file, "utf8");
      assert.equal(text.split("\n").length, 2, "one line and the final newline");
      assert.equal(text, `go ${stamp} a\\ngo ${stamp} forged\\r\\u0000\\u2028end\n`);
    });

    it("shares fsyncs between concurrent requests (group commit)", async (t) => {
      const { url, file, server } = await start(t);
      const count = 200;
      const responses = await Promise.all(
        Array.from({ length: count }, (_, i) => post(url, `entry ${i}`)),
      );
      assert.ok(responses.every((r) => r.status === 200));
      assert.equal(server.entries, count);
      // How many share one is make bench's question; sink.test.ts pins the rule down.
      assert.ok(server.fsyncs < count, `${server.fsyncs} fsyncs for ${count} entries`);
      const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
      assert.equal(lines.length, count);
      assert.deepEqual(
        new Set(lines),
        new Set(Array.from({ length: count }, (_, i) => `go ${stamp} entry ${i}`)),
      );
    });

    it("answers 500, never 200, when the write fails (full disk), and logs it", async (t) => {
      const { url, logs } = await start(t, { file: "/dev/full" });
      const responses = await Promise.all([post(url, "a"), post(url, '["b","c"]', json)]);
      for (const response of responses) {
        assert.equal(response.status, 500);
        assert.deepEqual(response.json(),
          { error: "log: entry not stored: write failed (ENOSPC)" });
      }
      const rounds = logs.filter((line) => line.startsWith("log sink: "));
      assert.ok(rounds.length >= 1 && rounds.length <= 2, "one report per failed round");
      const requests = logs.filter((line) => line.startsWith("POST /log: 500 "));
      assert.equal(requests.length, 2, "and one line per refused request");
      assert.match(logs[0] ?? "", /not written to \/dev\/full.*ENOSPC/);
    });
  });

  describe(`log service bad input${mode}`, () => {
    const big = "x".repeat(64 * 1024 + 1);
    const allow = "POST, GET, HEAD";
    interface Case {
      method?: string;
      path?: string;
      type?: string;
      body?: string;
      allow?: string;
    }
    // [what, status, error message, request]; the request defaults to a text POST /log.
    const cases: Array<[string, number, RegExp, Case]> = [
      ["an empty text body", 400, /empty body/, { body: "" }],
      ["only newlines", 400, /empty entry/, { body: "\n\r\n" }],
      ["an empty JSON body", 400, /empty body/, { type: json, body: "" }],
      ["malformed JSON", 400, /malformed JSON/, { type: json, body: '["a",' }],
      ["a JSON object", 400, /array of strings, got an object/, { type: json, body: '{"a":1}' }],
      ["a JSON string", 400, /got a string/, { type: json, body: '"a"' }],
      ["JSON null", 400, /got null/, { type: json, body: "null" }],
      ["an empty array", 400, /empty array/, { type: json, body: "[]" }],
      ["a number element", 400, /element 1: want a string, got a number/, {
        type: json,
        body: '["a",1]',
      }],
      ["a null element", 400, /element 1: want a string, got null/, {
        type: json,
        body: '["a",null]',
      }],
      ["a nested array", 400, /element 0: want a string, got an array/, {
        type: json,
        body: '[["a"]]',
      }],
      ["an empty element", 400, /element 1: empty entry/, { type: json, body: '["a","\\n"]' }],
      ["a body over 64 KiB", 413, /larger than 65536 bytes/, { body: big }],
      ["a JSON body over 64 KiB", 413, /larger than/, { type: json, body: JSON.stringify([big]) }],
      ["PUT", 405, /method PUT not allowed/, { method: "PUT", body: "x", allow }],
      ["DELETE", 405, /method DELETE not allowed/, { method: "DELETE", allow }],
      ["an unknown path", 404, /no such path: \/logs/, { method: "GET", path: "/logs" }],
      ["a sub-path", 404, /no such path/, { path: "/log/x", body: "x" }],
      ["lines=0", 400, /lines: want an integer from 1 to 10000, got "0"/, {
        method: "GET",
        path: "/log?lines=0",
      }],
      ["lines=abc", 400, /got "abc"/, { method: "GET", path: "/log?lines=abc" }],
      ["lines=10001", 400, /got "10001"/, { method: "GET", path: "/log?lines=10001" }],
      ["lines=-1", 400, /got "-1"/, { method: "GET", path: "/log?lines=-1" }],
      ["lines=1.5", 400, /got "1.5"/, { method: "GET", path: "/log?lines=1.5" }],
      ["an empty lines", 400, /got ""/, { method: "GET", path: "/log?lines=" }],
    ];

    for (const [what, status, error, c] of cases) {
      it(`answers ${status} to ${what}, logs it once and changes nothing`, async (t) => {
        const { url, file, logs, server } = await start(t);
        assert.equal((await post(url, "before")).status, 200);
        const before = await readFile(file, "utf8");
        const response = await request(`${url}${c.path ?? "/log"}`, {
          method: c.method ?? "POST",
          headers: { "Content-Type": c.type ?? "text/plain" },
          ...(c.body === undefined ? {} : { body: c.body }),
        });
        assert.equal(response.status, status);
        assert.match(String(response.headers["content-type"]), /^application\/json/);
        const body = response.json() as { error?: unknown };
        assert.equal(typeof body.error, "string");
        assert.match(String(body.error), error);
        if (c.allow) assert.equal(response.headers["allow"], c.allow);
        assert.equal(logs.length, 1, `logged once: ${JSON.stringify(logs)}`);
        assert.match(logs[0] ?? "", new RegExp(`: ${status} `));
        assert.equal(await readFile(file, "utf8"), before);
        assert.equal(server.entries, 1);
        // The service still works afterwards.
        assert.equal((await post(url, "after")).status, 200);
      });
    }
  });

  describe(`log service streamed bodies${mode}`, () => {
    it("answers 413 to a chunked body growing past 64 KiB and closes the connection", async (t) => {
      const { url, file, logs } = await start(t);
      const req = httpRequest(`${url}/log`, { method: "POST", agent: false });
      const answered = once(req, "response") as Promise<[IncomingMessage]>;
      req.on("error", () => {}); // the server may close while we still write
      for (let i = 0; i < 20; i++) req.write("y".repeat(8 * 1024));
      req.end();
      const [res] = await answered;
      const body = (await res.toArray()).join("");
      assert.equal(res.statusCode, 413);
      assert.equal(res.headers["connection"], "close");
      assert.match(body, /larger than 65536 bytes/);
      assert.equal(await readFile(file, "utf8"), "");
      assert.equal(logs.length, 1);
    });

    it("writes nothing when the client goes away mid-body", async (t) => {
      const { url, file, logs } = await start(t);
      const req = httpRequest(`${url}/log`, {
        method: "POST",
        agent: false,
        headers: { "Content-Length": "1000" },
      });
      req.on("error", () => {});
      // Headers and part of the body reach the socket, then the client is gone.
      await new Promise<void>((resolve) => req.write("only part of it", () => resolve()));
      req.destroy();
      await eventually(() => (logs.length === 1 ? true : undefined), 5_000, "the 400 logged");
      assert.match(logs[0] ?? "", /400 request body: connection aborted/);
      assert.equal(await readFile(file, "utf8"), "");
      assert.equal((await post(url, "still fine")).status, 200);
    });
  });

  describe(`log service GET /log${mode}`, () => {
    it("answers the last N entries as text", async (t) => {
      const { url } = await start(t);
      await post(url, JSON.stringify(["1", "2", "3", "4"]), json);
      const response = await request(`${url}/log?lines=2`);
      assert.equal(response.status, 200);
      assert.match(String(response.headers["content-type"]), /^text\/plain/);
      assert.equal(response.text(), `go ${stamp} 3\ngo ${stamp} 4\n`);
      assert.equal((await request(`${url}/log?lines=10`)).text().split("\n").length, 5);
    });

    it("answers the last 100 by default", async (t) => {
      const { url } = await start(t);
      const all = Array.from({ length: 150 }, (_, i) => `m${i}`);
      await post(url, JSON.stringify(all), json);
      const lines = (await request(`${url}/log`)).text().trimEnd().split("\n");
      assert.equal(lines.length, 100);
      assert.equal(lines[0], `go ${stamp} m50`);
      assert.equal(lines[99], `go ${stamp} m149`);
    });

    it("answers an empty body for an empty file", async (t) => {
      const { url } = await start(t);
      const response = await request(`${url}/log?lines=5`);
      assert.equal(response.status, 200);
      assert.equal(response.text(), "");
    });

    it("reads the tail of a large file across chunk boundaries, skipping a torn line",
      async (t) => {
      const dir = await tempDir(t, "logserver-tail");
      const file = join(dir, "big.log");
      // 30 000 lines of varying length (about 2 MB), then a torn line from a crash.
      const lines = Array.from({ length: 30_000 }, (_, i) => `go line ${i} ${"x".repeat(i % 97)}`);
      await writeFile(file, `${lines.join("\n")}\ngo torn`);
      const { url } = await start(t, { file });
      for (const n of [1, 7, 1_000, 10_000]) {
        const text = (await request(`${url}/log?lines=${n}`, { maxResponseBytes: 4 << 20 })).text();
        assert.equal(text, `${lines.slice(-n).join("\n")}\n`, `lines=${n}`);
      }
      // New entries start on their own line after the torn one and are served.
      await post(url, "fresh");
      const tail = (await request(`${url}/log?lines=3`)).text();
      assert.equal(tail, `${lines.at(-1)}\ngo torn\ngo ${stamp} fresh\n`);
    });

    it("keeps appending when the file is truncated from outside (copytruncate)", async (t) => {
      const { url, file } = await start(t);
      await post(url, JSON.stringify(["old 1", "old 2"]), json);
      await truncate(file, 0);
      assert.equal((await post(url, "new")).status, 200);
      assert.equal(await readFile(file, "utf8"), `go ${stamp} new\n`);
      assert.equal((await request(`${url}/log?lines=1`)).text(), `go ${stamp} new\n`);
    });

    it("returns every entry when the file has fewer than asked", async (t) => {
      const dir = await tempDir(t, "logserver-few");
      const file = join(dir, "few.log");
      await writeFile(file, "\nfirst\nsecond\n");
      const { url } = await start(t, { file });
      assert.equal((await request(`${url}/log?lines=50`)).text(), "\nfirst\nsecond\n");
      assert.equal((await request(`${url}/log?lines=3`)).text(), "\nfirst\nsecond\n");
      assert.equal((await request(`${url}/log?lines=2`)).text(), "first\nsecond\n");
    });
  });
}

suites(false);
suites(true);
