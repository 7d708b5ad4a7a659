import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../../../lib/std/errors.ts";
import { createChangeIndex, parseBlockingQuery } from "../../../lib/registry/blocking.ts";

/** Resolves after the turn of the event loop in which waiters are woken. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("createChangeIndex", () => {
  it("starts at 1 and grows by one per change", () => {
    const index = createChangeIndex();
    assert.equal(index.current, 1);
    index.bump();
    index.bump();
    assert.equal(index.current, 3);
  });

  it("answers at once for an index already passed, or one it never had", async () => {
    const index = createChangeIndex();
    index.bump();
    assert.equal(await index.wait(1, 60_000), 2);
    // A client that saw a later index (an earlier run of the registry) starts over.
    assert.equal(await index.wait(99, 60_000), 2);
    assert.equal(index.waiting, 0);
  });

  it("wakes every waiter once for a burst of changes", async () => {
    const index = createChangeIndex();
    const woken: number[] = [];
    const waits = Array.from({ length: 1_000 }, () =>
      index.wait(1, 60_000).then((value) => woken.push(value)));
    assert.equal(index.waiting, 1_000);
    for (let i = 0; i < 5; i++) index.bump();
    await Promise.all(waits);
    assert.equal(woken.length, 1_000);
    assert.ok(woken.every((value) => value === 6), "every waiter sees the whole burst");
    assert.equal(index.waiting, 0);
  });

  it("keeps waiting a client that already saw the newest index", async () => {
    const index = createChangeIndex();
    const old = index.wait(1, 60_000);
    index.bump();
    // Arrives after the change, before the waiters are woken: it saw index 2.
    const controller = new AbortController();
    let done = false;
    const current = index.wait(2, 60_000, controller.signal).then(() => (done = true));
    assert.equal(await old, 2);
    await nextTurn();
    assert.equal(done, false);
    assert.equal(index.waiting, 1);
    controller.abort();
    await current;
  });

  it("answers with the unchanged index when the wait ends", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const index = createChangeIndex();
    let answered = false;
    const wait = index.wait(1, 30_000).then((value) => {
      answered = true;
      return value;
    });
    t.mock.timers.tick(29_999);
    await Promise.resolve();
    assert.equal(answered, false);
    t.mock.timers.tick(1);
    assert.equal(await wait, 1);
    assert.equal(index.waiting, 0);
  });

  it("frees the wait at once when the client goes away", async () => {
    const index = createChangeIndex();
    const controller = new AbortController();
    const wait = index.wait(1, 600_000, controller.signal);
    assert.equal(index.waiting, 1);
    controller.abort();
    assert.equal(index.waiting, 0);
    assert.equal(await wait, 1);
  });

  it("wakes everyone on close and answers later waits at once", async () => {
    const index = createChangeIndex();
    const wait = index.wait(1, 600_000);
    index.close();
    assert.equal(await wait, 1);
    assert.equal(await index.wait(1, 600_000), 1);
  });
});

describe("parseBlockingQuery", () => {
  const parse = (query: string) => parseBlockingQuery(new URLSearchParams(query));

  it("reads index and wait, with Consul's default wait", () => {
    assert.equal(parse("name=LogService"), undefined);
    assert.deepEqual(parse("index=7&wait=30s"), { index: 7, waitMs: 30_000 });
    assert.deepEqual(parse("index=0&wait=250ms"), { index: 0, waitMs: 250 });
    assert.deepEqual(parse("index=12&wait=10m"), { index: 12, waitMs: 600_000 });
    assert.deepEqual(parse("index=3"), { index: 3, waitMs: 300_000 });
  });

  const bad: Array<[query: string, message: RegExp]> = [
    ["index=", /^index: /],
    ["index=-1", /^index: /],
    ["index=1.5", /^index: /],
    ["index=abc", /^index: /],
    ["index=1234567890123456", /^index: /],
    ["index=1&wait=30", /^wait: /],
    ["index=1&wait=0s", /^wait: /],
    ["index=1&wait=11m", /^wait: /],
    ["index=1&wait=1h", /^wait: /],
    ["index=1&wait=-5s", /^wait: /],
    ["index=1&wait=", /^wait: /],
    ["wait=30s", /^wait: only together with index/],
  ];
  for (const [query, message] of bad) {
    it(`refuses ${query}`, () => {
      assert.throws(() => parse(query), (error: unknown) =>
        error instanceof ValidationError && message.test(error.message));
    });
  }
});
