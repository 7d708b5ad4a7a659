// The README points a reader at files and functions ("Reading the code", the package table):
// this test keeps those pointers true as files are renamed and functions move.
import assert from "node:assert/strict";
import { access, readFile } from "node:fs/promises";
import { describe, it } from "node:test";

// dist/test/lib/readme.test.js → the repository root.
const root = new URL("../../../", import.meta.url);

async function readme(): Promise<string> {
  return readFile(new URL("README.md", root), "utf8");
}

describe("README pointers", () => {
  it("every file or folder it names in backquotes exists", async () => {
    const text = await readme();
    // Placeholders (`lib/<pkg>`) and globs (`cluster-*`) name no single path.
    const paths = new Set(
      [...text.matchAll(/`((?:lib|cmd|test|docs)\/[^`\s<>*]*)`/gu)].map((match) => match[1]!),
    );
    assert.ok(paths.size > 20, `only ${paths.size} paths found: did the pattern break?`);
    const missing: string[] = [];
    for (const path of paths) {
      await access(new URL(path, root)).catch(() => missing.push(path));
    }
    assert.deepEqual(missing, [], "README names paths that do not exist");
  });

  it("every function Reading the code names is defined in the file it names", async () => {
    const text = await readme();
    const start = text.indexOf("## Reading the code");
    assert.notEqual(start, -1, "no Reading the code section");
    const section = text.slice(start, text.indexOf("\n## ", start + 1));
    // Steps read "- `lib/x/y.ts`, `fn` and `other` — …": the names before the dash.
    const steps = [...section.matchAll(/^- `(lib\/[^`]+\.ts)`, ([^—]+)—/gmu)];
    assert.ok(steps.length >= 10, `only ${steps.length} steps found: did the pattern break?`);
    const wrong: string[] = [];
    for (const [, file, names] of steps) {
      const source = await readFile(new URL(file!, root), "utf8");
      for (const [, name] of names!.matchAll(/`([A-Za-z]\w*)`/gu)) {
        const defined = new RegExp(
          `(function\\s+${name}\\b|\\b${name}\\s*(=|\\()|\\b${name}\\s*:|"${name}"|${name}\\()`,
          "u",
        );
        if (!defined.test(source)) wrong.push(`${name} in ${file}`);
      }
    }
    assert.deepEqual(wrong, [], "Reading the code names functions its files do not define");
  });
});
