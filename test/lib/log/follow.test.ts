import assert from "node:assert/strict";
import { once } from "node:events";
import { get as httpGet, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { createFollowers } from "../../../lib/log/follow.ts";
import { createLogServer, type LogServerOptions } from "../../../lib/log/server.ts";
import { listen } from "../../../lib/std/listen.ts";
import { postEntries } from "../../support/log.ts";
import { tempDir } from "../../support/temp.ts";
import { createWaiters, deferred, eventually } from "../../support/wait.ts";

const stamp = "go 2026/11/25 14:40:27 ";

async function start(t: TestContext, options: Partial<LogServerOptions> = {}) {
  const dir = await tempDir(t, "logfollow-test");
  const server = await createLogServer({ file: join(dir, "test.log"), log: () => {},
    now: () => new Date(2026, 10, 25, 14, 40, 27), ...options });
  const listening = await listen(server.handler, { host: "127.0.0.1", port: 0 });
  t.after(async () => {
    await listening.close(0);
    await server.close();
  });
  return { url: listening.url, server };
}

/** Opens `GET /log?<query>` and collects what arrives; `until` waits for text to arrive. */
async function follow(t: TestContext, url: string, query: string) {
  const waiters = createWaiters();
  const req = httpGet(`${url}/log?${query}`);
  req.on("error", () => {});
  const [res] = (await once(req, "response")) as [IncomingMessage];
  let text = "";
  let ended = false;
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    text += chunk;
    waiters.wake();
  });
  res.on("end", () => {
    ended = true;
    waiters.wake();
  });
  t.after(() => req.destroy());
  return {
    res,
    req,
    text: () => text,
    lines: () => text.split("\n").filter((line) => line !== "").map((l) => l.slice(stamp.length)),
    until: (what: string, check: () => boolean) =>
      waiters.until(() => (check() ? true : undefined), 5_000,
        () => new Error(`follow: ${what} did not arrive; got ${JSON.stringify(text)}`)),
    get ended() {
      return ended;
    },
  };
}

describe("log service GET /log?follow=1", () => {
  it("sends the tail, then every new entry as it is written", async (t) => {
    const { url } = await start(t);
    await postEntries(url, ["one", "two", "three"]);
    const followed = await follow(t, url, "follow=1&lines=2");
    assert.equal(followed.res.statusCode, 200);
    assert.match(String(followed.res.headers["content-type"]), /^text\/plain/);
    await followed.until("the tail", () => followed.lines().length >= 2);
    await postEntries(url, ["four"]);
    await postEntries(url, ["five", "six"]);
    await followed.until("new entries", () => followed.lines().length >= 5);
    assert.deepEqual(followed.lines(), ["two", "three", "four", "five", "six"]);
  });

  it("honours the filters", async (t) => {
    const { url } = await start(t);
    await postEntries(url, ["[A] - old", "[B] - old"]);
    const followed = await follow(t, url, "follow=1&service=A&contains=keep");
    await postEntries(url, ["[A] - keep 1", "[B] - keep", "[A] - drop", "plain keep"]);
    await postEntries(url, ["[A] - keep 2"]);
    await followed.until("the second match", () => followed.lines().includes("[A] - keep 2"));
    assert.deepEqual(followed.lines(), ["[A] - keep 1", "[A] - keep 2"]);
  });

  it("goes on across rotations, in order, none lost", async (t) => {
    const { url } = await start(t, { maxBytes: 200, keep: 1 });
    const followed = await follow(t, url, "follow=1");
    const all = Array.from({ length: 40 }, (_, i) => `entry ${i}`);
    for (const entry of all) await postEntries(url, [entry]);
    await followed.until("every entry", () => followed.lines().length >= all.length);
    assert.deepEqual(followed.lines(), all);
  });

  it("lets the follower go when the client leaves", async (t) => {
    const { url, server } = await start(t);
    const followed = await follow(t, url, "follow=1");
    assert.equal(server.followers, 1);
    followed.req.destroy();
    await eventually(() => (server.followers === 0 ? true : undefined), 5_000, "follower gone");
    await postEntries(url, ["after"]);
  });

  it("ends every follow answer when the service stops", async (t) => {
    const stop = new AbortController();
    const { url } = await start(t, { signal: stop.signal });
    const followed = await follow(t, url, "follow=1");
    await postEntries(url, ["before"]);
    await followed.until("the entry", () => followed.lines().length === 1);
    stop.abort();
    await followed.until("the end", () => followed.ended);
  });

  it("ends after the tail when more was written meanwhile than a follower may lag", async (t) => {
    const followers = createFollowers({ maxBacklogBytes: 1_000 });
    const tailAsked = deferred();
    const tailGiven = deferred();
    const listening = await listen((_req, res) => followers.follow(res, undefined, async (send) => {
      tailAsked.resolve();
      await tailGiven.promise;
      send(Buffer.from("tail\n"));
    }), { host: "127.0.0.1", port: 0 });
    t.after(() => listening.close(0));
    // Its answer starts only with the tail: the request is awaited after the tail is given.
    const following = follow(t, listening.url, "follow=1");
    await tailAsked.promise;
    for (let i = 0; i < 30; i++) followers.publish(Buffer.from(`${"x".repeat(99)}\n`));
    tailGiven.resolve();
    const followed = await following;
    await followed.until("the end", () => followed.ended);
    assert.equal(followed.text(), "tail\n");
    assert.equal(followers.count, 0);
  });
});
