import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRecent } from "../../../lib/log/recent.ts";

const text = (blocks: ReturnType<ReturnType<typeof createRecent>["blocks"]>) =>
  blocks.map((block) => [block.data.toString(), block.generation, block.start]);

describe("recent entries in memory", () => {
  it("joins contiguous rounds of one file into one block", () => {
    const recent = createRecent(1_000, 100);
    recent.add(Buffer.from("a\nb\n"), 0, 10);
    recent.add(Buffer.from("c\n"), 0, 14);
    assert.deepEqual(text(recent.blocks()), [["a\nb\nc\n", 0, 10]]);
    assert.equal(recent.bytes, 6);
  });

  it("starts a new block at a gap, a new generation or a full arena", () => {
    const recent = createRecent(1_000, 4);
    recent.add(Buffer.from("a\n"), 0, 0);
    recent.add(Buffer.from("b\n"), 0, 5); // a gap: bytes cut back after a failure
    recent.add(Buffer.from("c\n"), 1, 0); // rotated
    recent.add(Buffer.from("d\ne\n"), 1, 2); // does not fit the 4-byte arena's rest
    assert.deepEqual(text(recent.blocks()),
      [["a\n", 0, 0], ["b\n", 0, 5], ["c\n", 1, 0], ["d\ne\n", 1, 2]]);
  });

  it("drops the newline that ended a torn line before the round", () => {
    const recent = createRecent(1_000);
    recent.add(Buffer.from("\nwhole\n"), 0, 7);
    assert.deepEqual(text(recent.blocks()), [["whole\n", 0, 8]]);
  });

  it("forgets the oldest blocks beyond its limit", () => {
    const recent = createRecent(4, 2);
    for (const [i, line] of ["a\n", "b\n", "c\n", "d\n"].entries()) {
      recent.add(Buffer.from(line), 0, i * 2);
    }
    assert.deepEqual(text(recent.blocks()).map(([data]) => data), ["b\n", "c\n", "d\n"]);
  });

  it("keeps blocks handed out unchanged by later rounds", () => {
    const recent = createRecent(1_000);
    recent.add(Buffer.from("a\n"), 0, 0);
    const before = recent.blocks();
    recent.add(Buffer.from("b\n"), 0, 2);
    assert.deepEqual(text(before), [["a\n", 0, 0]]);
  });
});
