import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createTimerHeap } from "../../../lib/registry/timer-heap.ts";

describe("timer heap", () => {
  it("calls each key once when it comes due, in due order, on one timer", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
    const due: [string, number][] = [];
    const heap = createTimerHeap<string>((key) => due.push([key, Date.now()]), () => Date.now());
    t.after(() => heap.close());
    heap.set("c", 300);
    heap.set("a", 100);
    heap.set("b", 200);
    heap.set("a2", 100);
    assert.equal(heap.size, 4);
    t.mock.timers.tick(99);
    assert.equal(due.length, 0);
    t.mock.timers.tick(1);
    assert.deepEqual(due, [["a", 100], ["a2", 100]]);
    t.mock.timers.tick(500);
    assert.deepEqual(due.map(([key]) => key), ["a", "a2", "b", "c"]);
    assert.equal(heap.size, 0);
  });

  it("replaces a key's earlier schedule, and forgets deleted keys", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
    const due: string[] = [];
    const heap = createTimerHeap<string>((key) => due.push(key), () => Date.now());
    t.after(() => heap.close());
    heap.set("later", 50);
    heap.set("later", 400);
    heap.set("gone", 10);
    heap.delete("gone");
    heap.set("sooner", 400);
    heap.set("sooner", 20);
    t.mock.timers.tick(100);
    assert.deepEqual(due, ["sooner"]);
    t.mock.timers.tick(300);
    assert.deepEqual(due, ["sooner", "later"]);
  });

  it("keeps only the latest of many schedules of each key", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
    const due = new Map<number, number>();
    const heap = createTimerHeap<number>((key) => due.set(key, Date.now()), () => Date.now());
    t.after(() => heap.close());
    for (let round = 0; round < 20; round++) {
      for (let key = 0; key < 500; key++) heap.set(key, 1_000 + key - round);
    }
    assert.equal(heap.size, 500);
    // Mocked time jumps to the end of a tick before timers fire: step it by milliseconds.
    for (let ms = 0; ms < 2_000; ms++) t.mock.timers.tick(1);
    assert.equal(due.size, 500);
    for (const [key, at] of due) {
      // The timer may fire up to a millisecond early (as setTimeout does against the clock).
      const expected = 1_000 + key - 19;
      assert.ok(at >= expected - 1 && at <= expected, `key ${key} due at ${at}, not ${expected}`);
    }
  });

  it("calls nothing after close", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
    const due: string[] = [];
    const heap = createTimerHeap<string>((key) => due.push(key), () => Date.now());
    heap.set("a", 10);
    heap.close();
    heap.set("b", 10);
    t.mock.timers.tick(100);
    assert.equal(due.length, 0);
    assert.equal(heap.size, 0);
  });
});
