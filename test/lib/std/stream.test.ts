import assert from "node:assert/strict";
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { openStream } from "../../../lib/std/stream.ts";
import { serve } from "../../support/serve.ts";
import { deadURL } from "../../support/temp.ts";
import { deferred } from "../../support/wait.ts";

describe("openStream", () => {
  it("resolves at the headers and leaves a never-ending body to the reader", async (t) => {
    const answering = deferred<ServerResponse>();
    const url = await serve(t, (req, res) => {
      res.writeHead(200, { "Content-Type": "text/plain", "X-Seen": req.headers["x-ask"] ?? "" });
      res.write("first\n");
      answering.resolve(res);
    });
    const stream = await openStream(`${url}/follow`, { headers: { "X-Ask": "yes" } });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers["x-seen"], "yes");
    stream.body.setEncoding("utf8");
    const [first] = (await once(stream.body, "data")) as [string];
    assert.equal(first, "first\n");
    const server = await answering.promise;
    server.write("second\n");
    const [second] = (await once(stream.body, "data")) as [string];
    assert.equal(second, "second\n");
    stream.body.destroy();
  });

  it("destroys the body when the caller aborts while it streams", async (t) => {
    const url = await serve(t, (_req, res) => void res.writeHead(200).write("x"));
    const controller = new AbortController();
    const stream = await openStream(url, { signal: controller.signal });
    const failed = once(stream.body, "error");
    stream.body.resume();
    controller.abort();
    const [error] = (await failed) as [{ code?: string }];
    assert.equal(error.code, "EABORTED");
    assert.equal(stream.body.destroyed, true);
  });

  it("fails a body whose signal timed out with ETIMEDOUT", async (t) => {
    const url = await serve(t, (_req, res) => void res.writeHead(200).write("x"));
    const stream = await openStream(url, { signal: AbortSignal.timeout(50) });
    stream.body.resume();
    const [error] = (await once(stream.body, "error")) as [{ code?: string }];
    assert.equal(error.code, "ETIMEDOUT");
  });

  it("rejects with EABORTED, ETIMEDOUT or the connection error when no answer came", async (t) => {
    const silent = await serve(t, () => undefined);
    await assert.rejects(openStream(silent, { timeoutMs: 50 }), { code: "ETIMEDOUT" });
    const controller = new AbortController();
    const pending = openStream(silent, { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, { code: "EABORTED" });
    await assert.rejects(openStream(silent, { signal: AbortSignal.abort() }), {
      code: "EABORTED",
    });
    await assert.rejects(openStream(await deadURL()), { code: "ECONNREFUSED" });
    await assert.rejects(openStream("http://127.0.0.1:99999/"), { code: "EINVAL" });
  });
});
