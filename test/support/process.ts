// The compiled commands (cmd/*/main.js, found relative to this file's output, so any outDir
// works) and stand-ins as child processes of a test, each killed when the test ends; all of
// them spawned by `spawn.ts`.
import { existsSync } from "node:fs";
import type { TestContext } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spawnNode, type SpawnOptions, type Spawned } from "./spawn.ts";

/** The commands under cmd/. */
export type CommandName =
  | "registryservice"
  | "logservice"
  | "gradingservice"
  | "teacherportal"
  | "helloservice"
  | "launcher";

/** Absolute path of a compiled command, found relative to this file (any outDir works). */
export function commandPath(command: CommandName): string {
  return fileURLToPath(new URL(`../../cmd/${command}/main.js`, import.meta.url));
}

/** The file URL of a compiled command, or undefined when it was not built. */
export function builtCommand(command: CommandName): URL | undefined {
  const path = commandPath(command);
  return existsSync(path) ? pathToFileURL(path) : undefined;
}

/** Spawns `node <command>/main.js …args`; the caller ends it (see `startCommand`). */
export function spawnCommand(
  command: CommandName,
  args: string[],
  options: SpawnOptions = {},
): Spawned {
  return spawnNode(command, [commandPath(command), ...args], options);
}

/** Spawns `command` like `spawnCommand` and SIGKILLs it in `t.after` if it still runs. */
export function startCommand(
  t: TestContext,
  command: CommandName,
  args: string[],
  options: SpawnOptions = {},
): Spawned {
  return killAfter(t, spawnCommand(command, args, options));
}

/** What a command printed, and its exit code, when it ran to its end. */
export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` to its end (for --help and bad flags) and resolves with its outcome. */
export async function runCommand(
  command: CommandName,
  args: string[],
  options: SpawnOptions = {},
): Promise<Outcome> {
  const spawned = spawnCommand(command, args, options);
  const { code } = await spawned.exited;
  return { code, stdout: spawned.stdout(), stderr: spawned.stderr() };
}

/**
 * Spawns `node --input-type=module -e <source> …args` (an ES module given as text), SIGKILLed
 * in `t.after` if it still runs; the caller awaits its output or exit.
 */
export function startScript(
  t: TestContext,
  name: string,
  source: string,
  args: string[] = [],
): Spawned {
  return killAfter(t, spawnNode(name, ["--input-type=module", "-e", source, ...args]));
}

// A node:http server answering every request 200 "ok", with idle connections kept 120 s (so a
// heartbeat's pooled connection outlives a crash); it prints its port once listening.
const providerScript = `
const http = require("node:http");
const server = http.createServer((req, res) => res.end("ok"));
server.keepAliveTimeout = 120000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

/** A stand-in provider in its own process (to SIGKILL or SIGSTOP), and its URL. */
export interface ProviderProcess extends Spawned {
  url: string;
}

/**
 * Starts a provider process on 127.0.0.1 that answers every request 200 and resolves once it
 * listens; SIGKILLed in `t.after` if it still runs. Rejects when it exits first or is late.
 */
export async function startProvider(t: TestContext): Promise<ProviderProcess> {
  const spawned = killAfter(t, spawnNode("provider", ["-e", providerScript]));
  const [, port] = await spawned.waitLine(/^(\d+)$/);
  return { ...spawned, url: `http://127.0.0.1:${port}` };
}

/** Registers a `t.after` that SIGKILLs `spawned` if it still runs; returns it. */
function killAfter<T extends Spawned>(t: TestContext, spawned: T): T {
  t.after(() => spawned.signal("SIGKILL"));
  return spawned;
}
