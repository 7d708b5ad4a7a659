import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { seedStudents } from "../../../lib/grades/data.ts";
import { createGradesHandler } from "../../../lib/grades/server.ts";
import { openGradeStore, type GradeStore } from "../../../lib/grades/store.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request, type RequestOptions } from "../../../lib/std/request.ts";
import { handContext } from "../../support/context.ts";

interface Grading {
  url: string;
  file: string;
  store: GradeStore;
  lines: string[];
  call(path: string, options?: RequestOptions): ReturnType<typeof request>;
}

/** A grading handler on a real server with a hand-made context, its store in a temp dir. */
async function startGrading(t: TestContext, token?: string): Promise<Grading> {
  const dir = await mkdtemp(join(tmpdir(), "grades-server-"));
  const file = join(dir, "grades.json");
  const store = await openGradeStore({ file });
  const { context, lines } = handContext(t, undefined, token);
  const server = await listen(createGradesHandler(context, { store }), {
    host: "127.0.0.1",
    metrics: context.metrics,
  });
  t.after(async () => {
    await server.close(0);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    url: server.url,
    file,
    store,
    lines,
    call: (path, options) => request(`${server.url}${path}`, options),
  };
}

const json = (body: string): RequestOptions => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body,
});

describe("grading GET /students", () => {
  it("answers the seeded students as JSON in wire format", async (t) => {
    const grading = await startGrading(t);
    const response = await grading.call("/students");
    assert.equal(response.status, 200);
    assert.match(String(response.headers["content-type"]), /^application\/json/);
    assert.deepEqual(response.json(), seedStudents());
  });

  it("answers one student, 404 for an unknown one, 400 for a non-numeric id", async (t) => {
    const grading = await startGrading(t);
    const one = await grading.call("/students/3");
    assert.equal(one.status, 200);
    assert.deepEqual(one.json(), seedStudents()[2]);
    const unknown = await grading.call("/students/99");
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json(), { error: "no student with ID 99" });
    const bad = await grading.call("/students/abc");
    assert.equal(bad.status, 400);
    assert.match(String((bad.json() as { error: string }).error), /^student id: /);
  });
});

describe("grading POST /students/{id}/grades", () => {
  it("answers 201 with the stored grade, saved to disk before the answer", async (t) => {
    const grading = await startGrading(t);
    const grade = { Title: "<script>alert(1)</script>", Type: "Homework", Score: 91 };
    const response = await grading.call("/students/1/grades", json(JSON.stringify(grade)));
    assert.equal(response.status, 201);
    assert.deepEqual(response.json(), grade);
    // On disk as the journal line that a restart replays.
    const journal = await readFile(`${grading.file}.journal`, "utf8");
    assert.deepEqual(JSON.parse(journal), { id: 1, index: 3, grade });
    const student = (await grading.call("/students/1")).json() as { Grades: unknown[] };
    assert.deepEqual(student.Grades.at(-1), grade);
    assert.equal(grading.lines.length, 1);
    assert.match(
      grading.lines[0] ?? "",
      /^added grade "<script>alert\(1\)<\/script>" \(Homework, 91\) for student 1 \(Averill /,
    );
  });

  interface Case {
    name: string;
    path?: string;
    method?: string;
    body?: string;
    status: number;
    error: RegExp;
    allow?: string;
  }
  const grade = (fields: string) => `{"Title":"a","Type":"Quiz",${fields}}`;
  const cases: Case[] = [
    { name: "a non-numeric id", path: "/students/abc/grades", body: grade('"Score":1'),
      status: 400, error: /^student id: / },
    { name: "an unknown id", path: "/students/77/grades", body: grade('"Score":1'),
      status: 404, error: /no student with ID 77/ },
    { name: "malformed JSON", body: '{"Title":', status: 400, error: /malformed JSON/ },
    { name: "an empty body", body: "", status: 400, error: /empty/ },
    { name: "a JSON array", body: "[]", status: 400, error: /grade: must be a JSON object/ },
    { name: "a missing Title", body: '{"Type":"Quiz","Score":1}', status: 400, error: /^Title: / },
    { name: "a 201-character Title", status: 400, error: /^Title: /,
      body: JSON.stringify({ Title: "x".repeat(201), Type: "Quiz", Score: 1 }) },
    { name: "a numeric Title", body: '{"Title":5,"Type":"Quiz","Score":1}', status: 400,
      error: /^Title: / },
    { name: "an unknown Type", body: '{"Title":"a","Type":"Exam","Score":1}', status: 400,
      error: /^Type: / },
    { name: "a string Score", body: grade('"Score":"90"'), status: 400, error: /^Score: / },
    { name: "an Infinity Score (1e999)", body: grade('"Score":1e999'), status: 400,
      error: /^Score: / },
    { name: "a NaN Score", body: grade('"Score":NaN'), status: 400, error: /malformed JSON/ },
    { name: "a null Score", body: grade('"Score":null'), status: 400, error: /^Score: / },
    { name: "a negative Score", body: grade('"Score":-1'), status: 400, error: /^Score: / },
    { name: "a Score over 100", body: grade('"Score":101'), status: 400, error: /^Score: / },
    { name: "an oversized body", status: 413, error: /larger than/,
      body: JSON.stringify({ Title: "a", Type: "Quiz", Score: 1, pad: "x".repeat(70_000) }) },
    { name: "GET on the grades path", method: "GET", status: 405, error: /not allowed/,
      allow: "POST" },
    { name: "PUT on a student", path: "/students/1", method: "PUT", body: "{}", status: 405,
      error: /not allowed/, allow: "GET, HEAD" },
    { name: "an unknown path", path: "/teachers", method: "GET", status: 404,
      error: /no such path/ },
  ];

  it("refuses every bad request with a clear 4xx, logs it once and changes nothing", async (t) => {
    const grading = await startGrading(t);
    const before = await readFile(grading.file, "utf8");
    for (const [index, c] of cases.entries()) {
      const method = c.method ?? "POST";
      const response = await grading.call(c.path ?? "/students/1/grades", {
        method,
        headers: { "Content-Type": "application/json" },
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      assert.equal(response.status, c.status, c.name);
      const body = response.json() as { error: unknown };
      assert.equal(typeof body.error, "string", c.name);
      assert.match(String(body.error), c.error, c.name);
      if (c.allow) assert.equal(response.headers["allow"], c.allow, c.name);
      assert.equal(grading.lines.length, index + 1, `${c.name}: logged once`);
      const logged = new RegExp(`^${method} .*: ${c.status} `);
      assert.match(grading.lines[index] ?? "", logged);
    }
    assert.deepEqual((await grading.call("/students")).json(), seedStudents());
    assert.equal(await readFile(grading.file, "utf8"), before);
    assert.equal(grading.store.writes, 0);
  });

  it("acknowledges 40 concurrent grades and loses none of them", async (t) => {
    const grading = await startGrading(t);
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        grading.call(
          `/students/${(i % 5) + 1}/grades`,
          json(JSON.stringify({ Title: `Q${i}`, Type: "Quiz", Score: i })),
        ),
      ),
    );
    assert.deepEqual(responses.map((r) => r.status), Array<number>(40).fill(201));
    const reopened = await openGradeStore({ file: grading.file });
    const titles = reopened.list().flatMap((s) => s.Grades.map((g) => g.Title));
    for (let i = 0; i < 40; i++) assert.ok(titles.includes(`Q${i}`), `Q${i} is on disk`);
    assert.ok(grading.store.writes <= 40);
    await reopened.close();
  });

  it("requires the shared token on POST when one is set, and counts added grades", async (t) => {
    const grading = await startGrading(t, "s3cret");
    const body = JSON.stringify({ Title: "Q", Type: "Quiz", Score: 1 });
    const refused = await grading.call("/students/1/grades", json(body));
    assert.equal(refused.status, 401);
    assert.equal(grading.store.get(1)?.Grades.length, 3, "nothing stored");
    const wrong = json(body);
    wrong.headers = { ...wrong.headers, Authorization: "Bearer nope" };
    assert.equal((await grading.call("/students/1/grades", wrong)).status, 401);
    const right = json(body);
    right.headers = { ...right.headers, Authorization: "bearer s3cret" };
    assert.equal((await grading.call("/students/1/grades", right)).status, 201);
    assert.equal((await grading.call("/students/1")).status, 200, "reading stays open");
    const metrics = (await grading.call("/metrics")).text();
    assert.match(metrics, /^grades_added_total 1$/m);
  });
});

