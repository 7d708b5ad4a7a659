import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLimiter } from "../../../lib/std/limiter.ts";
import { deferred } from "../../support/wait.ts";

/** Resolves after every promise callback queued so far has run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("createLimiter", () => {
  it("refuses a limit that is not a positive integer", () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => createLimiter(limit), RangeError, String(limit));
    }
  });

  it("never runs more than the limit at once", async () => {
    const limiter = createLimiter(3);
    let running = 0;
    let most = 0;
    const gates = Array.from({ length: 10 }, () => deferred());
    const done = gates.map((gate) => limiter.run(async () => {
      running += 1;
      most = Math.max(most, running);
      await gate.promise;
      running -= 1;
    }));
    await settle();
    assert.equal(limiter.active, 3);
    assert.equal(limiter.waiting, 7);
    for (const gate of gates) gate.resolve();
    await Promise.all(done);
    assert.equal(most, 3);
    assert.equal(limiter.active, 0);
    assert.equal(limiter.waiting, 0);
  });

  it("hands slots out first come, first served", async () => {
    const limiter = createLimiter(1);
    await limiter.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => limiter.acquire().then(() => order.push(n)));
    for (let i = 0; i < 3; i++) {
      limiter.release();
      await settle();
    }
    await Promise.all(waits);
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(limiter.active, 1);
  });

  it("tryAcquire takes a free slot and never waits", () => {
    const limiter = createLimiter(2);
    assert.deepEqual([limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()],
      [true, true, false]);
    limiter.release();
    assert.equal(limiter.tryAcquire(), true);
  });

  it("an aborted wait leaves the line at once and holds no slot", async () => {
    const limiter = createLimiter(1);
    await limiter.acquire();
    const controller = new AbortController();
    const reason = new Error("gone");
    const aborted = limiter.acquire(controller.signal);
    const next = limiter.acquire();
    assert.equal(limiter.waiting, 2);
    controller.abort(reason);
    await assert.rejects(aborted, (error) => error === reason);
    assert.equal(limiter.waiting, 1);
    // The released slot skips the aborted waiter and goes to the next one.
    limiter.release();
    await next;
    assert.equal(limiter.active, 1);
    assert.equal(limiter.waiting, 0);
  });

  it("rejects at once for a signal already aborted, even with a slot free", async () => {
    const limiter = createLimiter(1);
    const reason = new Error("too late");
    let started = false;
    await assert.rejects(limiter.run(() => (started = true), AbortSignal.abort(reason)),
      (error) => error === reason);
    assert.equal(started, false);
    assert.equal(limiter.active, 0);
  });

  it("releases the slot when the task throws", async () => {
    const limiter = createLimiter(1);
    await assert.rejects(limiter.run(() => Promise.reject(new Error("boom"))), /boom/);
    assert.equal(limiter.active, 0);
    assert.equal(await limiter.run(() => 42), 42);
  });

  it("refuses a release without a held slot", () => {
    assert.throws(() => createLimiter(1).release(), /release without a held slot/);
  });
});
