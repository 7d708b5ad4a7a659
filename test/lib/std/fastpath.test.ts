import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { describe, it, type TestContext } from "node:test";
import type { FastReply, FastRoute } from "../../../lib/std/fastpath.ts";
import { collectBody } from "../../../lib/std/http.ts";
import { listen, type ListenOptions } from "../../../lib/std/listen.ts";
import { createMetrics } from "../../../lib/std/metrics.ts";
import { createWaiters } from "../../support/wait.ts";

/**
 * A server with a fast `POST /log` route: the body `refuse` is left to node:http, `later` is
 * answered when released, anything else at once. The HTTP handler answers as the fast route
 * does (200, no body) and records what reached it.
 */
async function start(t: TestContext, options: ListenOptions = {}) {
  const taken: string[] = [];
  const reached: string[] = [];
  const held: FastReply[] = [];
  const waiters = createWaiters();
  const route: FastRoute = {
    method: "POST",
    path: "/log",
    limit: 1_000,
    take(_request, body, reply) {
      const text = body.toString();
      if (text === "refuse") return false;
      taken.push(text);
      if (text === "later") held.push(reply);
      else reply(200);
      waiters.wake();
      return true;
    },
  };
  const listening = await listen((req, res) => {
    collectBody(req, {}, (_error, body) => {
      reached.push(`${req.method ?? ""} ${req.url ?? ""} ${body.toString()}`);
      waiters.wake();
      res.writeHead(200, { "Content-Length": 0 });
      res.end();
    });
  }, { host: "127.0.0.1", fastPath: route, ...options });
  t.after(() => listening.close(0));
  const port = Number(new URL(listening.url).port);
  return { listening, port, taken, reached, held, waiters };
}

const post = (body: string, extra = "") =>
  `POST /log HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;

/** A raw client: what it sent is answered in `responses(n)` once n answers are complete. */
async function client(t: TestContext, port: number) {
  const socket: Socket = connect(port, "127.0.0.1");
  t.after(() => socket.destroy());
  await once(socket, "connect");
  let text = "";
  const waiters = createWaiters();
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
    waiters.wake();
  });
  socket.on("close", () => waiters.wake());
  const complete = () => text.split("HTTP/1.1 ").slice(1).filter((answer) => {
    const body = answer.indexOf("\r\n\r\n");
    const length = Number(/content-length: (\d+)/i.exec(answer)?.[1] ?? 0);
    return body !== -1 && answer.length - body - 4 >= length;
  });
  return {
    socket,
    responses: (count: number) => waiters.until(() => {
      const answers = complete();
      return answers.length >= count ? answers.map((answer) => `HTTP/1.1 ${answer}`) : undefined;
    }, 5_000, () => new Error(`client: ${count} answers expected, got: ${text}`)),
    closed: () => waiters.until(() => (socket.readableEnded || socket.destroyed ? text :
      undefined), 5_000, () => new Error(`client: still open, got: ${text}`)),
  };
}

const withoutDate = (answer: string) => answer.replace(/\r\nDate: [^\r]*/, "");

describe("listen with a fast path", () => {
  it("answers the route's requests itself, with the answer node:http gives", async (t) => {
    const { port, taken, reached } = await start(t);
    const { responses } = await client(t, port).then((c) => {
      c.socket.write(post("a") + post("b"));
      return c;
    });
    const [first, second] = await responses(2);
    assert.deepEqual(taken, ["a", "b"]);
    assert.deepEqual(reached, []);

    // The same request left to node:http, on a connection of its own.
    const other = await client(t, port);
    other.socket.write(post("refuse"));
    const [slow] = await other.responses(1);
    assert.deepEqual(reached, ["POST /log refuse"]);
    assert.ok(first && second && slow);
    assert.match(first, /^HTTP\/1\.1 200 OK\r\n.*\r\nDate: .* GMT\r\n/s);
    assert.equal(withoutDate(first), withoutDate(slow));
    assert.equal(withoutDate(second), withoutDate(slow));
  });

  it("keeps a connection's answers in order when it turns to node:http", async (t) => {
    const { port, taken, reached, held, waiters } = await start(t);
    const c = await client(t, port);
    c.socket.write(post("later") + post("refuse") + "GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
    await waiters.until(() => (held.length === 1 ? true : undefined), 5_000,
      () => new Error("the fast request was not taken"));
    assert.deepEqual(reached, [], "node:http waits for the fast answer before reading on");
    held[0]?.(200);
    const answers = await c.responses(3);
    assert.equal(answers.length, 3);
    assert.deepEqual(taken, ["later"]);
    assert.deepEqual(reached, ["POST /log refuse", "GET /other "]);
  });

  it("hands a request split across reads to node:http", async (t) => {
    const { listening, port, taken, reached } = await start(t);
    const c = await client(t, port);
    const whole = post("split");
    const handed = once(listening.server, "connection");
    c.socket.write(whole.slice(0, 30));
    await handed;
    c.socket.write(whole.slice(30));
    await c.responses(1);
    assert.deepEqual(taken, []);
    assert.deepEqual(reached, ["POST /log split"]);
  });

  it("answers 408 to a connection that sends nothing, and to a slow one handed on", async (t) => {
    const { port, reached } = await start(t, { headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const silent = await client(t, port);
    assert.match(await silent.closed(), /^HTTP\/1\.1 408 /);
    const slow = await client(t, port);
    slow.socket.write("POST /log HTTP/1.1\r\nHost: x\r\nX-Slow: aaa");
    assert.match(await slow.closed(), /^HTTP\/1\.1 408 /);
    assert.deepEqual(reached, []);
  });

  it("closes idle connections at close and lets a pending answer go out first", async (t) => {
    const { listening, port, held, waiters } = await start(t);
    const idle = await client(t, port);
    idle.socket.write(post("a"));
    await idle.responses(1);
    const busy = await client(t, port);
    busy.socket.write(post("later"));
    await waiters.until(() => (held.length === 1 ? true : undefined), 5_000,
      () => new Error("the fast request was not taken"));
    const closed = listening.close(5_000);
    await idle.closed();
    held[0]?.(200);
    assert.match(await busy.closed(), /^HTTP\/1\.1 200 OK/);
    await closed;
  });

  it("counts its answers and connections in the server's metrics", async (t) => {
    const metrics = createMetrics();
    const { port } = await start(t, { metrics });
    const c = await client(t, port);
    c.socket.write(post("a") + post("b"));
    await c.responses(2);
    const text = metrics.render();
    assert.match(text, /^http_requests_total\{method="POST",route="\/log",status="200"\} 2$/m);
    assert.match(text, /^http_request_duration_seconds_count\{method="POST",route="\/log"\} 2$/m);
    assert.match(text, /^http_open_connections 1$/m);
  });
});
