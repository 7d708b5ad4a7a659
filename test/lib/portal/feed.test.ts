import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it, type TestContext } from "node:test";
import { openEventStream } from "../../../lib/portal/events.ts";
import { createFeed } from "../../../lib/portal/feed.ts";
import { openStream } from "../../../lib/std/stream.ts";
import { serve } from "../../support/serve.ts";
import { createWaiters } from "../../support/wait.ts";

describe("createFeed", () => {
  it("runs one source for all subscribers, only while someone listens", async () => {
    const owner = new AbortController();
    const runs: Array<{ emit: (value: number) => void; signal: AbortSignal }> = [];
    const feed = createFeed<number>(async (emit, signal) => {
      runs.push({ emit, signal });
      await once(signal, "abort");
    }, owner.signal);
    const a: number[] = [];
    const b: number[] = [];
    const stopA = feed.subscribe((value) => a.push(value));
    assert.equal(runs.length, 1);
    runs[0]?.emit(1);
    const stopB = feed.subscribe((value) => b.push(value));
    assert.equal(runs.length, 1, "the second subscriber shares the run");
    runs[0]?.emit(2);
    assert.deepEqual(a, [1, 2]);
    assert.deepEqual(b, [1, 2], "a late subscriber gets the latest value at once");
    stopA();
    assert.equal(runs[0]?.signal.aborted, false);
    stopB();
    assert.equal(runs[0]?.signal.aborted, true, "stopped after the last one left");

    const c: number[] = [];
    const stopC = feed.subscribe((value) => c.push(value));
    assert.equal(runs.length, 2, "started again for a new subscriber");
    assert.deepEqual(c, [], "an idle feed forgets its stale value");
    runs[0]?.emit(99);
    assert.deepEqual(c, [], "a stopped run emits nothing");
    owner.abort();
    assert.equal(runs[1]?.signal.aborted, true, "the owner's abort stops it");
    stopC();
  });

  it("starts a run that ended again with the next subscriber", async () => {
    let runs = 0;
    const feed = createFeed<number>(async () => {
      runs += 1;
      throw new Error("source gone");
    }, new AbortController().signal);
    feed.subscribe(() => undefined)();
    await new Promise((resolve) => setImmediate(resolve));
    feed.subscribe(() => undefined)();
    assert.equal(runs, 2);
  });
});

async function eventServer(t: TestContext, options: { keepAliveMs?: number; max?: number } = {}) {
  const owner = new AbortController();
  t.after(() => owner.abort());
  const streams: Array<ReturnType<typeof openEventStream>> = [];
  const waiters = createWaiters();
  const url = await serve(t, (_req, res) => {
    streams.push(
      openEventStream(res, {
        signal: owner.signal,
        keepAliveMs: options.keepAliveMs ?? 60_000,
        maxBufferedBytes: options.max ?? 1024 * 1024,
        retryMs: 500,
      }),
    );
    waiters.wake();
  });
  const stream = (index: number) =>
    waiters.until(() => streams[index], 5_000, () => new Error("no stream"));
  return { url, owner, stream };
}

describe("openEventStream", () => {
  it("sends events as text/event-stream, one data line per line, and keep-alives", async (t) => {
    const server = await eventServer(t, { keepAliveMs: 20 });
    const client = await openStream(server.url);
    assert.equal(client.headers["content-type"], "text/event-stream; charset=utf-8");
    assert.equal(client.headers["x-content-type-options"], "nosniff");
    let text = "";
    const waiters = createWaiters();
    client.body.setEncoding("utf8");
    client.body.on("data", (chunk: string) => {
      text += chunk;
      waiters.wake();
    });
    const stream = await server.stream(0);
    stream.send("replace", "<p>one</p>\n<p>two</p>");
    const seen = (needle: string) =>
      waiters.until(() => (text.includes(needle) ? true : undefined), 5_000, () =>
        new Error(`not seen: ${needle} in ${text}`));
    await seen("event: replace\ndata: <p>one</p>\ndata: <p>two</p>\n\n");
    await seen(": keep-alive\n\n");
    assert.ok(text.startsWith("retry: 500\n\n"));
    const ended = once(client.body, "end");
    server.owner.abort();
    await ended;
    assert.equal(stream.signal.aborted, true);
    stream.send("after", "nothing");
  });

  it("ends the stream of a browser that stops reading", async (t) => {
    const server = await eventServer(t, { max: 64 * 1024 });
    const client = await openStream(server.url);
    client.body.pause();
    const stream = await server.stream(0);
    const big = "x".repeat(16 * 1024);
    for (let i = 0; i < 1_000 && !stream.signal.aborted; i++) stream.send("append", big);
    assert.equal(stream.signal.aborted, true, "the stream gave up on the slow reader");
    client.body.destroy();
  });

  it("ends when the browser leaves", async (t) => {
    const server = await eventServer(t);
    const client = await openStream(server.url);
    const stream = await server.stream(0);
    client.body.destroy();
    await once(stream.signal, "abort");
  });
});
