import http from "node:http";
import { join } from "node:path";
import { echo, profileArgs, type BenchContext } from "./context.ts";
import { builtCommand } from "../support/process.ts";
import { startNode, type Listening } from "../support/spawn.ts";
import { firstLine, skipped, type Row } from "./table.ts";

let registries = 0;

/**
 * Starts the real registry process on 127.0.0.1 and a free port, as shipped: its state
 * persisted (atomically, fsynced) to a fresh file in the run's temp folder, plus `extra`
 * flags. Rejects when cmd/registryservice is not built or the process does not come up.
 */
export async function startRegistry(context: BenchContext, extra: string[] = []): Promise<Listening> {
  const script = builtCommand("registryservice");
  if (!script) throw new Error("cmd/registryservice not built");
  const state = join(context.tmp, `registry-${++registries}.json`);
  return startNode(script, ["--host", "127.0.0.1", "--port", "0", "--state", state, ...extra], {
    name: "registryservice",
    ...echo(context, "registry"),
    nodeArgs: profileArgs(context, "registry"),
    signal: context.signal,
  });
}

/**
 * Starts the registry as `startRegistry` does; when it cannot be started, answers instead
 * the benchmark's rows (`[what, target]`) as "not measured", with the reason.
 */
export async function registryOrSkip(
  context: BenchContext,
  rows: ReadonlyArray<readonly [what: string, target: string]>,
): Promise<Listening | Row[]> {
  try {
    return await startRegistry(context);
  } catch (error) {
    return rows.map(([what, target]) => skipped(what, target, firstLine(error)));
  }
}

/** A keep-alive agent for the benchmark's own control requests. */
export function keepAliveAgent(maxSockets = 64): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets });
}

/** Runs `task` for each item with at most `limit` in flight; resolves when all are done. */
export async function eachLimit<T>(items: readonly T[], limit: number,
  task: (item: T, index: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) {
      const index = next++;
      await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
