// What the registry will contact, and what it prints: callbacks stay on the registrant's own
// host unless the operator allows others, and every log line shows outside text escaped.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { list, post, remove, startFake, startRegistry } from "./helpers.ts";

describe("registry callback hosts", () => {
  it("refuses a HeartbeatURL on another host by default, registering nothing", async (t) => {
    const { url } = await startRegistry(t);
    const response = await post(url, {
      ServiceName: "Amplifier",
      ServiceURL: "http://127.0.0.1:1/",
      HeartbeatURL: "http://localhost:1/heartbeat",
    });
    assert.equal(response.status, 400);
    assert.match((response.json() as { error: string }).error,
      /^HeartbeatURL: must be on the ServiceURL's host \(127\.0\.0\.1\), any port$/);
    assert.deepEqual(await list(url), []);
  });

  it("accepts callbacks on other hosts when the operator allows any", async (t) => {
    const { url } = await startRegistry(t, { callbackHosts: "any" });
    const fake = await startFake(t);
    const response = await post(url, {
      ServiceName: "Elsewhere",
      ServiceURL: "http://192.0.2.1:1/",
      HeartbeatURL: fake.heartbeatURL,
      ServiceUpdateURL: fake.updateURL,
    });
    assert.equal(response.status, 200);
    await fake.nextHeartbeat();
  });
});

describe("registry log lines", () => {
  it("show bidi controls and other outside text escaped, never raw", async (t) => {
    const { url, lines } = await startRegistry(t);
    // A right-to-left override is printable in a name, but must not reorder a log line.
    const name = "Grading\u202eecivreS";
    const serviceURL = "http://127.0.0.1:1/a\\b";
    assert.equal((await post(url, { ServiceName: name, ServiceURL: serviceURL })).status, 200);
    assert.equal((await remove(url, serviceURL)).status, 200);
    assert.deepEqual(lines.filter((line) => line.includes("Grading")), [
      "registered Grading\\u202eecivreS at http://127.0.0.1:1/a\\\\b",
      "deregistered Grading\\u202eecivreS at http://127.0.0.1:1/a\\\\b",
    ]);
    for (const line of lines) assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202e]/);
  });
});
