// The logservice command as a process: flags, registration with a real registry, SIGTERM.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { listServices } from "../../lib/registry/client.ts";
import { request } from "../../lib/std/request.ts";
import { runCommand, startCommand, type CommandName } from "../support/process.ts";
import type { Spawned } from "../support/spawn.ts";
import { tempDir } from "../support/temp.ts";
import { eventually } from "../support/wait.ts";

/** A command on its way, and the URL from its `<Name> listening on <url>` line. */
interface Running extends Spawned {
  url: string;
}

/** Spawns a command and waits for its `<Name> listening on <url>` line. */
async function run(t: TestContext, command: CommandName, args: string[]): Promise<Running> {
  const spawned = startCommand(t, command, args);
  const [, url = ""] = await spawned.waitLine(/ listening on (http:\/\/\S+)$/);
  return { ...spawned, url };
}

describe("logservice command", () => {
  it("prints --help with its flags and exits 0", async () => {
    const { code, stdout } = await runCommand("logservice", ["--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /usage: logservice/);
    assert.match(stdout, /--file FILE .*default "distributed\.log"/);
    assert.match(stdout, /--prefix TEXT .*default "go "/);
  });

  const bad: Array<[string[], RegExp]> = [
    [["--nope"], /Unknown option '--nope'/],
    [["--port", "abc"], /--port: want an integer/],
    [["--registry", "not a url"], /--registry: not a URL/],
  ];
  for (const [args, message] of bad) {
    it(`rejects ${args.join(" ")} on one line with exit code 2`, async () => {
      const { code, stderr } = await runCommand("logservice", args);
      assert.equal(code, 2);
      assert.match(stderr, message);
      assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    });
  }

  it("exits 1 with a clear message when the file cannot be opened", async () => {
    const args = ["--port", "0", "--file", "/nonexistent-dir/x.log"];
    const { code, stderr } = await runCommand("logservice", args);
    assert.equal(code, 1);
    assert.match(stderr, /ENOENT/);
  });

  it("registers, stores entries with its prefix, and deregisters on SIGTERM", async (t) => {
    const dir = await tempDir(t, "logservice-process");
    const local = ["--host", "127.0.0.1", "--port", "0"];
    const registry = await run(t, "registryservice", [...local, "--state", ""]);
    const file = join(dir, "service.log");
    const log = await run(t, "logservice", [
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
    const { code } = await log.exited;
    assert.equal(code, 0, log.stderr());
    assert.deepEqual(await listServices(options), [], "deregistered");
    registry.child.kill("SIGTERM");
    const { code: registryCode } = await registry.exited;
    assert.equal(registryCode, 0, registry.stderr());
  });
});
