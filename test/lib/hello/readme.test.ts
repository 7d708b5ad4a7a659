// The README's "Write your own service" quotes the hello service whole: this test keeps the
// quotes and the compiled, tested files the same.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";

// dist/test/lib/hello/readme.test.js → the repository root.
const root = new URL("../../../../", import.meta.url);

describe("README: Write your own service", () => {
  for (const file of ["lib/hello/server.ts", "cmd/helloservice/main.ts"]) {
    it(`quotes ${file} as it is`, async () => {
      const readme = await readFile(new URL("README.md", root), "utf8");
      const source = await readFile(new URL(file, root), "utf8");
      assert.ok(
        readme.includes("```ts\n" + source + "```\n"),
        `README.md does not quote ${file} as it is now: copy the file into its ts block again`,
      );
    });
  }
});
