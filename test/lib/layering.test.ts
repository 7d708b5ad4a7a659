// The packages under lib/ depend on each other one way, as Go forces at compile time: this
// test reads the imports of every lib/**/*.ts source file and fails on a folder-level cycle,
// on an import that goes up a layer, and on any import that is not a Node built-in.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

// dist/test/lib/layering.test.js → the repository root.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const lib = join(root, "lib");

/** Bottom to top; a package may import only from its own layer's lower ones (or itself). */
const layers: readonly (readonly string[])[] = [
  ["std"],
  ["etcd"],
  ["registry"],
  ["log"],
  ["service"],
  ["grades", "hello", "launcher", "portal"],
];

interface Edge {
  from: string;
  to: string;
  file: string;
}

async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sources(path)));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found;
}

function packageOf(path: string): string {
  return relative(lib, path).split(sep)[0] ?? "";
}

/** Every import or re-export specifier of a module's text (static and dynamic). */
function specifiers(text: string): string[] {
  const pattern = /(?:^|[\s;])(?:import|export)\b[^"';]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gmu;
  return [...text.matchAll(pattern)].map((match) => match[1] ?? match[2] ?? match[3] ?? "");
}

async function readGraph(): Promise<{ edges: Edge[]; bare: string[] }> {
  const edges: Edge[] = [];
  const bare: string[] = [];
  for (const file of await sources(lib)) {
    const text = await readFile(file, "utf8");
    for (const specifier of specifiers(text)) {
      if (!specifier.startsWith(".")) {
        if (!specifier.startsWith("node:")) bare.push(`${relative(root, file)}: ${specifier}`);
        continue;
      }
      const target = resolve(dirname(file), specifier);
      const from = packageOf(file);
      const to = target.startsWith(lib + sep) ? packageOf(target) : relative(root, target);
      if (from !== to) edges.push({ from, to, file: relative(root, file) });
    }
  }
  return { edges, bare };
}

/** A cycle of packages as `a → b → a`, or undefined when the graph has none. */
function findCycle(edges: readonly Edge[]): string | undefined {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    let set = next.get(from);
    if (!set) next.set(from, (set = new Set()));
    set.add(to);
  }
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string): string | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "open") {
      return [...path.slice(path.indexOf(node)), node].join(" → ");
    }
    state.set(node, "open");
    path.push(node);
    for (const to of next.get(node) ?? []) {
      const cycle = visit(to);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of next.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe("package layering of lib/", () => {
  it("finds the imports it looks for", () => {
    const text = 'import a from "./a.ts";\nimport { b } from "../b/b.ts";\n' +
      'export { c } from "./c.ts";\nimport type { D } from "node:http";\nawait import("./e.ts");';
    assert.deepEqual(specifiers(text), ["./a.ts", "../b/b.ts", "./c.ts", "node:http", "./e.ts"]);
  });

  it("reports a cycle when there is one", () => {
    const edges = [
      { from: "a", to: "b", file: "" },
      { from: "b", to: "c", file: "" },
      { from: "c", to: "a", file: "" },
    ];
    assert.equal(findCycle(edges), "a → b → c → a");
    assert.equal(findCycle(edges.slice(0, 2)), undefined);
  });

  it("has no folder-level import cycle", async () => {
    const { edges } = await readGraph();
    assert.ok(edges.length > 10, "the import graph was read");
    assert.equal(findCycle(edges), undefined);
  });

  it("imports only downwards: std ← etcd ← registry ← log ← service ← apps", async () => {
    const layerOf = new Map<string, number>();
    for (const [index, names] of layers.entries()) {
      for (const name of names) layerOf.set(name, index);
    }
    const { edges } = await readGraph();
    const packages = new Set(edges.flatMap(({ from, to }) => [from, to]));
    for (const name of packages) {
      assert.ok(layerOf.has(name), `lib/${name} is not in the layer list of this test`);
    }
    const upward = edges
      .filter(({ from, to }) => (layerOf.get(to) ?? 0) > (layerOf.get(from) ?? 0))
      .map(({ from, to, file }) => `${file}: ${from} imports ${to}`);
    assert.deepEqual(upward, []);
  });

  it("uses nothing but Node built-ins from outside the repository", async () => {
    const { bare } = await readGraph();
    assert.deepEqual(bare, []);
  });
});
