import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseLogQuery } from "../../../lib/log/query.ts";
import { ValidationError } from "../../../lib/std/errors.ts";

describe("GET /log query", () => {
  it("defaults to the last 100 entries, unfiltered, not following", () => {
    assert.deepEqual(parseLogQuery(""), { lines: 100, follow: false });
    assert.deepEqual(parseLogQuery("other=1"), { lines: 100, follow: false });
  });

  it("reads every parameter", () => {
    assert.deepEqual(parseLogQuery("lines=5&service=GradingService&contains=added%20grade" +
      "&since=2026-11-25T14:40:27Z&until=2026-11-25T15:40:27%2B01:00&follow=1"), {
      lines: 5,
      service: "GradingService",
      contains: "added grade",
      since: Date.UTC(2026, 10, 25, 14, 40, 27),
      until: Date.UTC(2026, 10, 25, 14, 40, 27),
      follow: true,
    });
    assert.equal(parseLogQuery("follow=false").follow, false);
    assert.equal(parseLogQuery("lines=1&lines=7").lines, 7, "the last one counts");
  });

  // [query, message the 400 carries]
  const bad: Array<[string, RegExp]> = [
    ["lines=0", /lines: want an integer from 1 to 10000, got "0"/],
    ["lines=10001", /got "10001"/],
    ["lines=abc", /got "abc"/],
    ["lines=1.5", /got "1.5"/],
    ["lines=", /got ""/],
    ["service=", /service: want 1 to 1024 characters/],
    [`contains=${"x".repeat(1_025)}`, /contains: want 1 to 1024 characters/],
    ["contains=a%0Ab", /contains: control characters never appear in entries/],
    ["since=yesterday", /since: want an RFC 3339 date-time .*"yesterday"/],
    ["since=2026-11-25", /since: want an RFC 3339/],
    ["until=2026-02-30T00:00:00Z", /until: want an RFC 3339/],
    ["until=2026-11-25T24:00:00Z", /until: want an RFC 3339/],
    ["until=2026-11-25T10:00:00%2B25:00", /until: want an RFC 3339/],
    ["since=2026-11-25T15:00:00Z&until=2026-11-25T14:00:00Z", /since: must not be after until/],
    ["follow=yes", /follow: want 1, 0, true or false, got "yes"/],
  ];
  for (const [query, message] of bad) {
    it(`refuses ${query.slice(0, 60)}`, () => {
      assert.throws(() => parseLogQuery(query), (error: unknown) =>
        error instanceof ValidationError && message.test(error.message));
    });
  }
});

describe("GET /log query: RFC 3339 times", () => {
  const cases: Array<[string, number]> = [
    ["2026-11-25T14:40:27Z", Date.UTC(2026, 10, 25, 14, 40, 27)],
    ["2026-11-25t14:40:27z", Date.UTC(2026, 10, 25, 14, 40, 27)],
    ["2026-11-25 14:40:27Z", Date.UTC(2026, 10, 25, 14, 40, 27)],
    ["2026-11-25T14:40:27.25Z", Date.UTC(2026, 10, 25, 14, 40, 27, 250)],
    ["2026-11-25T14:40:27-05:30", Date.UTC(2026, 10, 25, 20, 10, 27)],
    ["2028-02-29T00:00:00Z", Date.UTC(2028, 1, 29)],
  ];
  for (const [text, ms] of cases) {
    it(`reads ${text}`, () => {
      const query = encodeURIComponent(text);
      assert.equal(parseLogQuery(`since=${query}`).since, ms);
      assert.equal(parseLogQuery(`until=${query}`).until, ms);
    });
  }
});
