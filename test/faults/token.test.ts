// With a token (docs/protocol.md#security): every unauthenticated mutating request — to the
// registry, a grade, a log entry, a forged patch — is refused 401 and changes nothing, while the services
// themselves, sending the token, keep working.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { request } from "../../lib/std/request.ts";
import { eventually } from "../support/wait.ts";
import {
  counts,
  listed,
  report,
  serviceNames,
  startObserver,
  startSystem,
  type System,
} from "./procs.ts";

const token = "fault-suite-token";

describe("a system with a token", () => {
  const count = counts();
  let system: System;
  before(async () => {
    system = await startSystem({ token });
  });
  after(async () => {
    await system?.close();
    report("token", count);
  });

  const forged = [
    { name: "no header", headers: {} },
    { name: "wrong token", headers: { Authorization: "Bearer not-the-token" } },
    { name: "token without Bearer", headers: { Authorization: token } },
    { name: "other scheme", headers: { Authorization: `Basic ${token}` } },
    { name: "token prefix", headers: { Authorization: `Bearer ${token.slice(0, -1)}` } },
  ];

  it("the registry refuses unauthenticated POST and DELETE /services with 401", async () => {
    const before = await listed(system.registryURL);
    const victim = system.get("gradingservice").url;
    const registration = JSON.stringify({
      ServiceName: "GradingService",
      ServiceURL: "http://127.0.0.1:9/forged",
      RequiredServices: [],
      ServiceUpdateURL: "",
      HeartbeatURL: "",
    });
    for (const { name, headers } of forged) {
      for (const [method, body] of [["POST", registration], ["DELETE", victim]] as const) {
        count.badRequests += 1;
        const response = await request(`${system.registryURL}/services`, {
          method,
          headers: { ...headers, "Content-Type": "application/json" },
          body,
        });
        assert.equal(response.status, 401, `${method} with ${name}`);
        assert.match(response.text(), /"error"/);
      }
    }
    const after = await listed(system.registryURL);
    assert.deepEqual(after.map((s) => s.ServiceURL).sort(), before.map((s) => s.ServiceURL).sort());
  });

  it("every service rejects forged patches with 401 and keeps its providers", async () => {
    const grading = system.get("gradingservice").url;
    const log = system.get("logservice").url;
    // Removing the real providers would break the portal if the patch were applied.
    const patch = JSON.stringify({
      Added: [{ Name: "GradingService", URL: "http://127.0.0.1:9" }],
      Removed: [
        { Name: "GradingService", URL: grading },
        { Name: "LogService", URL: log },
      ],
    });
    for (const kind of Object.keys(serviceNames) as Array<keyof typeof serviceNames>) {
      for (const { name, headers } of forged) {
        count.badRequests += 1;
        const response = await request(`${system.get(kind).url}/services`, {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/json" },
          body: patch,
        });
        assert.equal(response.status, 401, `${kind} with ${name}`);
      }
    }
    const portal = system.get("teacherportal").url;
    for (const path of ["/students", "/students/1", "/logs"]) {
      assert.equal((await request(`${portal}${path}`)).status, 200, path);
    }
    const hello = await request(`${system.get("helloservice").url}/hello?name=token`);
    assert.equal(hello.status, 200);
  });

  it("grading refuses unauthenticated grades; the portal's form, which sends it, works", async () => {
    const grading = system.get("gradingservice").url;
    const grade = JSON.stringify({ Title: "Forged", Type: "Quiz", Score: 0 });
    for (const { name, headers } of forged) {
      count.badRequests += 1;
      const response = await request(`${grading}/students/1/grades`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json" },
        body: grade,
      });
      assert.equal(response.status, 401, name);
    }
    const student = await request(`${grading}/students/1`);
    assert.ok(!student.text().includes("Forged"), "no forged grade stored");
    const form = await request(`${system.get("teacherportal").url}/students/1/grades`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "Title=Through+the+form&Type=Quiz&Score=50",
    });
    assert.equal(form.status, 303);
    assert.match((await request(`${grading}/students/1`)).text(), /Through the form/);
  });

  it("the log service refuses unauthenticated entries; the services' remote logs still arrive", async () => {
    const logURL = `${system.get("logservice").url}/log`;
    for (const { name, headers } of forged) {
      for (const [type, body] of [
        ["text/plain", `[GradingService] - added grade "Forged ${name}"`],
        ["application/json", JSON.stringify([`[GradingService] - added grade "Forged ${name}"`])],
      ] as const) {
        count.badRequests += 1;
        const response = await request(logURL, {
          method: "POST",
          headers: { ...headers, "Content-Type": type },
          body,
        });
        assert.equal(response.status, 401, `${type} with ${name}`);
        assert.match(response.text(), /log: missing or wrong bearer token/);
      }
    }
    // The grading service logs each grade it adds through its remote logger, with the token.
    const form = await request(`${system.get("teacherportal").url}/students/2/grades`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "Title=Logged+remotely&Type=Quiz&Score=70",
    });
    assert.equal(form.status, 303);
    const logged = await eventually(async () => {
      const text = (await request(`${logURL}?contains=Logged+remotely`)).text();
      return text.includes("[GradingService]") ? text : undefined;
    }, 30_000, "the grading service's remote log line");
    assert.match(logged, /added grade "Logged remotely"/);
    const all = (await request(`${logURL}?contains=Forged`)).text();
    assert.equal(all, "", "no forged entry stored");
  });

  it("the registry sends the token with every patch", async () => {
    const observer = await startObserver(system.registryURL, ["HelloService"], token);
    try {
      await observer.waitPatch((patch) => patch.Added.length > 0);
      assert.equal(observer.unauthorized, 0);
    } finally {
      await observer.close();
    }
  });
});
