import type { BenchContext } from "./context.ts";
import { startDependent } from "./dependent.ts";
import { builtCommand } from "../support/process.ts";
import { startNode } from "../support/spawn.ts";
import { keepAliveAgent, registryOrSkip } from "./services.ts";
import { fmt, medianSpread, summarize } from "./stats.ts";
import { skipped, type Row } from "./table.ts";

/**
 * Start-up (docs/protocol.md#performance-targets): spawn a real service process → the registry
 * has it (timed by the `Added` patch a dependent requiring it receives, pushed right after the
 * registry stored it); then SIGTERM → `Removed` (a graceful stop of a real process). A bare
 * node:http process gives the floor: how long Node itself takes to start and listen.
 */
export async function benchStartup(context: BenchContext): Promise<Row[]> {
  const what = "service process start → registered";
  const candidates = [["helloservice", "HelloService"], ["logservice", "LogService"]] as const;
  const found = candidates.find(([name]) => builtCommand(name));
  if (!found) return [skipped(what, "≤ 300 ms", "no service command built")];
  const [name, serviceName] = found;
  const script = builtCommand(name);
  if (!script) return [skipped(what, "≤ 300 ms", `cmd/${name} not built`)];
  const registry = await registryOrSkip(context, [[what, "≤ 300 ms"]]);
  if (Array.isArray(registry)) return registry;
  const { quick, progress, signal } = context;
  const agent = keepAliveAgent(4);
  const dependent = await startDependent();
  try {
    await dependent.register(registry.url, [serviceName], agent);
    const trials = quick ? 3 : 7;
    const floor: number[] = [];
    const listening: number[] = [];
    const registered: number[] = [];
    const removed: number[] = [];
    const exited: number[] = [];
    for (let i = 0; i < trials && !signal.aborted; i++) {
      const bareScript = new URL("./bare.js", import.meta.url);
      const bare = await startNode(bareScript, [], { name: "bare", signal });
      floor.push(bare.listeningAt - bare.spawnedAt);
      await bare.stop();

      const args = ["--host", "127.0.0.1", "--port", "0", "--registry", registry.url];
      if (name === "logservice") args.push("--file", `${context.tmp}/startup-${i}.log`);
      const service = await startNode(script, args, { name, signal });
      const added =
        await dependent.waitFor("Added", serviceName, service.url, service.spawnedAt, 5_000);
      listening.push(service.listeningAt - service.spawnedAt);
      registered.push(added.at - service.spawnedAt);
      const stop = performance.now();
      const gone = dependent.waitFor("Removed", serviceName, service.url, stop, 5_000);
      service.child.kill("SIGTERM");
      removed.push((await gone).at - stop);
      await service.stop();
      exited.push(performance.now() - stop);
      progress(`startup: ${name} listening ${fmt(listening.at(-1) ?? 0)} ms, registered ` +
        `${fmt(registered.at(-1) ?? 0)} ms, ` +
        `SIGTERM → Removed ${fmt(removed.at(-1) ?? 0, 1)} ms ` +
        `(bare node:http floor ${fmt(floor.at(-1) ?? 0)} ms)`);
    }
    const r = summarize(registered);
    return [
      {
        what: `${what} (${name})`,
        value: `${medianSpread(registered, 0, " ms")}`,
        target: "≤ 300 ms",
        met: r.p50 <= 300,
        note: `listening line after ${medianSpread(listening, 0, " ms")}; a bare node:http ` +
          `process listens after ${medianSpread(floor, 0, " ms")}`,
      },
      {
        what: `graceful stop of a process (SIGTERM) → Removed (${name})`,
        value: `${medianSpread(removed, 1, " ms")}`,
        target: "≤ 20 ms (p50)",
        met: summarize(removed).p50 <= 20,
        note: `process exited after ${medianSpread(exited, 0, " ms")}`,
      },
    ];
  } finally {
    await dependent.close();
    agent.destroy();
    await registry.stop();
  }
}
