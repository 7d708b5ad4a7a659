import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay } from "../../../lib/std/backoff.ts";

describe("backoffDelay", () => {
  it("doubles from the minimum up to the cap", () => {
    const top = () => 1;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 40].map((attempt) => backoffDelay(attempt, 100, 1_000, top)),
      [100, 200, 400, 800, 1_000, 1_000, 1_000],
    );
  });

  it("jitters within the upper half of the step", () => {
    assert.equal(backoffDelay(3, 100, 1_000, () => 0), 200);
    assert.equal(backoffDelay(3, 100, 1_000, () => 0.5), 300);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(2, 100, 1_000);
      assert.ok(delay >= 100 && delay <= 200, String(delay));
    }
  });

  it("never waits less than 1 ms", () => {
    assert.equal(backoffDelay(1, 0, 0, () => 0), 1);
  });
});
