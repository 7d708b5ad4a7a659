import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createOrigins, nextStep, type Origin } from "../../../lib/registry/origins.ts";

describe("origins", () => {
  it("counts the entries of each host:port and forgets it with the last", () => {
    const origins = createOrigins<string>();
    const a = origins.enter("http://LOCALHOST:5000/a");
    assert.equal(origins.enter("http://localhost:5000/b"), a);
    assert.deepEqual([a.key, a.host, a.port, a.entries], ["localhost:5000", "localhost", 5000, 2]);
    assert.equal(origins.enter("https://[::1]/h").key, "::1:443");
    origins.leave(a);
    assert.equal(origins.get("localhost:5000"), a);
    origins.leave(a);
    assert.equal(origins.get("localhost:5000"), undefined);
  });

  it("decides what a check at a host:port does: check, refused on a fresh word, join or look",
    () => {
      const at = (over: Partial<Origin<string>>): Origin<string> => ({ ...createOrigins<string>()
        .enter("http://h:1/"), ...over });
      const look = { looked: 5, waiting: new Set<string>() };
      // [what, origin, critical, added, now, step]
      const rows: [string, Origin<string>, boolean, number, number, string][] = [
        ["alive", at({}), true, 1, 0, "check"],
        ["dead, critical, fresh", at({ refusedAt: 100 }), true, 1, 150, "refused"],
        ["dead, critical, an interval old", at({ refusedAt: 100 }), true, 1, 1_100, "look"],
        ["dead, passing (a new registration)", at({ refusedAt: 100 }), false, 1, 150, "look"],
        ["dead, a look started after it was added", at({ refusedAt: 100, looking: look }),
          false, 5, 150, "join"],
        ["dead, a look started before it was added", at({ refusedAt: 100, looking: look }),
          false, 6, 150, "look"],
        ["suspect (a connection closed)", at({ suspect: true }), true, 1, 0, "look"],
        ["suspect, a look in progress", at({ suspect: true, looking: look }), false, 2, 0, "join"],
      ];
      for (const [what, origin, critical, added, now, step] of rows) {
        assert.equal(nextStep(origin, { critical, added }, now, 1_000), step, what);
      }
    });
});
