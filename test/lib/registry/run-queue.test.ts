import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRunQueue } from "../../../lib/registry/run-queue.ts";
import { deferred, type Deferred } from "../../support/wait.ts";

/** A queue whose runs wait until the test ends them, recording the order they started in. */
function held(concurrency: number) {
  const order: string[] = [];
  const runs = new Map<string, Deferred<void>>();
  const queue = createRunQueue<string>(concurrency, (key) => {
    order.push(key);
    const run = deferred();
    runs.set(key, run);
    return run.promise;
  });
  /** Ends the run of `key` and lets the queue start the next ones. */
  const finish = async (key: string) => {
    const run = runs.get(key);
    assert.ok(run, `${key} is running`);
    runs.delete(key);
    run.resolve();
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return { queue, order, finish };
}

describe("run queue", () => {
  it("runs at most `concurrency` keys at once, the rest in the order pushed", async () => {
    const { queue, order, finish } = held(2);
    for (const key of ["a", "b", "c", "d"]) queue.push(key, false);
    assert.deepEqual(order, ["a", "b"]);
    assert.equal(queue.running, 2);
    assert.equal(queue.waiting, 2);
    await finish("a");
    assert.deepEqual(order, ["a", "b", "c"]);
    await finish("b");
    await finish("c");
    await finish("d");
    assert.deepEqual(order, ["a", "b", "c", "d"]);
    assert.equal(queue.running, 0);
    assert.equal(queue.started, 4);
  });

  it("runs urgent keys first, and moves a waiting key forward instead of queueing it again",
    async () => {
      const { queue, order, finish } = held(1);
      for (const key of ["busy", "a", "b", "c"]) queue.push(key, false);
      queue.push("u", true);
      queue.push("c", true);
      queue.push("a", false);
      queue.push("c", true);
      assert.equal(queue.waiting, 4);
      assert.equal(queue.queued, 5, "five keys entered the queue, each once");
      for (const key of ["busy", "u", "c", "a", "b"]) await finish(key);
      assert.deepEqual(order, ["busy", "u", "c", "a", "b"]);
    });

  it("queues each of many keys once however often they are pushed", async () => {
    const { queue, order, finish } = held(1);
    queue.push("busy", false);
    const keys = Array.from({ length: 1_000 }, (_, i) => `k${i}`);
    // Every key pushed again for every key: the pattern of a cascade over one host:port.
    for (const key of keys) {
      queue.push(key, false);
      for (const other of keys.slice(0, 50)) queue.push(other, true);
    }
    assert.equal(queue.waiting, keys.length);
    assert.equal(queue.queued, keys.length + 1);
    while (queue.running > 0) await finish(order.at(-1) ?? "");
    assert.equal(order.length, keys.length + 1);
    assert.equal(new Set(order).size, order.length, "no key ran twice");
  });

  it("runs a running key once more when pushed urgently while it runs", async () => {
    const { queue, order, finish } = held(2);
    queue.push("a", false);
    queue.push("a", false);
    queue.push("a", true);
    assert.deepEqual(order, ["a"]);
    await finish("a");
    assert.deepEqual(order, ["a", "a"]);
    await finish("a");
    assert.equal(queue.running, 0);
  });

  it("forgets deleted keys, and starts nothing after close", async () => {
    const { queue, order, finish } = held(1);
    for (const key of ["a", "b", "c", "d"]) queue.push(key, false);
    queue.delete("b");
    queue.delete("zzz");
    await finish("a");
    assert.deepEqual(order, ["a", "c"]);
    queue.close();
    queue.push("e", true);
    await finish("c");
    assert.deepEqual(order, ["a", "c"]);
    assert.equal(queue.waiting, 0);
  });

  it("starts at most `perTurn` runs in one turn of the event loop, even runs that end at once",
    async () => {
      const order: string[] = [];
      const queue = createRunQueue<string>(1, async (key) => void order.push(key), 10);
      const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
      // Queued before the pushes: it runs before the turn the queue continues in.
      const firstTurn = turn();
      for (let i = 0; i < 35; i++) queue.push(`k${i}`, false);
      await firstTurn;
      assert.equal(order.length, 10, "one at a time, each ending at once, ten in the first turn");
      await turn();
      assert.equal(order.length, 20);
      while (queue.waiting > 0 || queue.running > 0) await turn();
      assert.equal(order.length, 35);
      assert.throws(() => createRunQueue<string>(1, async () => {}, 0), RangeError);
    });
});
