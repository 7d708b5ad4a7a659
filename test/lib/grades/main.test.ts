import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { request } from "../../../lib/std/request.ts";
import { startCommand } from "../../support/process.ts";
import type { Spawned } from "../../support/spawn.ts";
import { deadURL, tempDir } from "../../support/temp.ts";

const run = (t: TestContext, args: string[]): Spawned => startCommand(t, "gradingservice", args);

async function listening(child: Spawned): Promise<string> {
  const [, url = ""] = await child.waitLine(/^GradingService listening on (http:\/\/\S+)$/);
  return url;
}

describe("gradingservice command", () => {
  it("keeps an acknowledged grade across kill -9, serving with the registry down", async (t) => {
    const dir = await tempDir(t, "grading-main");
    const data = join(dir, "grades.json");
    const registry = await deadURL();
    const args = ["--host", "127.0.0.1", "--port", "0", "--data", data, "--registry", registry];

    const first = run(t, args);
    const url = await listening(first);
    const grade = { Title: "Survives kill -9", Type: "Test", Score: 77 };
    const added = await request(`${url}/students/4/grades`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(grade),
    });
    assert.equal(added.status, 201);
    first.child.kill("SIGKILL");
    await first.exited;

    const second = run(t, args);
    const again = await listening(second);
    const student = (await request(`${again}/students/4`)).json() as { Grades: unknown[] };
    assert.deepEqual(student.Grades.at(-1), grade);
    second.child.kill("SIGTERM");
    const { code } = await second.exited;
    assert.equal(code, 0, second.stderr());
  });

  it("exits 1 with a clear message on a corrupt data file, leaving it as it was", async (t) => {
    const dir = await tempDir(t, "grading-main");
    const data = join(dir, "grades.json");
    await writeFile(data, "{oops");
    const child = run(t, ["--port", "0", "--data", data, "--registry", await deadURL()]);
    const { code } = await child.exited;
    assert.equal(code, 1);
    assert.match(child.stderr(), /^gradingservice: grades: .*grades\.json is corrupt/m);
    assert.equal(await readFile(data, "utf8"), "{oops");
  });

  it("exits 2 with one line on an unknown flag", async (t) => {
    const child = run(t, ["--nope"]);
    const { code } = await child.exited;
    assert.equal(code, 2);
    assert.match(child.stderr(), /^gradingservice: .*nope.*\n$/);
  });
});
