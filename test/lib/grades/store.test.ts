import assert from "node:assert/strict";
import { NotFoundError, UnavailableError, ValidationError } from "../../../lib/std/errors.ts";
import { mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { seedStudents } from "../../../lib/grades/data.ts";
import { openGradeStore } from "../../../lib/grades/store.ts";
import { tempDir } from "../../support/temp.ts";

async function tempFile(t: TestContext): Promise<{ dir: string; file: string }> {
  const dir = await tempDir(t, "grades-store");
  return { dir, file: join(dir, "grades.json") };
}

describe("openGradeStore", () => {
  it("seeds the five students into a missing file", async (t) => {
    const { file } = await tempFile(t);
    const store = await openGradeStore({ file });
    assert.deepEqual(store.list(), seedStudents());
    assert.deepEqual(JSON.parse(await readFile(file, "utf8")), seedStudents());
    await store.close();
  });

  it("keeps an acknowledged grade across a restart of the store", async (t) => {
    const { file } = await tempFile(t);
    const first = await openGradeStore({ file });
    const grade = { Title: "<script>alert(1)</script>", Type: "Test" as const, Score: 72.5 };
    assert.deepEqual(await first.addGrade(2, grade), grade);
    // No close(): the file must already hold it when addGrade resolved (kill -9 semantics).
    const second = await openGradeStore({ file });
    assert.deepEqual(second.get(2)?.Grades.at(-1), grade);
    await Promise.all([first.close(), second.close()]);
  });

  it("reports a corrupt file clearly and leaves it untouched", async (t) => {
    const { file } = await tempFile(t);
    for (const text of ["{not json", "[]x", '[{"ID":1}]', '{"students":[]}']) {
      await writeFile(file, text);
      await assert.rejects(openGradeStore({ file }), (error: Error) => {
        assert.match(error.message, /grades: .*grades\.json is corrupt/);
        return true;
      });
      assert.equal(await readFile(file, "utf8"), text);
    }
  });

  it("group-commits concurrent grades: none lost, in order, two writes", async (t) => {
    const { dir, file } = await tempFile(t);
    const store = await openGradeStore({ file });
    const titles = Array.from({ length: 20 }, (_, i) => `Concurrent ${i}`);
    const added = await Promise.all(
      titles.map((Title, i) => store.addGrade((i % 5) + 1, { Title, Type: "Quiz", Score: i })),
    );
    assert.deepEqual(added.map((g) => g.Title), titles);
    // The first write takes the first grade; the 19 that arrive meanwhile share the next one.
    assert.equal(store.writes, 2);
    const reopened = await openGradeStore({ file });
    const stored = reopened.list().flatMap((s) => s.Grades.map((g) => g.Title));
    for (const title of titles) assert.ok(stored.includes(title), title);
    assert.deepEqual(
      reopened.get(1)?.Grades.slice(3).map((g) => g.Title),
      ["Concurrent 0", "Concurrent 5", "Concurrent 10", "Concurrent 15"],
    );
    // No temp files are left behind.
    assert.deepEqual((await readdir(dir)).sort(), ["grades.json", "grades.json.journal"]);
    await Promise.all([store.close(), reopened.close()]);
  });

  it("rejects a grade whose write fails and stores nothing of it", async (t) => {
    const { file } = await tempFile(t);
    const store = await openGradeStore({ file });
    // A directory where the journal should be: appending to it fails.
    await mkdir(`${file}.journal`);
    await assert.rejects(
      store.addGrade(1, { Title: "Lost", Type: "Quiz", Score: 1 }),
      /grades: save .*grades\.json\.journal/,
    );
    assert.equal(store.get(1)?.Grades.length, 3);
    await rm(`${file}.journal`, { recursive: true });
    await store.addGrade(1, { Title: "Kept", Type: "Quiz", Score: 2 });
    const titles = (await openGradeStore({ file })).get(1)?.Grades.map((g) => g.Title);
    assert.deepEqual(titles, ["Quiz 1", "Week 1 Homework", "Quiz 2", "Kept"]);
    await store.close();
  });

  it("refuses unknown students with 404 and new grades after close with 503", async (t) => {
    const { file } = await tempFile(t);
    const store = await openGradeStore({ file });
    const grade = { Title: "a", Type: "Quiz" as const, Score: 1 };
    await assert.rejects(store.addGrade(99, grade), NotFoundError);
    await store.close();
    await assert.rejects(store.addGrade(1, grade), UnavailableError);
  });

  it("hands out copies, so callers cannot change stored state", async (t) => {
    const { file } = await tempFile(t);
    const store = await openGradeStore({ file });
    store.list()[0]?.Grades.pop();
    const one = store.get(1);
    if (one) one.FirstName = "Mallory";
    assert.deepEqual(store.list(), seedStudents());
    await store.close();
  });

  it("appends one journal line per grade and never rewrites the data file for it", async (t) => {
    const { file } = await tempFile(t);
    const store = await openGradeStore({ file });
    const before = await stat(file);
    for (let i = 0; i < 50; i++) {
      await store.addGrade((i % 5) + 1, { Title: `Q${i}`, Type: "Quiz", Score: i });
    }
    const after = await stat(file);
    assert.equal(after.mtimeMs, before.mtimeMs, "the data file was not written");
    assert.equal(after.ino, before.ino, "nor replaced");
    const lines = (await readFile(`${file}.journal`, "utf8")).trimEnd().split("\n");
    assert.equal(lines.length, 50);
    assert.deepEqual(JSON.parse(lines[5] ?? ""), {
      id: 1, index: 4, grade: { Title: "Q5", Type: "Quiz", Score: 5 },
    });
    assert.equal(store.writes, 50);
    await store.close();
  });

  it("folds the journal into the data file when it outgrows it, and at a clean stop", async (t) => {
    const { dir, file } = await tempFile(t);
    const store = await openGradeStore({ file, compactBytes: 1_024 });
    for (let i = 0; i < 40; i++) {
      await store.addGrade((i % 5) + 1, { Title: `Fold ${i}`, Type: "Test", Score: 50 });
    }
    const onDisk = JSON.parse(await readFile(file, "utf8")) as Array<{ Grades: unknown[] }>;
    const folded = onDisk.reduce((sum, student) => sum + student.Grades.length, 0) - 15;
    assert.ok(folded > 0, "some grades were folded into the data file");
    const journal = await readFile(`${file}.journal`, "utf8");
    assert.equal(folded + (journal === "" ? 0 : journal.trimEnd().split("\n").length), 40);
    await store.close();
    assert.deepEqual(await readdir(dir), ["grades.json"]);
    const reopened = await openGradeStore({ file });
    assert.equal(reopened.list().reduce((sum, s) => sum + s.Grades.length, 0), 55);
    await reopened.close();
  });

  it("replays after a crash: grades already folded are not added twice", async (t) => {
    const { file } = await tempFile(t);
    const store = await openGradeStore({ file });
    await store.addGrade(2, { Title: "Once", Type: "Quiz", Score: 9 });
    await store.addGrade(2, { Title: "Twice", Type: "Quiz", Score: 8 });
    const journal = await readFile(`${file}.journal`, "utf8");
    // A crash after the fold wrote the data file but before it emptied the journal.
    const students = store.list();
    await writeFile(file, JSON.stringify(students.map((s) =>
      s.ID === 2 ? { ...s, Grades: s.Grades.slice(0, 4) } : s)));
    await writeFile(`${file}.journal`, journal);
    const reopened = await openGradeStore({ file });
    assert.deepEqual(reopened.get(2)?.Grades.slice(3).map((g) => g.Title), ["Once", "Twice"]);
    await reopened.close();
    await store.close().catch(() => {});
  });

  it("drops a torn last journal line and refuses a corrupt one, leaving the files as they are",
    async (t) => {
      const { file } = await tempFile(t);
      const store = await openGradeStore({ file });
      await store.addGrade(3, { Title: "Kept", Type: "Quiz", Score: 1 });
      const whole = await readFile(`${file}.journal`, "utf8");
      await writeFile(`${file}.journal`, `${whole}{"id":3,"ind`);
      const lines: string[] = [];
      const reopened = await openGradeStore({ file, log: (line) => void lines.push(line) });
      assert.deepEqual(reopened.get(3)?.Grades.at(-1)?.Title, "Kept");
      assert.ok(lines.some((line) => /torn last line/.test(line)), lines.join("\n"));
      await reopened.close();

      for (const bad of ['{"id":3}\n', '{"id":9,"index":3,"grade":{"Title":"x","Type":"Quiz",' +
        '"Score":1}}\n', '{"id":3,"index":99,"grade":{"Title":"x","Type":"Quiz","Score":1}}\n']) {
        await writeFile(`${file}.journal`, bad);
        const data = await readFile(file, "utf8");
        await assert.rejects(openGradeStore({ file }), /grades\.json\.journal is corrupt/);
        assert.equal(await readFile(`${file}.journal`, "utf8"), bad);
        assert.equal(await readFile(file, "utf8"), data);
      }
      await store.close().catch(() => {});
    });

  it("refuses a grade beyond the most one student may have", async (t) => {
    const { file } = await tempFile(t);
    const store = await openGradeStore({ file });
    const grade = { Title: "Many", Type: "Quiz" as const, Score: 1 };
    const most = 1_000;
    // Student 4 starts with 3 grades.
    await Promise.all(Array.from({ length: most - 3 }, () => store.addGrade(4, grade)));
    await assert.rejects(store.addGrade(4, grade), (error: unknown) =>
      error instanceof ValidationError && /already has 1000 grades/.test(error.message));
    assert.equal(store.get(4)?.Grades.length, most);
    await store.addGrade(5, grade);
    await store.close();
  });
});

