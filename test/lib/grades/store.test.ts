import assert from "node:assert/strict";
import { NotFoundError, UnavailableError } from "../../../lib/std/errors.ts";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
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
    assert.deepEqual(await readdir(dir), ["grades.json"]);
    await Promise.all([store.close(), reopened.close()]);
  });

  it("rejects a grade whose write fails and stores nothing of it", async (t) => {
    const { file } = await tempFile(t);
    const store = await openGradeStore({ file });
    // A non-empty directory where the file should be: the rename over it fails.
    const saved = await readFile(file, "utf8");
    await rm(file);
    await mkdir(join(file, "blocker"), { recursive: true });
    await assert.rejects(
      store.addGrade(1, { Title: "Lost", Type: "Quiz", Score: 1 }),
      /grades: save .*grades\.json/,
    );
    assert.equal(store.get(1)?.Grades.length, 3);
    await rm(file, { recursive: true });
    await writeFile(file, saved);
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
});
