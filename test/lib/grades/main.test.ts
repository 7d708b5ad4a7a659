import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { request } from "../../../lib/service/request.ts";

const main = fileURLToPath(new URL("../../../cmd/gradingservice/main.js", import.meta.url));

async function deadURL(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

interface Child {
  process: ChildProcessWithoutNullStreams;
  exited: Promise<unknown[]>;
  stderr(): string;
}

function run(t: TestContext, args: string[]): Child {
  const child = spawn(process.execPath, [main, ...args], { stdio: "pipe" });
  const exited = once(child, "exit");
  const err: string[] = [];
  child.stderr.on("data", (chunk: Buffer) => err.push(chunk.toString()));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return { process: child, exited, stderr: () => err.join("") };
}

async function listening(child: Child): Promise<string> {
  for await (const line of createInterface({ input: child.process.stdout })) {
    const match = /^GradingService listening on (http:\/\/\S+)$/.exec(line);
    if (match?.[1]) return match[1];
  }
  throw new Error(`gradingservice: no startup line; stderr: ${child.stderr()}`);
}

describe("gradingservice command", () => {
  it("keeps an acknowledged grade across kill -9, serving with the registry down", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "grading-main-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
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
    first.process.kill("SIGKILL");
    await first.exited;

    const second = run(t, args);
    const again = await listening(second);
    const student = (await request(`${again}/students/4`)).json() as { Grades: unknown[] };
    assert.deepEqual(student.Grades.at(-1), grade);
    second.process.kill("SIGTERM");
    const [code] = await second.exited;
    assert.equal(code, 0, second.stderr());
  });

  it("exits 1 with a clear message on a corrupt data file, leaving it as it was", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "grading-main-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const data = join(dir, "grades.json");
    await writeFile(data, "{oops");
    const child = run(t, ["--port", "0", "--data", data, "--registry", await deadURL()]);
    const [code] = await child.exited;
    assert.equal(code, 1);
    assert.match(child.stderr(), /^gradingservice: grades: .*grades\.json is corrupt/m);
    assert.equal(await readFile(data, "utf8"), "{oops");
  });

  it("exits 2 with one line on an unknown flag", async (t) => {
    const child = run(t, ["--nope"]);
    const [code] = await child.exited;
    assert.equal(code, 2);
    assert.match(child.stderr(), /^gradingservice: .*nope.*\n$/);
  });
});
