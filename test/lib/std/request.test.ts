import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { isConnectionError, request, RequestError } from "../../../lib/std/request.ts";

async function serve(t: TestContext, server: Server | ReturnType<typeof createNetServer>) {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    if ("closeAllConnections" in server) server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("request", () => {
  it("sends method, headers and body and reads the whole answer", async (t) => {
    const url = await serve(
      t,
      createHttpServer((req, res) => {
        let body = "";
        req.setEncoding("utf8");
        req.on("data", (chunk: string) => (body += chunk));
        req.on("end", () => {
          res.setHeader("Content-Type", "application/json");
          res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body }));
        });
      }),
    );
    const answer = await request(`${url}/x`, {
      method: "POST",
      headers: { Authorization: "Bearer t" },
      body: "héllo",
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { method: "POST", auth: "Bearer t", body: "héllo" });
  });

  it("fails with ETIMEDOUT when the peer accepts but never answers", async (t) => {
    const url = await serve(t, createHttpServer(() => {}));
    const started = Date.now();
    await assert.rejects(request(url, { timeoutMs: 100 }), (error: unknown) => {
      assert.ok(error instanceof RequestError);
      assert.equal(error.code, "ETIMEDOUT");
      assert.match(error.message, /timed out after 100 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 2_000);
  });

  it("fails with ETOOLARGE when the answer passes the cap", async (t) => {
    const url = await serve(t, createHttpServer((_req, res) => res.end("x".repeat(10_000))));
    await assert.rejects(request(url, { maxResponseBytes: 1_000 }), { code: "ETOOLARGE" });
  });

  it("fails with EABORTED when the caller aborts, before or during the request", async (t) => {
    const url = await serve(t, createHttpServer(() => {}));
    await assert.rejects(request(url, { signal: AbortSignal.abort() }), { code: "EABORTED" });
    const controller = new AbortController();
    const pending = request(url, { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, { code: "EABORTED" });
  });

  it("reports a refused connection as a connection error", async (t) => {
    const probe = createNetServer();
    const free = await serve(t, probe);
    probe.close();
    await once(probe, "close");
    const error = await request(free).catch((caught: unknown) => caught);
    assert.ok(isConnectionError(error), String(error));
    assert.equal((error as RequestError).code, "ECONNREFUSED");
    assert.equal(isConnectionError(new RequestError(free, "ETIMEDOUT", "x")), false);
  });

  it("sends once more on a fresh connection when the peer dropped the pooled one", async (t) => {
    // Answers the first request of each connection with keep-alive, then drops the connection
    // on its second request without a word: a stale pooled socket.
    let connections = 0;
    const url = await serve(
      t,
      createNetServer((socket) => {
        connections++;
        let requests = 0;
        socket.on("data", () => {
          requests++;
          if (requests > 1) socket.destroy();
          else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
      }),
    );
    assert.equal((await request(url)).text(), "ok");
    assert.equal((await request(url, { method: "POST", body: "again" })).text(), "ok");
    assert.equal(connections, 2);
  });
});
