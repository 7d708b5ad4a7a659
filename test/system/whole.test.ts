// The whole system, every service its own process: the add-grade flow through the portal's
// form, then kill -9 of the grading service and its restart.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { parseStudent } from "../../lib/grades/grades.ts";
import { request } from "../../lib/std/request.ts";
import { escape, startSystem, waitListed, type System } from "../faults/procs.ts";
import { eventually } from "../support/wait.ts";

describe("the whole system as separate processes", () => {
  let system: System;
  const title = `Whole system ${process.pid}`;
  before(async () => {
    system = await startSystem();
  });
  after(() => system?.close());

  const portal = (path: string) => `${system.get("teacherportal").url}${path}`;
  const grading = (path: string) => `${system.get("gradingservice").url}${path}`;

  it("adds a grade by the form: 303, on the page, in grading's JSON, in the log", async () => {
    const form = new URLSearchParams({ Title: title, Type: "Test", Score: "77.5" });
    const posted = await request(portal("/students/2/grades"), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    assert.equal(posted.status, 303, posted.text());
    assert.equal(posted.headers.location, "/students/2?added=1");

    const page = await request(portal("/students/2?added=1"));
    assert.equal(page.status, 200);
    assert.match(page.text(), /Grade added/);
    assert.match(page.text(), new RegExp(escape(title)));
    assert.match(page.text(), /77\.5/);

    const student = parseStudent((await request(grading("/students/2"))).json());
    assert.deepEqual(student.Grades.at(-1), { Title: title, Type: "Test", Score: 77.5 });

    // Both services log the grade through the remote logger; it arrives after a batch delay.
    const quoted = escape(JSON.stringify(title));
    const lines = await eventually(async () => {
      const text = await readFile(system.logFile, "utf8");
      const portalLine = new RegExp(`^go \\S+ \\S+ \\[TeacherPortal\\] - added grade ${quoted}`,
        "m").test(text);
      const gradingLine = new RegExp(`^go \\S+ \\S+ \\[GradingService\\] - added grade ${quoted}`,
        "m").test(text);
      return portalLine && gradingLine && text;
    }, 10_000, "the portal and grading lines in the log file");
    assert.ok(lines.length > 0);
  });

  it("answers its 503 page while grading is dead, and works again once it restarts", async () => {
    const killed = await system.get("gradingservice").crash();
    assert.equal(killed.signal, "SIGKILL");

    for (const path of ["/students", "/students/2"]) {
      const page = await request(portal(path));
      assert.equal(page.status, 503, `${path}: ${page.text().slice(0, 300)}`);
      assert.match(String(page.headers["content-type"]), /^text\/html/);
      assert.match(
        page.text(),
        /GradingService (is registered|at \S+ is not reachable)/,
      );
    }
    // A form POST while grading is down is a 503 page too, never a dropped connection.
    const refused = await request(portal("/students/2/grades"), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "Title=Lost&Type=Quiz&Score=1",
    });
    assert.equal(refused.status, 503);

    // A new port: the portal can only find it through the registry's Added patch.
    const restarted = await system.restart("gradingservice", { samePort: false });
    await waitListed(system.registryURL, restarted.url);
    const page = await eventually(async () => {
      const response = await request(portal("/students/2"));
      return response.status === 200 && response.text();
    }, 10_000, "the student page through the restarted grading service");
    assert.match(page, new RegExp(escape(title)));
    assert.doesNotMatch(page, /Lost/);
    const students = await request(portal("/students"));
    assert.equal(students.status, 200);
    const student = parseStudent((await request(grading("/students/2"))).json());
    assert.equal(student.Grades.filter((grade) => grade.Title === title).length, 1);
  });
});
