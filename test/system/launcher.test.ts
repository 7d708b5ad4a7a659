import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer, type AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { describe, it, type TestContext } from "node:test";
import { request } from "../../lib/std/request.ts";
import { commandPath, runCommand } from "../support/process.ts";
import { tempDir } from "../support/temp.ts";

const launcher = commandPath("launcher");

/** Starts the launcher on free ports and waits for its "Teacher portal" line. */
async function startLauncher(t: TestContext, dir: string) {
  const args = [launcher, "--ports", "any", "--dir", dir, "--host", "127.0.0.1"];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = once(child, "exit");
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const lines: string[] = [];
  const portal = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line);
      const match = /^Teacher portal: (\S+)\/students$/.exec(line);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then(() => reject(new Error(`launcher exited early:\n${lines.join("\n")}`)));
  });
  createInterface({ input: child.stderr }).on("line", (line) => lines.push(line));
  const portalURL = await portal;
  // The summary lists every service's URL.
  const urls = new Map<string, string>();
  for (const line of lines) {
    const match = /^ {2}(\w+) +(http:\/\/\S+)$/.exec(line);
    if (match?.[1] && match[2]) urls.set(match[1], match[2]);
  }
  return { child, exited, lines, portalURL, urls };
}

describe("launcher (make run)", () => {
  it("starts all, serves the portal, stops all on SIGTERM; each deregisters", async (t) => {
    const dir = await tempDir(t, "launcher");
    const { child, exited, lines, portalURL, urls } = await startLauncher(t, dir);

    // Every service's output carries its name.
    for (const name of ["registry", "log", "grading", "portal", "hello"]) {
      const started = new RegExp(`^${name} +\\| .*listening on http://127\\.0\\.0\\.1:\\d+`);
      assert.ok(
        lines.some((line) => started.test(line)),
        `no prefixed startup line for ${name}:\n${lines.join("\n")}`,
      );
    }
    assert.equal(urls.size, 5, `summary lists every service:\n${lines.join("\n")}`);

    const students = await request(`${portalURL}/students`);
    assert.equal(students.status, 200);
    assert.match(students.text(), /Simen, Averill/);
    const hello = await request(`${urls.get("hello")}/hello?name=Ada`);
    assert.equal(hello.status, 200);
    assert.match(hello.text(), /Ada/);
    const registered = await request(`${urls.get("registry")}/services`);
    const list = (registered.json() as { Services: Array<{ ServiceName: string }> }).Services;
    assert.deepEqual(
      list.map((entry) => entry.ServiceName).sort(),
      ["GradingService", "HelloService", "LogService", "TeacherPortal"],
    );

    // A second system on the same folder would share its files: it refuses to start.
    const second = await runCommand("launcher", ["--ports", "any", "--dir", dir]);
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr,
      `launcher: ${dir} is in use by process ${child.pid} (lock file ${dir}/.lock.1)\n`,
    );

    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0, lines.join("\n"));
    // Reverse order: hello first, the registry last.
    const stopping = lines
      .filter((line) => / \| stopping$/.test(line))
      .map((line) => line.split(" ")[0]);
    assert.deepEqual(stopping, ["hello", "portal", "grading", "log", "registry"]);
    // Nothing is left listening, and the registry's saved state holds no registration.
    for (const url of urls.values()) {
      await assert.rejects(request(url, { timeoutMs: 1_000 }), { code: "ECONNREFUSED" });
    }
    const state = await readFile(join(dir, "registry.json"), "utf8");
    assert.doesNotMatch(state, /ServiceURL/, "all deregistered before the registry stopped");
    const log = await readFile(join(dir, "distributed.log"), "utf8");
    assert.match(log, /\[HelloService\] - .*Ada/);
  });

  it("fails with one line and exit 1 when a service cannot start, 2 for a bad flag", async (t) => {
    const dir = await tempDir(t, "launcher");
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    t.after(() => taken.close());
    const port = String((taken.address() as AddressInfo).port);
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [launcher, "--dir", dir, ...args]).then(
        () => ({ code: 0, stderr: "" }),
        (error: { code: number; stderr: string }) => error,
      );
    const busy = await run("--host", "127.0.0.1", "--port", port);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /^launcher: registryservice: exited \(1\) before it was up\n$/);
    const bad = await run("--ports", "some");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--ports: want fixed or any, got "some"/);
  });

  it("stops every service even when its terminal is gone (`make run | tee`)", async (t) => {
    const dir = await tempDir(t, "launcher");
    const { child, exited, urls } = await startLauncher(t, dir);
    // The reader goes away first: every later write of the launcher fails with EPIPE.
    child.stdout.destroy();
    child.stderr.destroy();
    child.kill("SIGINT");
    const [code] = await exited;
    assert.equal(code, 0);
    for (const url of urls.values()) {
      await assert.rejects(request(url, { timeoutMs: 1_000 }), { code: "ECONNREFUSED" });
    }
    const state = await readFile(join(dir, "registry.json"), "utf8");
    assert.doesNotMatch(state, /ServiceURL/, "all deregistered before the registry stopped");
  });
});
