import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../../../lib/std/errors.ts";
import {
  parsePatch,
  parseRegistration,
  parseServiceURL,
} from "../../../lib/registry/registration.ts";

describe("parseRegistration", () => {
  it("accepts a Go registration with null RequiredServices and unknown fields", () => {
    const reg = parseRegistration({
      ServiceName: "LogService",
      ServiceURL: "http://localhost:4000",
      RequiredServices: null,
      ServiceUpdateURL: "http://localhost:4000/services",
      HeartbeatURL: "http://localhost:4000/heartbeat",
      Extra: 1,
    });
    assert.deepEqual(reg, {
      ServiceName: "LogService",
      ServiceURL: "http://localhost:4000",
      RequiredServices: [],
      ServiceUpdateURL: "http://localhost:4000/services",
      HeartbeatURL: "http://localhost:4000/heartbeat",
    });
  });

  it("collapses duplicate required services", () => {
    const reg = parseRegistration({
      ServiceName: "A",
      ServiceURL: "http://h:1",
      RequiredServices: ["LogService", "LogService"],
    });
    assert.deepEqual(reg.RequiredServices, ["LogService"]);
    assert.equal(reg.HeartbeatURL, "");
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ["not an object", [1], /registration: must be a JSON object/],
    ["missing name", { ServiceURL: "http://h:1" }, /ServiceName/],
    ["long name", { ServiceName: "x".repeat(129), ServiceURL: "http://h:1" }, /ServiceName/],
    ["control char", { ServiceName: "a\nb", ServiceURL: "http://h:1" }, /control/],
    ["markup", { ServiceName: "<script>x</script>", ServiceURL: "http://h:1" }, /HTML markup/],
    ["bad url", { ServiceName: "A", ServiceURL: "nope" }, /ServiceURL: not a URL/],
    ["ftp url", { ServiceName: "A", ServiceURL: "ftp://h/" }, /ServiceURL/],
    ["bad list", { ServiceName: "A", ServiceURL: "http://h:1", RequiredServices: "x" }, /array/],
    ["bad heartbeat", { ServiceName: "A", ServiceURL: "http://h:1", HeartbeatURL: 3 }, /Heartbeat/],
  ];
  for (const [name, input, message] of bad) {
    it(`answers 400 for ${name}`, () => {
      assert.throws(
        () => parseRegistration(input),
        (error: unknown) =>
          error instanceof ValidationError && message.test(error.message),
      );
    });
  }
});

describe("parsePatch", () => {
  it("treats null lists as empty", () => {
    assert.deepEqual(parsePatch({ Added: [{ Name: "A", URL: "http://h:1" }], Removed: null }), {
      Added: [{ Name: "A", URL: "http://h:1" }],
      Removed: [],
    });
  });
  it("rejects a non-list", () => {
    assert.throws(() => parsePatch({ Added: {} }), ValidationError);
  });
});

describe("parseServiceURL", () => {
  it("ignores surrounding whitespace", () => {
    assert.equal(parseServiceURL("  http://localhost:4000\n"), "http://localhost:4000");
  });
});
