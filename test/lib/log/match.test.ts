import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lineFilter } from "../../../lib/log/match.ts";
import type { LogQuery } from "../../../lib/log/query.ts";
import { goTimestamp } from "../../../lib/std/log.ts";

const at = (minute: number) => new Date(2026, 10, 25, 14, minute, 0);
const line = (minute: number, message: string) => `go ${goTimestamp(at(minute))} ${message}`;

const lines = [
  line(0, "[GradingService] - added grade 1"),
  line(1, "[TeacherPortal] - added grade 1 through the form"),
  "a foreign line without a stamp, added grade",
  line(2, "[GradingService] - started"),
  line(3, "plain entry [GradingService] - quoted"),
  line(4, "[GradingService] - added grade 2"),
];
const data = Buffer.from(`${lines.join("\n")}\n`);

/** The lines a query picks from `data`, oldest first, and whether older data may match. */
function pick(query: Partial<LogQuery>, max = Infinity): { picked: string[]; more: boolean } {
  const filter = lineFilter({ lines: 100, follow: false, ...query }, "go ");
  const picked: string[] = [];
  const more = filter.pick(data, (start, end) => {
    picked.push(data.toString("utf8", start, end));
    return picked.length < max;
  });
  return { picked: picked.reverse(), more };
}

describe("log line filter", () => {
  // [what, query, indexes of the lines picked]
  const cases: Array<[string, Partial<LogQuery>, number[]]> = [
    ["no filter: every line", {}, [0, 1, 2, 3, 4, 5]],
    ["service: a message starting with [Name] - ", { service: "GradingService" }, [0, 3, 5]],
    ["service: another name", { service: "TeacherPortal" }, [1]],
    ["service: unknown", { service: "Nobody" }, []],
    ["contains: anywhere in the message, foreign lines too", { contains: "added grade" },
      [0, 1, 2, 5]],
    ["contains: not in the stamp", { contains: "2026/11/25" }, []],
    ["service and contains", { service: "GradingService", contains: "added" }, [0, 5]],
    ["since: stamped at or after, foreign lines left out", { since: at(2).getTime() }, [3, 4, 5]],
    ["until: stamped at or before", { until: at(1).getTime() }, [0, 1]],
    ["since and until", { since: at(1).getTime(), until: at(3).getTime() }, [1, 3, 4]],
    ["since within the stamp's second", { since: at(4).getTime() + 500 }, [5]],
    ["since, service and contains", { since: at(1).getTime(), service: "GradingService",
      contains: "grade" }, [5]],
  ];
  for (const [what, query, expected] of cases) {
    it(`picks by ${what}`, () => {
      assert.deepEqual(pick(query).picked, expected.map((index) => lines[index]));
    });
  }

  it("says nothing older can match once it passes an entry older than since", () => {
    assert.equal(pick({ since: at(2).getTime() }).more, false);
    assert.equal(pick({ since: at(0).getTime() }).more, true);
    assert.equal(pick({ service: "Nobody", since: at(3).getTime() }).more, false,
      "even in a block without a hit");
    assert.equal(pick({ service: "Nobody" }).more, true);
  });

  it("stops when the taker has enough, newest first", () => {
    assert.deepEqual(pick({}, 2).picked, [lines[4], lines[5]]);
  });

  it("reads stamps after any prefix", () => {
    const prefixed = Buffer.from(`svc: ${goTimestamp(at(5))} late\n`);
    const filter = lineFilter({ lines: 1, follow: false, since: at(5).getTime() }, "svc: ");
    const picked: number[] = [];
    filter.pick(prefixed, (start) => picked.push(start) > 0);
    assert.deepEqual(picked, [0]);
  });
});
