// The logservice command as a process: flags, registration with a real registry, SIGTERM.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { listServices } from "../../lib/registry/client.ts";
import { request } from "../../lib/service/request.ts";
import { eventually } from "../lib/service/fakes.ts";

const logMain = fileURLToPath(new URL("../../cmd/logservice/main.js", import.meta.url));
const registryMain = fileURLToPath(new URL("../../cmd/registryservice/main.js", import.meta.url));

interface Running {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: string[];
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/** Spawns a command and waits for its `<Name> listening on <url>` line. */
async function run(t: TestContext, main: string, args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [main, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const stderr: string[] = [];
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
  let url = "";
  for await (const line of createInterface({ input: child.stdout })) {
    const match = / listening on (http:\/\/\S+)$/.exec(line);
    if (match?.[1]) {
      url = match[1];
      break;
    }
  }
  assert.notEqual(url, "", `no startup line; stderr: ${stderr.join("")}`);
  return { child, url, stderr, exited };
}

interface Outcome {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a command to completion and returns its exit code and output. */
async function runToEnd(args: string[]): Promise<Outcome> {
  const child = spawn(process.execPath, [logMain, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, out, err };
}

describe("logservice command", () => {
  it("prints --help with its flags and exits 0", async () => {
    const { code, out } = await runToEnd(["--help"]);
    assert.equal(code, 0);
    assert.match(out, /usage: logservice/);
    assert.match(out, /--file VALUE .*default "distributed\.log"/);
    assert.match(out, /--prefix VALUE .*default "go "/);
  });

  const bad: Array<[string[], RegExp]> = [
    [["--nope"], /Unknown option '--nope'/],
    [["--port", "abc"], /--port: want an integer/],
    [["--registry", "not a url"], /--registry: not a URL/],
  ];
  for (const [args, message] of bad) {
    it(`rejects ${args.join(" ")} on one line with exit code 2`, async () => {
      const { code, err } = await runToEnd(args);
      assert.equal(code, 2);
      assert.match(err, message);
      assert.equal(err.trimEnd().split("\n").length, 1, err);
    });
  }

  it("exits 1 with a clear message when the file cannot be opened", async () => {
    const { code, err } = await runToEnd(["--port", "0", "--file", "/nonexistent-dir/x.log"]);
    assert.equal(code, 1);
    assert.match(err, /ENOENT/);
  });

  it("registers, stores entries with its prefix, and deregisters on SIGTERM", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "logservice-process-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const local = ["--host", "127.0.0.1", "--port", "0"];
    const registry = await run(t, registryMain, [...local, "--state", ""]);
    const file = join(dir, "service.log");
    const log = await run(t, logMain, [
      ...local,
      ...["--registry", registry.url, "--file", file, "--prefix", "ts "],
    ]);
    const options = { registryURL: registry.url, name: "LogService" };
    const listed = await eventually(async () => {
      const services = await listServices(options);
      return services.length > 0 ? services : undefined;
    }, 5_000, "the log service in the registry");
    assert.deepEqual(listed.map((s) => s.ServiceURL), [log.url]);

    const posted = await request(`${log.url}/log`, { method: "POST", body: "from the test" });
    assert.equal(posted.status, 200);
    const stored = await readFile(file, "utf8");
    assert.match(stored, /^ts \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d from the test\n$/);
    const tail = await request(`${log.url}/log?lines=1`);
    assert.match(tail.text(), /from the test\n$/);

    log.child.kill("SIGTERM");
    const [code] = await log.exited;
    assert.equal(code, 0, log.stderr.join(""));
    assert.deepEqual(await listServices(options), [], "deregistered");
    registry.child.kill("SIGTERM");
    const [registryCode] = await registry.exited;
    assert.equal(registryCode, 0, registry.stderr.join(""));
  });
});
