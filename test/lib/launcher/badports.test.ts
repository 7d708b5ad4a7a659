import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { refusedByBrowsers } from "../../../lib/launcher/badports.ts";

describe("refusedByBrowsers", () => {
  it("knows the grading service's default port 6000, and none of the others'", () => {
    assert.equal(refusedByBrowsers(6_000), true);
    for (const port of [3_000, 4_000, 5_000, 7_000]) assert.equal(refusedByBrowsers(port), false);
  });

  it("names only ports Node's own fetch() refuses", async () => {
    const named: number[] = [];
    for (let port = 1; port <= 65_535; port++) if (refusedByBrowsers(port)) named.push(port);
    assert.ok(named.length > 50, `${named.length} ports`);
    for (const port of named) {
      // Refused before any connection is tried, so nothing at that port is ever reached.
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.equal((error.cause as Error | undefined)?.message, "bad port", `port ${port}`);
        return true;
      });
    }
  });
});
