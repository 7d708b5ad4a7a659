import assert from "node:assert/strict";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { describe, it, type TestContext } from "node:test";
import {
  HttpError,
  maxBodyBytes,
  readJSON,
  readText,
  sendError,
  sendJSON,
  sendText,
  type Handler,
} from "../../../lib/std/http.ts";
import { describeError } from "../../../lib/std/errors.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request } from "../../../lib/std/request.ts";
import { deadURL } from "../../support/temp.ts";
import { deferred } from "../../support/wait.ts";

async function serve(t: TestContext, handler: Handler): Promise<string> {
  const listening = await listen(handler, { host: "127.0.0.1" });
  t.after(() => listening.close(0));
  return listening.url;
}

/** Echoes the parsed JSON body, or answers the error. */
const echoJSON: Handler = async (req, res) => {
  try {
    sendJSON(res, 200, { got: await readJSON(req, { limit: 100 }) });
  } catch (error) {
    sendError(res, error);
  }
};

/** Sends a body in chunks without Content-Length; resolves with status, headers and body. */
function streamed(
  url: string,
  chunks: string[],
): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", agent: false }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // The server may answer 413 and close before every chunk is written.
    req.on("error", reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe("body readers", () => {
  it("parse JSON within the limit", async (t) => {
    const url = await serve(t, echoJSON);
    const response = await request(url, { method: "POST", body: '{"a":[1,2]}' });
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), { got: { a: [1, 2] } });
  });

  it("answer 413 from a declared Content-Length before reading, and close", async (t) => {
    let read = false;
    const url = await serve(t, async (req, res) => {
      try {
        await readText(req, { limit: 10 });
        read = true;
      } catch (error) {
        sendError(res, error);
      }
    });
    const response = await request(url, { method: "POST", body: "x".repeat(11) });
    assert.equal(response.status, 413);
    assert.equal(response.headers.connection, "close");
    assert.deepEqual(response.json(), { error: "request body larger than 10 bytes" });
    assert.equal(read, false);
  });

  it("answer 413 to a streamed body once it passes the limit", async (t) => {
    const url = await serve(t, echoJSON);
    const response = await streamed(url, ['{"a":"', "y".repeat(60), "z".repeat(60), '"}']);
    assert.equal(response.status, 413);
    assert.match(response.body, /larger than 100 bytes/);
  });

  it("default to a 64 KiB limit", async (t) => {
    const url = await serve(t, async (req, res) => {
      try {
        sendText(res, 200, String((await readText(req)).length));
      } catch (error) {
        sendError(res, error);
      }
    });
    const fits = await request(url, { method: "POST", body: "a".repeat(maxBodyBytes) });
    assert.equal(fits.text(), String(64 * 1024));
    const over = await request(url, { method: "POST", body: "a".repeat(maxBodyBytes + 1) });
    assert.equal(over.status, 413);
  });

  const bad: Array<[string, string, RegExp]> = [
    ["an empty body", "", /request body: empty, expected JSON/],
    ["only whitespace", " \n", /empty/],
    ["malformed JSON", '{"a":', /^request body: malformed JSON: /],
  ];
  for (const [what, body, message] of bad) {
    it(`answer 400 to ${what}`, async (t) => {
      const url = await serve(t, echoJSON);
      const response = await request(url, { method: "POST", body });
      assert.equal(response.status, 400);
      assert.match((response.json() as { error: string }).error, message);
    });
  }

  it("turn a body cut short by the client into HttpError 400", async (t) => {
    let failure: unknown;
    const seen = deferred();
    const reading = deferred();
    const url = await serve(t, async (req) => {
      reading.resolve();
      try {
        await readText(req);
      } catch (error) {
        failure = error;
        seen.resolve();
      }
    });
    const headers = { "Content-Length": 100 };
    const req = httpRequest(url, { method: "POST", agent: false, headers });
    req.on("error", () => {});
    req.write("only a part");
    // Hang up once the server is reading the body.
    await reading.promise;
    req.destroy();
    await seen.promise;
    assert.ok(failure instanceof HttpError);
    assert.equal(failure.status, 400);
    assert.equal(failure.message, "request body: connection aborted");
  });
});

describe("answers", () => {
  it("set content types and lengths", async (t) => {
    const url = await serve(t, (req, res) => {
      if (req.url === "/json") sendJSON(res, 201, { ok: "ü" });
      else sendText(res, 202, "ü");
    });
    const json = await request(`${url}/json`);
    assert.equal(json.status, 201);
    assert.equal(json.headers["content-type"], "application/json; charset=utf-8");
    assert.equal(json.headers["content-length"], String(Buffer.byteLength('{"ok":"ü"}')));
    const text = await request(`${url}/text`);
    assert.equal(text.status, 202);
    assert.equal(text.headers["content-type"], "text/plain; charset=utf-8");
  });

  it("sendError keeps an HttpError's status, headers and message", async (t) => {
    const url = await serve(t, (_req, res) =>
      sendError(res, new HttpError(405, "no", { headers: { Allow: "GET" } })),
    );
    const response = await request(url);
    assert.equal(response.status, 405);
    assert.equal(response.headers.allow, "GET");
    assert.deepEqual(response.json(), { error: "no" });
  });

  it("sendError answers 500 with a generic message and logs the real one", async (t) => {
    const logged: string[] = [];
    const url = await serve(t, (_req, res) =>
      sendError(res, new Error("db password is hunter2"), (line) => logged.push(line)),
    );
    const response = await request(url);
    assert.equal(response.status, 500);
    assert.deepEqual(response.json(), { error: "internal server error" });
    assert.deepEqual(logged, ["internal error: db password is hunter2"]);
  });

  it("sendError destroys the connection when the headers are already out", async (t) => {
    const url = await serve(t, (_req, res) => {
      res.writeHead(200, { "Content-Length": 100 });
      res.write("partial");
      sendError(res, new Error("late failure"));
    });
    await assert.rejects(request(url), { code: "ECONNRESET" });
  });
});

describe("describeError", () => {
  it("joins messages, codes and causes on one line", () => {
    const root = Object.assign(new Error("connect refused"), { code: "ECONNREFUSED" });
    const error = new Error("register", { cause: new Error("POST failed", { cause: root }) });
    assert.equal(describeError(error), "register: POST failed: connect refused (ECONNREFUSED)");
    assert.equal(describeError("plain"), "plain");
    assert.equal(describeError(new Error("a", { cause: 42 })), "a: 42");
  });

  it("names each error code once, and not when a message already says it", async () => {
    const coded = (message: string, code: string, cause?: unknown) =>
      Object.assign(new Error(message, cause === undefined ? {} : { cause }), { code });
    assert.equal(describeError(coded("a", "EX", coded("b", "EX"))), "a: b (EX)");
    assert.equal(describeError(coded("a", "EX", coded("b", "EY"))), "a (EX): b (EY)");
    assert.equal(describeError(coded("write EPIPE", "EPIPE")), "write EPIPE");
    const url = await deadURL();
    const refused = await request(url).then(() => undefined, (error: unknown) => error);
    const line = describeError(refused);
    assert.match(line, /^GET failed: http:\/\/.*: connect ECONNREFUSED /);
    assert.equal(line.split("ECONNREFUSED").length - 1, 1, line);
  });

  it("stops after four levels", () => {
    let error: unknown = "bottom";
    for (let i = 0; i < 6; i++) error = new Error(`level ${i}`, { cause: error });
    assert.equal(describeError(error).split(": ").length, 4);
  });
});
