import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLineQueue, type LineQueueOptions } from "../../../lib/log/queue.ts";

function queue(options: Partial<LineQueueOptions> = {}) {
  return createLineQueue({
    limit: 100,
    maxBatchBytes: 1_000,
    notice: (count) => `${count} dropped`,
    ...options,
  });
}

const parse = (body: string) => JSON.parse(body) as string[];

describe("remote log queue", () => {
  it("takes the oldest lines as a JSON batch and forgets them once acknowledged", () => {
    const q = queue();
    for (const line of ["a", "b\n\"c\""]) q.push(line);
    assert.equal(q.pending, 2);
    const batch = q.take();
    assert.ok(batch);
    assert.deepEqual(parse(batch.body), ["a", "b\n\"c\""]);
    assert.equal(batch.end, 2);
    assert.equal(q.pending, 2, "taking is not delivering");
    q.push("d");
    q.acknowledge(batch);
    assert.equal(q.pending, 1);
    assert.equal(q.start, 2);
    assert.equal(q.end, 3);
    assert.deepEqual(parse(q.take()?.body ?? ""), ["d"]);
    assert.equal(q.dropped, 0);
  });

  it("answers no batch when empty", () => {
    assert.equal(queue().take(), undefined);
  });

  it("cuts batches at the byte limit, but always takes at least one line", () => {
    const q = queue({ maxBatchBytes: 30 });
    for (const line of ["1234567890", "abcdefghij", "ABCDEFGHIJ", "x".repeat(50)]) q.push(line);
    const sizes: number[] = [];
    for (let batch = q.take(); batch; batch = q.take()) {
      assert.ok(batch.body.length <= 30 || parse(batch.body).length === 1, batch.body);
      sizes.push(parse(batch.body).length);
      q.acknowledge(batch);
    }
    assert.deepEqual(sizes, [2, 1, 1]);
  });

  it("drops the oldest line beyond the limit and reports the count in the next batch", () => {
    const q = queue({ limit: 3 });
    const fellOut = ["a", "b", "c", "d", "e"].map((line) => q.push(line));
    assert.deepEqual(fellOut, [undefined, undefined, undefined, "a", "b"],
      "lines dropped before they were echoed come back to be echoed");
    assert.equal(q.dropped, 2);
    assert.equal(q.start, 2);
    const batch = q.take();
    assert.ok(batch);
    assert.deepEqual(parse(batch.body), ["2 dropped", "c", "d", "e"]);
    assert.equal(batch.reported, 2);
    q.acknowledge(batch);
    q.push("f");
    assert.deepEqual(parse(q.take()?.body ?? ""), ["f"], "a delivered notice is not repeated");
  });

  it("repeats the notice when its batch was not delivered", () => {
    const q = queue({ limit: 1 });
    q.push("a");
    q.push("b");
    const refused = q.take();
    assert.ok(refused);
    q.giveUp(refused);
    q.push("c");
    assert.deepEqual(parse(q.take()?.body ?? ""), ["1 dropped", "c"]);
  });

  it("gives up a batch: counted as dropped, its unechoed lines returned once", () => {
    const q = queue();
    q.push("a");
    assert.deepEqual(q.unechoed(), ["a"]);
    q.push("b");
    const batch = q.take();
    assert.ok(batch);
    q.push("c");
    assert.deepEqual(q.giveUp(batch), ["b"], "a was echoed already");
    assert.equal(q.dropped, 2);
    assert.equal(q.pending, 1);
    assert.deepEqual(q.unechoed(), ["c"]);
    assert.deepEqual(q.unechoed(), [], "nothing is echoed twice");
  });

  it("does not echo a dropped line that was echoed already", () => {
    const q = queue({ limit: 1 });
    q.push("a");
    q.unechoed();
    assert.equal(q.push("b"), undefined);
  });

  it("keeps sequence numbers across many pushes and compactions", () => {
    const q = queue({ limit: 10_000, maxBatchBytes: 64 * 1024 });
    let delivered = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 500; i++) q.push(`line ${round * 500 + i}`);
      const batch = q.take();
      assert.ok(batch);
      const lines = parse(batch.body);
      assert.equal(lines[0], `line ${delivered}`);
      delivered += lines.length;
      q.acknowledge(batch);
      assert.equal(q.start, delivered);
    }
    assert.equal(q.end, 10_000);
    assert.equal(q.pending, 10_000 - delivered);
  });
});
