import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { LockedError, withFileLock } from "../../../lib/std/lock.ts";
import { startScript } from "../../support/process.ts";
import type { Spawned } from "../../support/spawn.ts";
import { tempDir } from "../../support/temp.ts";
import { deferred } from "../../support/wait.ts";

const lockModule = new URL("../../../lib/std/lock.js", import.meta.url).href;

// A process that locks the file named by its first argument, prints "locked" and holds the
// lock until it is killed, or prints the refusal and exits 1.
const holderSource = `
const { withFileLock } = await import(${JSON.stringify(lockModule)});
try {
  await withFileLock(process.argv[1], () => {
    console.log("locked");
    return new Promise(() => setInterval(() => {}, 60_000));
  });
} catch (error) {
  console.log(error.message);
  process.exitCode = 1;
}
`;

function holder(t: TestContext, file: string): Spawned {
  return startScript(t, "lock holder", holderSource, [file]);
}

/** The names of the lock files beside `file`. */
async function lockFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.includes(".lock")).sort();
}

/** Resolves with what `withFileLock` does for `file`: "locked", or the refusal's message. */
function tryLock(file: string): Promise<string> {
  return withFileLock(file, async () => "locked").catch((error: unknown) => {
    if (error instanceof LockedError) return error.message;
    throw error;
  });
}

describe("withFileLock", () => {
  it("holds the file while `use` runs and gives it up afterwards", async (t) => {
    const dir = await tempDir(t, "lock");
    const file = join(dir, "grades.json");
    const inside = await withFileLock(file, async () => {
      const names = await lockFiles(dir);
      const text = await readFile(join(dir, "grades.json.lock.1"), "utf8");
      // Refused inside the same process too, naming this process.
      return { names, text, again: await tryLock(file) };
    });
    assert.deepEqual(inside.names, ["grades.json.lock.1"]);
    assert.match(inside.text, new RegExp(`^${process.pid} \\S+\\n$`));
    assert.equal(
      inside.again,
      `${file} is in use by process ${process.pid} (lock file ${file}.lock.1)`,
    );
    assert.deepEqual(await lockFiles(dir), [], "released");
    assert.equal(await tryLock(file), "locked");
    await assert.rejects(withFileLock(file, async () => {
      throw new Error("use failed");
    }), /use failed/);
    assert.deepEqual(await lockFiles(dir), [], "released after `use` failed");
  });

  it("keeps the lock of a folder inside it", async (t) => {
    const dir = await tempDir(t, "lock");
    const names = await withFileLock(dir, async () => ({
      names: await lockFiles(dir),
      again: await tryLock(`${dir}/`),
    }));
    assert.deepEqual(names.names, [".lock.1"]);
    const refusal = `${dir}/ is in use by process ${process.pid} (lock file ${dir}/.lock.1)`;
    assert.equal(names.again, refusal);
    assert.deepEqual(await lockFiles(dir), []);
  });

  it("names the file when its folder does not exist", async (t) => {
    const dir = await tempDir(t, "lock");
    const file = join(dir, "missing", "grades.json");
    await assert.rejects(tryLock(file), new RegExp(`^Error: ${file}: cannot lock it: .*ENOENT`));
  });

  it("lets exactly one of many concurrent callers in", async (t) => {
    const dir = await tempDir(t, "lock");
    const file = join(dir, "state.json");
    const callers = 20;
    // The one let in holds the file until every other caller has been refused.
    const allRefused = deferred();
    let refused = 0;
    const outcomes = await Promise.all(
      Array.from({ length: callers }, () =>
        withFileLock(file, async () => {
          await allRefused.promise;
          return "locked";
        }).catch((error: unknown) => {
          if (!(error instanceof LockedError)) throw error;
          if (++refused === callers - 1) allRefused.resolve();
          return "refused";
        })),
    );
    assert.deepEqual(outcomes.filter((outcome) => outcome === "locked"), ["locked"]);
    assert.deepEqual(await lockFiles(dir), []);
  });

  const stale: Array<[string, () => string]> = [
    ["a process that no longer exists", () => "2147483646 boot/1\n"],
    // A living process (this one's parent) with another start time: its PID was reused.
    ["a reused PID", () => `${process.ppid} 00000000-0000-0000-0000-000000000000/1\n`],
    ["no holder at all (written by hand)", () => "whatever\n"],
  ];
  for (const [what, content] of stale) {
    it(`takes over a lock file left by ${what}`, async (t) => {
      const dir = await tempDir(t, "lock");
      const file = join(dir, "distributed.log");
      await writeFile(join(dir, "distributed.log.lock.4"), content());
      const names = await withFileLock(file, () => lockFiles(dir));
      assert.deepEqual(names, ["distributed.log.lock.5"], "the next number; the stale one gone");
      assert.deepEqual(await lockFiles(dir), []);
    });
  }
});

describe("withFileLock across processes", () => {
  it("refuses while the holder lives and takes over after its kill -9", async (t) => {
    const dir = await tempDir(t, "lock");
    const file = join(dir, "grades.json");
    const first = holder(t, file);
    await first.waitLine(/^locked$/);

    const second = holder(t, file);
    const { code } = await second.exited;
    assert.equal(code, 1);
    const pid = first.child.pid ?? 0;
    const refusal = `${file} is in use by process ${pid} (lock file ${file}.lock.1)`;
    assert.equal(second.stdout(), `${refusal}\n`);
    assert.equal(await tryLock(file), refusal, "refused in this process too");

    first.child.kill("SIGKILL");
    await first.exited;
    assert.deepEqual(await lockFiles(dir), ["grades.json.lock.1"], "kill -9 leaves its lock file");
    const third = holder(t, file);
    await third.waitLine(/^locked$/);
    assert.deepEqual(await lockFiles(dir), ["grades.json.lock.2"]);
  });

  it("lets exactly one of several processes racing for a stale lock in", async (t) => {
    const dir = await tempDir(t, "lock");
    const file = join(dir, "registry.json");
    await writeFile(join(dir, "registry.json.lock.1"), "2147483646 boot/1\n");
    const racers = Array.from({ length: 4 }, () => holder(t, file));
    // Every loser has exited; the winner holds the lock and names itself in the lock file.
    const outcomes = await Promise.all(racers.map(async (racer) => {
      const [line] = await racer.waitLine(/^(locked|.* is in use by .*)$/);
      return line === "locked" ? "locked" : "refused";
    }));
    assert.deepEqual(outcomes.filter((outcome) => outcome === "locked"), ["locked"]);
    const winner = racers[outcomes.indexOf("locked")];
    const names = await lockFiles(dir);
    assert.equal(names.length, 1, names.join(", "));
    const text = await readFile(join(dir, names[0] ?? ""), "utf8");
    assert.match(text, new RegExp(`^${winner?.child.pid} `));
    for (const racer of racers.filter((other) => other !== winner)) {
      assert.match(racer.stdout(), new RegExp(`in use by process ${winner?.child.pid} `));
    }
  });
});
