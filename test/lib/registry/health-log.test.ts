import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHealthLog } from "../../../lib/registry/health-log.ts";

describe("health log", () => {
  it("prints the first lines of a window, counts the rest, and prints again after a quiet one",
    (t) => {
      t.mock.timers.enable({ apis: ["setTimeout"] });
      const lines: string[] = [];
      const log = createHealthLog({ log: (line) => void lines.push(line), windowMs: 1_000,
        burst: 2 });
      for (let i = 0; i < 5; i++) log.note("critical", `h:${i % 2}`, `E${i} is critical: refused`);
      log.note("recovered", "h:9", "R is passing again");
      assert.deepEqual(lines, ["health: E0 is critical: refused",
        "health: E1 is critical: refused", "health: R is passing again"]);
      t.mock.timers.tick(1_000);
      assert.deepEqual(lines.slice(3), ["health: 3 more entries at 2 host:ports turned " +
        "critical (first: E2 is critical: refused)"]);
      // Still flooding: counted from the start of this window.
      log.note("critical", "h:5", "E5 is critical: refused");
      t.mock.timers.tick(1_000);
      assert.equal(lines.at(-1), "health: 1 more entry at 1 host:port turned critical " +
        "(first: E5 is critical: refused)");
      // A quiet window: the next one is printed as it comes, and close says what is counted.
      t.mock.timers.tick(1_000);
      const quiet = lines.length;
      for (let i = 6; i < 9; i++) log.note("critical", "h:1", `E${i} is critical: refused`);
      assert.equal(lines.length, quiet + 2);
      log.close();
      assert.equal(lines.at(-1), "health: 1 more entry at 1 host:port turned critical " +
        "(first: E8 is critical: refused)");
      log.note("expired", "h:1", "E9 was critical for 60000 ms: deregistering");
      assert.equal(lines.at(-1), "health: E9 was critical for 60000 ms: deregistering");
    });
});
