import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../../../lib/std/errors.ts";
import {
  checkSameHost,
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

describe("URL fields", () => {
  // The URL parser forgives all of these; the registry would then call, print and publish them.
  const refused: Array<[what: string, url: string, message: RegExp]> = [
    ["no host (the parser would look up \"x\")", "http:///x", /must name a host/],
    ["one slash", "http:/x", /absolute http or https URL/],
    ["backslashes", "http:\\\\x", /absolute http or https URL/],
    ["port 0 (the parser would use 80)", "http://127.0.0.1:0/", /port must be 1 to 65535/],
    ["port 65536", "http://127.0.0.1:65536/", /not a URL/],
    ["a user and password", "http://user:pass@127.0.0.1:1/", /user information/],
    ["an empty user", "http://@127.0.0.1:1/", /user information/],
    ["an ESC sequence", "http://127.0.0.1:1/\u001b[2J", /control characters/],
    ["a CR", "http://127.0.0.1:1/\rforged", /control characters/],
    ["a C1 control", "http://127.0.0.1:1/\u009b31m", /control characters/],
    ["DEL", "http://127.0.0.1:1/\u007f", /control characters/],
    ["a right-to-left override", "http://127.0.0.1:1/\u202egnp.exe", /control characters/],
    ["2 049 characters", `http://h:1/${"x".repeat(2_038)}`, /at most 2048 characters/],
  ];
  for (const [field, optional] of [["ServiceURL", false], ["HeartbeatURL", true],
    ["ServiceUpdateURL", true]] as const) {
    for (const [what, url, message] of refused) {
      it(`refuses a ${field} with ${what}`, () => {
        const reg = { ServiceName: "A", ServiceURL: "http://h:1", [field]: url };
        assert.throws(() => parseRegistration(reg), (error: unknown) =>
          error instanceof ValidationError && error.message.startsWith(`${field}: `) &&
          message.test(error.message));
      });
    }
    if (optional) continue;
    it("refuses the same in a DELETE body and a patch", () => {
      for (const [, url] of refused) {
        assert.throws(() => parseServiceURL(url), ValidationError, url);
        assert.throws(() => parsePatch({ Added: [{ Name: "A", URL: url }] }), ValidationError);
      }
    });
  }

  it("accepts ports 1 and 65535, IPv6, https, and an empty port, keeping the text", () => {
    for (const url of ["http://h:1", "https://127.0.0.1:65535/x?y#z", "http://[::1]:80/",
      "http://h:/", "HTTP://Host.Example/"]) {
      assert.equal(parseServiceURL(url), url);
    }
  });
});

describe("checkSameHost", () => {
  const reg = (heartbeat: string, update: string) => parseRegistration({
    ServiceName: "A", ServiceURL: "http://host.example:5000/a", HeartbeatURL: heartbeat,
    ServiceUpdateURL: update,
  });

  it("accepts callbacks on the ServiceURL's host, any port, and none at all", () => {
    checkSameHost(reg("http://host.example:9/heartbeat", "https://HOST.example/services"));
    checkSameHost(reg("", ""));
  });

  it("refuses a HeartbeatURL or ServiceUpdateURL on another host, naming the field", () => {
    assert.throws(() => checkSameHost(reg("http://other.example:5000/heartbeat", "")),
      /^ValidationError: HeartbeatURL: must be on the ServiceURL's host \(host\.example\)/);
    assert.throws(() => checkSameHost(reg("", "http://127.0.0.1:5000/services")),
      /^ValidationError: ServiceUpdateURL: must be on the ServiceURL's host/);
  });
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
