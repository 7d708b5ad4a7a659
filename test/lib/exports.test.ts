// A function or constant that lib/ exports is there for other code to call. One that only tests
// import is a helper made public for its tests: test it through the function that uses it, and
// keep it private. This test reads every lib/**/*.ts export and every import in the repository
// and fails on a value export that no file but a `*.test.ts` imports. Types are left out: they
// describe the arguments and results of what is exported.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

// dist/test/lib/exports.test.js → the repository root.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Exports kept for tests on purpose: `file:name` → why. */
const kept: Readonly<Record<string, string>> = {
  // The etcd client's verbs: tests change etcd behind the registry's back with them, as another
  // etcd client (etcdctl, an operator) would.
  "lib/etcd/election.ts:campaign": "an etcd verb",
  "lib/etcd/kv.ts:deleteRange": "an etcd verb",
  "lib/etcd/kv.ts:compact": "an etcd verb",
  "lib/etcd/lease.ts:grantLease": "an etcd verb",
  "lib/etcd/lease.ts:keepAliveOnce": "an etcd verb",
  "lib/etcd/lease.ts:revokeLease": "an etcd verb",
  // What withFileLock throws; a caller tells it apart with instanceof.
  "lib/std/lock.ts:LockedError": "an error a caller catches",
};

/** Every `.ts` file under `dir`, relative to the root. */
async function sources(dir: string): Promise<string[]> {
  const names = await readdir(join(root, dir), { recursive: true });
  return names.filter((name) => name.endsWith(".ts")).map((name) => join(dir, name));
}

/** The names of the functions, constants and classes a module's text exports. */
function valueExports(text: string): string[] {
  const pattern = /^export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+([A-Za-z_$][\w$]*)/gmu;
  return [...text.matchAll(pattern)].map((match) => match[1] ?? "");
}

/** `file:name` for every name a module imports from a relative path (`import { a, b as c }`). */
function imports(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/\bimport\s+(?:type\s+)?\{([^}]*)\}\s*from\s*"(\.[^"]+)"/gu)) {
    const target = join(dirname(file), match[2] ?? "");
    for (const item of (match[1] ?? "").split(",")) {
      const name = item.trim().replace(/^type\s+/u, "").split(/\s+as\s+/u)[0];
      if (name) found.push(`${target}:${name}`);
    }
  }
  return found;
}

/**
 * The value exports of lib/ that only `*.test.ts` files import (or nothing does), and the
 * entries of `kept` that name no export any more.
 */
async function testOnlyExports(): Promise<{ unused: string[]; stale: string[] }> {
  const files = [...await sources("lib"), ...await sources("cmd"), ...await sources("test")];
  const used = new Set<string>();
  const exported: string[] = [];
  for (const file of files) {
    const text = await readFile(join(root, file), "utf8");
    if (file.startsWith("lib/")) exported.push(...valueExports(text).map((n) => `${file}:${n}`));
    if (!file.endsWith(".test.ts")) for (const name of imports(file, text)) used.add(name);
  }
  assert.ok(exported.length > 100, `only ${exported.length} exports found: did a pattern break?`);
  assert.ok(used.has("lib/std/command.ts:runCommand"), "cmd/*/main.ts imports runCommand");
  return {
    unused: exported.filter((name) => !used.has(name) && kept[name] === undefined).sort(),
    stale: Object.keys(kept).filter((name) => !exported.includes(name)),
  };
}

describe("lib exports", () => {
  it("are each imported by something other than a test", async () => {
    const { unused, stale } = await testOnlyExports();
    assert.deepEqual(unused, [],
      "exported for tests only: test them through the function that uses them, then unexport");
    assert.deepEqual(stale, [], "kept exports that are gone: drop them from the list");
  });

  it("reads exports and imports the way modules write them", () => {
    const text = "export async function a() {}\nexport const b = 1;\nexport class C {}\n" +
      "export interface D {}\nexport type E = 1;\nconst f = 2;\n";
    assert.deepEqual(valueExports(text), ["a", "b", "C"]);
    const module = 'import { x, type Y,\n  z as w } from "../std/http.ts";\n' +
      'import type { V } from "./v.ts";\nimport { u } from "node:fs";\n';
    assert.deepEqual(imports("lib/log/server.ts", module), [
      "lib/std/http.ts:x", "lib/std/http.ts:Y", "lib/std/http.ts:z", "lib/log/v.ts:V",
    ]);
  });
});
