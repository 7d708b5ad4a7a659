import assert from "node:assert/strict";
import { once } from "node:events";
import { Agent } from "node:http";
import { connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import { sendText, type Handler } from "../../../lib/std/http.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request } from "../../../lib/std/request.ts";
import { deferred } from "../../support/wait.ts";

/** A handler whose `/slow` requests wait until released. */
function gated() {
  const released = deferred();
  const inside = deferred();
  const handler: Handler = async (req, res) => {
    if (req.url === "/slow") {
      inside.resolve();
      await released.promise;
    }
    sendText(res, 200, `done ${req.url ?? ""}`);
  };
  return { handler, release: () => released.resolve(), inside: inside.promise };
}

/** Reads from a raw socket until `count` HTTP responses (with Content-Length) are complete. */
async function readResponses(socket: Socket, count: number): Promise<string> {
  let text = "";
  for await (const chunk of socket) {
    text += (chunk as Buffer).toString("utf8");
    if ((text.match(/HTTP\/1\.1 /g) ?? []).length >= count && /\r\n\r\n[^]*$/.test(text)) {
      const last = text.lastIndexOf("HTTP/1.1 ");
      const head = text.slice(last);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      const bodyStart = head.indexOf("\r\n\r\n");
      if (bodyStart >= 0 && head.length - bodyStart - 4 >= length) break;
    }
  }
  return text;
}

describe("listen", () => {
  it("advertises the real port, and IPv6 hosts in brackets", async (t) => {
    const listening = await listen(() => {}, { host: "127.0.0.1" });
    t.after(() => listening.close(0));
    const port = (listening.server.address() as { port: number }).port;
    assert.equal(listening.url, `http://127.0.0.1:${port}`);
    assert.notEqual(port, 0);
    let v6;
    try {
      v6 = await listen(() => {}, { host: "::1" });
    } catch {
      t.diagnostic("no IPv6 loopback here");
      return;
    }
    t.after(() => v6.close(0));
    assert.match(v6.url, /^http:\/\/\[::1\]:\d+$/);
  });

  it("rejects when the port is taken", async (t) => {
    const first = await listen(() => {}, { host: "127.0.0.1" });
    t.after(() => first.close(0));
    const port = (first.server.address() as { port: number }).port;
    await assert.rejects(listen(() => {}, { host: "127.0.0.1", port }), { code: "EADDRINUSE" });
  });

  it("answers 500 for handlers that throw or reject, and keeps serving", async (t) => {
    const logged: string[] = [];
    const listening = await listen(
      (req) => {
        if (req.url === "/sync") throw new Error("sync bug");
        return Promise.reject(new Error("async bug"));
      },
      { host: "127.0.0.1", log: (line) => logged.push(line) },
    );
    t.after(() => listening.close(0));
    for (const path of ["/sync", "/async"]) {
      const response = await request(`${listening.url}${path}`);
      assert.equal(response.status, 500);
      assert.deepEqual(response.json(), { error: "internal server error" });
    }
    assert.deepEqual(logged, ["internal error: sync bug", "internal error: async bug"]);
  });

  it("on close: finishes in-flight requests, 503s new ones on open connections", async () => {
    const gate = gated();
    const listening = await listen(gate.handler, { host: "127.0.0.1" });
    const port = (listening.server.address() as { port: number }).port;
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    await gate.inside;
    const closed = listening.close(2_000);
    assert.equal(listening.close(), closed, "a second close returns the same promise");
    // A request pipelined on the open connection after close began.
    socket.write("GET /late HTTP/1.1\r\nHost: x\r\n\r\n");
    gate.release();
    const text = await readResponses(socket, 2);
    assert.match(text, /^HTTP\/1\.1 200 OK[^]*done \/slow/);
    assert.match(text, /HTTP\/1\.1 503 Service Unavailable[^]*[Cc]onnection: close/);
    assert.match(text, /\{"error":"service is shutting down"\}/);
    await closed;
    // Not accepting any more.
    await assert.rejects(request(`${listening.url}/`, { agent: new Agent() }), {
      code: "ECONNREFUSED",
    });
    socket.destroy();
  });

  it("closes idle keep-alive connections at once, not after their timeout", async () => {
    const listening = await listen((_req, res) => sendText(res, 200, "ok"), {
      host: "127.0.0.1",
      keepAliveTimeoutMs: 60_000,
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const response = await request(listening.url, { agent });
    assert.equal(response.headers.connection, "keep-alive");
    const sockets = Object.values(agent.freeSockets).flat();
    assert.equal(sockets.length, 1);
    const socket = sockets[0] as Socket;
    // The agent unrefs idle sockets; keep the loop alive while waiting for this one.
    socket.ref();
    const socketClosed = once(socket, "close");
    const started = performance.now();
    await listening.close(30_000);
    await socketClosed;
    assert.ok(performance.now() - started < 5_000);
    agent.destroy();
  });

  it("cuts requests that outlive the grace period", async () => {
    const gate = gated();
    const listening = await listen(gate.handler, { host: "127.0.0.1" });
    const slow = request(`${listening.url}/slow`, { agent: new Agent() });
    await gate.inside;
    await listening.close(20);
    await assert.rejects(slow, { code: "ECONNRESET" });
    gate.release();
  });

  it("answers every response with nosniff", async (t) => {
    const server = await listen((_req, res) => sendText(res, 200, "<b>echo</b>"), {
      host: "127.0.0.1",
    });
    t.after(() => server.close());
    assert.equal((await request(server.url)).headers["x-content-type-options"], "nosniff");
  });

  it("cuts a client that sends its headers, or its body, one byte at a time", async (t) => {
    const reached: string[] = [];
    const server = await listen(async (req, res) => {
      reached.push(req.url ?? "");
      for await (const _chunk of req) {
        // The body trickles in; the request timeout ends it, not the handler.
      }
      sendText(res, 200, "whole");
    }, { host: "127.0.0.1", headersTimeoutMs: 300, requestTimeoutMs: 900 });
    t.after(() => server.close());
    const port = Number(new URL(server.url).port);

    /** Writes `head`, then one byte of `trickle` every 50 ms; resolves with what came back. */
    const slowClient = async (head: string, trickle: string) => {
      const socket = connect(port, "127.0.0.1");
      await once(socket, "connect");
      socket.write(head);
      let sent = 0;
      const timer = setInterval(() => {
        if (sent < trickle.length && !socket.destroyed) socket.write(trickle[sent++] ?? "");
      }, 50);
      let answer = "";
      socket.on("data", (chunk: Buffer) => (answer += chunk.toString("utf8")));
      // The server closes the connection: the event this test waits for.
      await once(socket, "close");
      clearInterval(timer);
      return { answer, sent, total: trickle.length };
    };

    // 2 000 header bytes would take 100 s at this pace.
    const headers = await slowClient("GET /headers HTTP/1.1\r\n", `X-Slow: ${"a".repeat(2_000)}`);
    assert.match(headers.answer, /^HTTP\/1\.1 408 /);
    assert.ok(headers.sent < headers.total, "cut before the headers were complete");
    assert.deepEqual(reached, [], "the handler never saw it");

    const body = await slowClient(
      "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n", "b".repeat(2_000));
    assert.match(body.answer, /^HTTP\/1\.1 408 /);
    assert.ok(body.sent < body.total, "cut before the body was complete");
    assert.deepEqual(reached, ["/body"]);
  });
});

