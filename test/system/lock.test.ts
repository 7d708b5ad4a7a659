import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startCommand, type CommandName } from "../support/process.ts";
import { deadURL, tempDir } from "../support/temp.ts";

// Each command that owns a data file, the flag that names it, and how it is started alone.
const owners: Array<{ command: CommandName; flag: string; file: string; registry: boolean }> = [
  { command: "registryservice", flag: "--state", file: "registry.json", registry: false },
  { command: "logservice", flag: "--file", file: "distributed.log", registry: true },
  { command: "gradingservice", flag: "--data", file: "grades.json", registry: true },
];

describe("a data file has one owner", () => {
  for (const { command, flag, file, registry } of owners) {
    it(`${command}: a second one on the same ${flag} refuses until the first dies`, async (t) => {
      const dir = await tempDir(t, "owner");
      const path = join(dir, file);
      const args = ["--host", "127.0.0.1", "--port", "0", flag, path];
      // A registry nobody answers: the services keep serving while they retry.
      if (registry) args.push("--registry", await deadURL());
      const first = startCommand(t, command, args);
      await first.waitLine(/ listening on /);
      const before = await stat(path).catch(() => undefined);

      const second = startCommand(t, command, args);
      const { code } = await second.exited;
      assert.equal(code, 1);
      const pid = first.child.pid ?? 0;
      assert.equal(
        second.stderr(),
        `${command}: ${path} is in use by process ${pid} (lock file ${path}.lock.1)\n`,
      );
      assert.equal(second.stdout(), "", "it never listened");
      const after = await stat(path).catch(() => undefined);
      assert.equal(after?.mtimeMs, before?.mtimeMs, "the file was not touched");

      first.child.kill("SIGKILL");
      await first.exited;
      const third = startCommand(t, command, args);
      await third.waitLine(/ listening on /);
      third.child.kill("SIGTERM");
      assert.equal((await third.exited).code, 0, third.stderr());
    });
  }
});
