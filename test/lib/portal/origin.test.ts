import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crossSiteRefusal } from "../../../lib/portal/origin.ts";
import { request } from "../../../lib/std/request.ts";
import { form, startSystem } from "./system.ts";

describe("crossSiteRefusal", () => {
  const host = "portal.example:5000";
  const cases: Array<[string, string, Record<string, string>, string | undefined]> = [
    ["reads are always allowed", "GET", { "sec-fetch-site": "cross-site" }, undefined],
    ["HEAD too", "HEAD", { origin: "http://evil.example" }, undefined],
    ["a form from its own page", "POST", { "sec-fetch-site": "same-origin" }, undefined],
    ["a person's own request", "POST", { "sec-fetch-site": "none" }, undefined],
    ["another site", "POST", { "sec-fetch-site": "cross-site", origin: "http://evil.example" },
      "a cross-site request from http://evil.example"],
    ["another port of the same site", "POST", { "sec-fetch-site": "same-site" },
      "a same-site request"],
    ["no fetch metadata, own origin", "POST", { origin: "http://portal.example:5000" }, undefined],
    ["no fetch metadata, own origin in capitals", "POST", { origin: "http://PORTAL.example:5000" },
      undefined],
    ["no fetch metadata, another origin", "POST", { origin: "http://evil.example" },
      "a request from http://evil.example"],
    ["no fetch metadata, another port", "POST", { origin: "http://portal.example:5001" },
      "a request from http://portal.example:5001"],
    ["an opaque origin", "POST", { origin: "null" }, "a request from null"],
    ["not a browser (no Origin, no Sec-Fetch-Site)", "POST", {}, undefined],
    ["DELETE is a write too", "DELETE", { "sec-fetch-site": "cross-site" }, "a cross-site request"],
  ];
  for (const [what, method, headers, expected] of cases) {
    it(`${expected === undefined ? "allows" : "refuses"} ${what}`, () => {
      assert.equal(crossSiteRefusal(method, { host, ...headers }), expected);
    });
  }
});

describe("portal cross-site writes", () => {
  it("answers a form sent from another site 403 with a page, and stores nothing", async (t) => {
    const system = await startSystem(t);
    const portal = system.portal.handle.url;
    const grade = { Title: "Forged", Type: "Test", Score: "100" };
    const posted = form(grade);
    const evil = { Origin: "http://evil.example", "Sec-Fetch-Site": "cross-site" };
    for (const headers of [evil, { Origin: "http://evil.example" }]) {
      const response = await request(`${portal}/students/1/grades`, {
        ...posted,
        headers: { ...posted.headers, ...headers },
      });
      assert.equal(response.status, 403, JSON.stringify(headers));
      assert.match(String(response.headers["content-type"]), /^text\/html/);
      assert.match(response.text(), /<h1>403 Forbidden<\/h1>/);
      assert.match(response.text(), /Refused a (cross-site )?request from http:\/\/evil\.example/);
    }
    assert.equal(system.store.get(1)?.Grades.length, 3, "nothing stored");

    // The portal's own page, as a browser sends it.
    const own = { Origin: new URL(portal).origin, "Sec-Fetch-Site": "same-origin" };
    const accepted = await request(`${portal}/students/1/grades`, {
      ...posted,
      headers: { ...posted.headers, ...own },
    });
    assert.equal(accepted.status, 303);
    assert.equal(system.store.get(1)?.Grades.length, 4);
  });
});
