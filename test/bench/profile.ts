import { readFile } from "node:fs/promises";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and returns its hottest functions
 * by self time, the time per source file, and the project's own functions (lib/, cmd/) by
 * total time (callees included), as text lines. Throws on an unreadable file.
 */
export async function summarizeProfile(file: string, top: number): Promise<string> {
  const profile = JSON.parse(await readFile(file, "utf8")) as unknown;
  if (typeof profile !== "object" || profile === null) {
    throw new Error(`profile: ${file}: not an object`);
  }
  const { nodes, samples, timeDeltas } = profile as {
    nodes?: ProfileNode[];
    samples?: number[];
    timeDeltas?: number[];
  };
  if (!Array.isArray(nodes) || !Array.isArray(samples) || !Array.isArray(timeDeltas)) {
    throw new Error(`profile: ${file}: missing nodes, samples or timeDeltas`);
  }
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const label = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const short = url.replace(/^file:\/\/.*\/(dist|node_modules)\//, "");
    const where = short ? `${short}:${lineNumber + 1}` : "";
    return { key: `${functionName || "(anonymous)"} ${where}`.trim(), short };
  };
  const selfUs = new Map<string, number>();
  const fileUs = new Map<string, number>();
  const ownUs = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number) =>
    map.set(key, (map.get(key) ?? 0) + us);
  let totalUs = 0;
  for (let i = 0; i < samples.length; i++) {
    // Each sample's time is the delta to the next sample (V8's convention).
    const delta = timeDeltas[i + 1] ?? 0;
    const node = byId.get(samples[i] ?? -1);
    if (!node) continue;
    const { key, short } = label(node);
    add(selfUs, key, delta);
    add(fileUs, short || node.callFrame.functionName, delta);
    // Total time: every project function on the sampled stack, once per sample.
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id);
      if (!frame || !/\/(lib|cmd)\//.test(frame.callFrame.url)) continue;
      const own = label(frame).key;
      if (!seen.has(own)) add(ownUs, own, delta);
      seen.add(own);
    }
    totalUs += delta;
  }
  const rows = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, us]) => `  ${(us / 1_000).toFixed(0).padStart(7)} ms ` +
      `${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${name}`);
  return [
    `total ${(totalUs / 1_000).toFixed(0)} ms sampled; hottest functions (self time):`,
    ...rows(selfUs),
    "by file:",
    ...rows(fileUs),
    "project functions by total time (callees included):",
    ...rows(ownUs),
  ].join("\n");
}
