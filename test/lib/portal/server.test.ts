import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { request, type RequestOptions } from "../../../lib/std/request.ts";
import { form, startSystem, type System } from "./system.ts";

function page(system: System, path: string, options?: RequestOptions) {
  return request(`${system.portal.handle.url}${path}`, options);
}

describe("portal pages over a real system", () => {
  it("redirects / to /students and lists students with averages", async (t) => {
    const system = await startSystem(t);
    const root = await page(system, "/");
    assert.equal(root.status, 302);
    assert.equal(root.headers["location"], "/students");
    const list = await page(system, "/students");
    assert.equal(list.status, 200);
    assert.match(String(list.headers["content-type"]), /^text\/html; charset=utf-8/);
    const text = list.text();
    assert.ok(text.includes(`<a href="/students/1">Simen, Averill</a>`));
    assert.ok(text.includes(`<a href="/students/5">Attwood, Kylee</a>`));
    assert.match(text, /Simen, Averill<\/a><\/td>\s*<td class="num">89\.0<\/td>/);
    assert.match(text, /Barber, Sydnie<\/a><\/td>\s*<td class="num">47\.3<\/td>/);
  });

  it("adds a grade through the form: 303, shown on the page, stored, logged", async (t) => {
    const system = await startSystem(t);
    const student = await page(system, "/students/2");
    assert.equal(student.status, 200);
    assert.match(student.text(), /<h1>Marge Garrard<\/h1>/);
    const posted = await page(
      system,
      "/students/2/grades",
      form({ Title: "Final exam", Type: "Test", Score: " 91.5 " }),
    );
    assert.equal(posted.status, 303);
    assert.equal(posted.headers["location"], "/students/2?added=1");
    const after = (await page(system, "/students/2?added=1")).text();
    assert.match(after, /<td>Final exam<\/td><td>Test<\/td><td class="num">91.5<\/td>/);
    assert.match(after, /<p class="notice" role="status">Grade added.<\/p>/);
    assert.doesNotMatch((await page(system, "/students/2")).text(), /Grade added/);
    assert.deepEqual(system.store.get(2)?.Grades.at(-1), {
      Title: "Final exam",
      Type: "Test",
      Score: 91.5,
    });
    // Stopping flushes the remote loggers, so both lines are in the file afterwards.
    await system.portal.stop();
    await system.grading.stop();
    const log = await system.logText();
    assert.match(log, /\[TeacherPortal\] - added grade "Final exam" \(Test, 91.5\) for student 2/);
    assert.match(log, /\[GradingService\] - added grade "Final exam" \(Test, 91.5\) for student 2/);
  });

  it("answers invalid input with a 400 page naming every refused field", async (t) => {
    const system = await startSystem(t);
    const title = "Title: must be 1 to 200 characters, not blank";
    const type = "Type: must be one of Quiz, Test, Homework";
    const score = "Score: must be a finite number from 0 to 100";
    const cases: Array<[Record<string, string>, Record<string, string>]> = [
      [{ Title: "", Type: "Exam", Score: "120" }, { Title: title, Type: type, Score: score }],
      [{ Title: `"><b>x`, Type: "Homework", Score: "abc" }, { Score: score }],
      [{ Title: `"><b>x`, Type: "Homework", Score: "1e999" }, { Score: score }],
      [{ Title: "   ", Type: "Quiz", Score: "5" }, { Title: title }],
      [{ Title: `"><b>x`, Type: "Exam", Score: "5" }, { Type: type }],
      [{ Type: "Quiz" }, { Title: title, Score: score }],
    ];
    const ids = { Title: "grade-title", Type: "grade-type", Score: "grade-score" };
    for (const [fields, errors] of cases) {
      const response = await page(system, "/students/3/grades", form(fields));
      const what = JSON.stringify(fields);
      assert.equal(response.status, 400, what);
      const text = response.text();
      assert.match(text, /<h1>Sydnie Barber<\/h1>/);
      for (const [name, id] of Object.entries(ids)) {
        const message = errors[name];
        const marked = new RegExp(`id="${id}"[^>]* aria-invalid="true" aria-describedby="${id}-`);
        if (message === undefined) {
          assert.doesNotMatch(text, new RegExp(`${id}-error`), `${what}: ${name} not marked`);
          continue;
        }
        // The message sits in the field's own block, between its label and its control.
        const block = new RegExp(
          `<label for="${id}">${name}</label>\\s*<p class="field-error" id="${id}-error">` +
            `M${message.slice(name.length + 3)}</p>\\s*<(input|select) [^>]*id="${id}"`,
        );
        assert.match(text, block, `${what}: ${name} message next to the field`);
        assert.match(text, marked, `${what}: ${name} aria-invalid`);
        assert.ok(text.includes(`<li><a href="#${id}">${message}</a></li>`), `${what}: summary`);
      }
      if (fields["Title"] === `"><b>x`) {
        assert.ok(text.includes(`value="&quot;&gt;&lt;b&gt;x"`), "title refilled, escaped");
        assert.ok(!text.includes(`"><b>x`));
      }
      if (fields["Type"] === "Homework") assert.ok(text.includes(`value="Homework" selected`));
      if (fields["Type"] === "Exam") assert.match(text, /<option value="" selected disabled>/);
      if (fields["Score"] !== undefined) assert.ok(text.includes(`value="${fields["Score"]}"`));
    }
    assert.equal(system.store.get(3)?.Grades.length, 3, "nothing stored");
  });

  it("answers 404 pages for unknown students and 4xx pages for bad requests", async (t) => {
    const system = await startSystem(t);
    const grade = { Title: "a", Type: "Quiz", Score: "1" };
    const cases: Array<[string, RequestOptions | undefined, number, RegExp]> = [
      ["/students/99", undefined, 404, /There is no student with ID 99/],
      ["/students/abc", undefined, 404, /There is no student &quot;abc&quot;/],
      ["/students/99/grades", form(grade), 404, /There is no student with ID 99/],
      ["/nope", undefined, 404, /no such path/],
      ["/students", { method: "DELETE" }, 405, /method DELETE not allowed/],
      ["/students/1/grades", { ...form(grade), headers: { "Content-Type": "text/plain" } }, 415,
        /x-www-form-urlencoded/],
      ["/students/1/grades", form({ ...grade, pad: "x".repeat(20_000) }), 413, /larger than/],
    ];
    for (const [path, options, status, message] of cases) {
      const response = await page(system, path, options);
      assert.equal(response.status, status, path);
      assert.match(String(response.headers["content-type"]), /^text\/html/);
      assert.match(response.text(), message, path);
      assert.match(response.text(), /<nav aria-label="main">/);
    }
    const put = await page(system, "/students", { method: "PUT" });
    assert.equal(put.headers["allow"], "GET, HEAD");
    assert.equal(system.store.get(1)?.Grades.length, 3);
  });

  it("sends nosniff and its content security policy with every answer", async (t) => {
    const system = await startSystem(t);
    const grade = { Title: "a", Type: "Quiz", Score: "1" };
    const cases: Array<[string, RequestOptions | undefined, number]> = [
      ["/", undefined, 302],
      ["/students", undefined, 200],
      ["/students/1", undefined, 200],
      ["/services", undefined, 200],
      ["/logs", undefined, 200],
      ["/favicon.ico", undefined, 204],
      ["/nope", undefined, 404],
      ["/students", { method: "DELETE" }, 405],
      ["/students/1/grades", form(grade), 303],
      ["/students/1/grades", form({ ...grade, Score: "x" }), 400],
      ["/students/1/grades", { ...form(grade), headers: { Origin: "http://evil.example" } }, 403],
    ];
    for (const [path, options, status] of cases) {
      const response = await page(system, path, options);
      assert.equal(response.status, status, path);
      assert.equal(response.headers["x-content-type-options"], "nosniff", path);
      assert.match(String(response.headers["content-security-policy"]), /default-src 'none'/);
    }
  });

  it("shows a script title escaped (XSS)", async (t) => {
    const system = await startSystem(t);
    const title = "<script>alert(1)</script>";
    const fields = { Title: title, Type: "Quiz", Score: "50" };
    const posted = await page(system, "/students/1/grades", form(fields));
    assert.equal(posted.status, 303);
    const text = (await page(system, "/students/1")).text();
    assert.ok(text.includes("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
    // The one script is the portal's own, the last thing in the body.
    assert.equal(text.match(/<script/g)?.length, 1);
    assert.match(text, /<script>\nfor \(const region of [^]*<\/script>\n<\/body>/);
    const headers = (await page(system, "/students/1")).headers;
    assert.match(String(headers["content-security-policy"]), /default-src 'none'/);
  });

  it("shows a bidi override in a title as a marker, not as reordered text", async (t) => {
    const system = await startSystem(t);
    await system.store.addGrade(1, { Title: "Report\u202Efdp.exe", Type: "Test", Score: 70 });
    const text = (await page(system, "/students/1")).text();
    assert.ok(text.includes('<td>Report<span class="ctl">U+202E</span>fdp.exe</td>'));
    assert.ok(!text.includes("\u202E"), "no raw override anywhere in the page");
  });

  it("shows the registry's services and the latest log entries, escaped", async (t) => {
    const system = await startSystem(t);
    const services = await page(system, "/services");
    assert.equal(services.status, 200);
    const text = services.text();
    for (const name of ["LogService", "GradingService", "TeacherPortal"]) {
      const row = `<td>${name}</td>\\s*<td><code>http://127.0.0.1:\\d+</code></td>`;
      assert.match(text, new RegExp(row));
    }
    assert.match(text, /<td class="passing">passing<\/td>/);
    const logURL = system.log.handle.url;
    const logged = await request(`${logURL}/log`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: "hello <b>portal</b>",
    });
    assert.equal(logged.status, 200);
    const logs = await page(system, "/logs");
    assert.equal(logs.status, 200);
    assert.match(logs.text(), /hello &lt;b&gt;portal&lt;\/b&gt;/);
    assert.ok(logs.text().includes(logURL));
  });
});
