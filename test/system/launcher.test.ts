import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer, type AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { systemServices } from "../../lib/launcher/services.ts";
import { request } from "../../lib/std/request.ts";
import { nothingListens, startLauncher } from "../support/launcher.ts";
import { runCommand } from "../support/process.ts";
import { spawnNode } from "../support/spawn.ts";
import { tempDir } from "../support/temp.ts";
import { eventually } from "../support/wait.ts";

// The system as the launcher defines it: these tests follow its list.
const services = systemServices("");
const names = services.map((spec) => spec.name);

/** Asserts that the registry's saved state holds no registration. */
async function allDeregistered(dir: string): Promise<void> {
  const state = await readFile(join(dir, "registry.json"), "utf8");
  assert.doesNotMatch(state, /ServiceURL/, "all deregistered before the registry stopped");
}

describe("launcher (make run)", () => {
  it("starts all, serves the portal, stops all on SIGTERM; each deregisters", async (t) => {
    const dir = await tempDir(t, "launcher");
    const { launcher, child, lines, portalURL, rows, url } = await startLauncher(t, dir);

    // Every service's output carries its name.
    for (const name of names) {
      const started = new RegExp(`^${name} +\\| .*listening on http://127\\.0\\.0\\.1:\\d+`);
      assert.ok(lines().some((line) => started.test(line)), `no startup line for ${name}`);
    }
    assert.deepEqual([...rows.keys()], names, `summary lists every service:\n${launcher.tail()}`);

    const students = await request(`${portalURL}/students`);
    assert.equal(students.status, 200);
    assert.match(students.text(), /Simen, Averill/);
    const hello = await request(`${url("hello")}/hello?name=Ada`);
    assert.equal(hello.status, 200);
    assert.match(hello.text(), /Ada/);
    const registered = await request(`${url("registry")}/services`);
    const list = (registered.json() as { Services: Array<{ ServiceName: string }> }).Services;
    assert.deepEqual(
      list.map((entry) => entry.ServiceName).sort(),
      services.flatMap((spec) => spec.serviceName ?? []).sort(),
    );

    // A second system on the same folder would share its files: it refuses to start.
    const second = await runCommand("launcher", ["--ports", "any", "--dir", dir]);
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr,
      `launcher: ${dir} is in use by process ${child.pid} (lock file ${dir}/.lock.1)\n`,
    );

    child.kill("SIGTERM");
    const { code } = await launcher.exited;
    assert.equal(code, 0, launcher.tail());
    // Reverse order: the last one first, the registry last.
    const stopping = lines()
      .filter((line) => / \| stopping$/.test(line))
      .map((line) => line.split(" ")[0]);
    assert.deepEqual(stopping, [...names].reverse());
    // Nothing is left listening, and the registry's saved state holds no registration.
    for (const { url } of rows.values()) {
      await assert.rejects(request(url, { timeoutMs: 1_000 }), { code: "ECONNREFUSED" });
    }
    await allDeregistered(dir);
    const log = await readFile(join(dir, "distributed.log"), "utf8");
    assert.match(log, /\[HelloService\] - .*Ada/);
  });

  it("fails with one line and exit 1 when a service cannot start, 2 for a bad flag", async (t) => {
    const dir = await tempDir(t, "launcher");
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    t.after(() => taken.close());
    const port = String((taken.address() as AddressInfo).port);
    const run = (...args: string[]) => runCommand("launcher", ["--dir", dir, ...args]);
    const busy = await run("--host", "127.0.0.1", "--port", port);
    assert.equal(busy.code, 1);
    assert.match(
      busy.stderr,
      /^launcher: registryservice: exited with code 1 before it was up\n$/,
    );
    const bad = await run("--ports", "some");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--ports: want fixed or any, got "some"/);
    const help = await runCommand("launcher", ["-h"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`\\(${names.join(", ")}\\)`), "the help names the list");
  });

  it("reports a killed service with its signal and the command that starts it again", async (t) => {
    const dir = await tempDir(t, "launcher");
    const { launcher, child, rows, url } = await startLauncher(t, dir);
    const last = names.at(-1) ?? "";
    const victim = rows.get(last) ?? assert.fail("no last service");
    process.kill(victim.pid, "SIGKILL");
    const report = new RegExp(`^${last} +\\| killed by SIGKILL; .*\n${last} +\\| +node (.+)$`, "m");
    const [, command = ""] = await launcher.waitOutput(report);
    // The command it printed brings the service back, under the same URL.
    const again = spawnNode("restarted", command.split(" "));
    t.after(() => again.signal("SIGKILL"));
    await again.waitLine(new RegExp(` listening on ${url(last)}$`));
    assert.equal((await again.stop()).code, 0, again.tail());

    child.kill("SIGTERM");
    assert.equal((await launcher.exited).code, 0, launcher.tail());
  });

  it("stops every service on SIGHUP even when its terminal is gone", async (t) => {
    const dir = await tempDir(t, "launcher");
    const { launcher, child, rows } = await startLauncher(t, dir);
    // The reader goes away first (`make run | tee`, a closed terminal): every later write of
    // the launcher fails with EPIPE.
    child.stdout.destroy();
    child.stderr.destroy();
    child.kill("SIGHUP");
    assert.equal((await launcher.exited).code, 0);
    for (const { url } of rows.values()) {
      await assert.rejects(request(url, { timeoutMs: 1_000 }), { code: "ECONNREFUSED" });
    }
    await allDeregistered(dir);
  });

  it("leaves nothing behind when killed with SIGKILL: each service deregisters", async (t) => {
    const dir = await tempDir(t, "launcher");
    const { launcher, rows } = await startLauncher(t, dir);
    await launcher.crash();
    await nothingListens([...rows.values()].map((row) => row.url));
    // The registry stops last, once every other service has gone; a clean stop removes its
    // lock file (the killed launcher's own stays behind, stale).
    await eventually(async () => {
      const left = (await readdir(dir)).filter((name) => name.startsWith("registry.json.lock"));
      return left.length === 0 || undefined;
    }, 15_000, "the registry's clean stop");
    await allDeregistered(dir);
  });
});
