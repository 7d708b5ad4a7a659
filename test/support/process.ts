// Test helpers for real child processes: the compiled commands (cmd/*/main.js, found relative
// to this file's output, so any outDir works) and a stand-in provider, their output collected
// and awaited with deadlines, and each one killed when the test (or the test process) ends.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { createWaiters } from "./wait.ts";

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

/** How a child process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output collected. */
export interface Spawned {
  /** What it runs (a command name, or a description), for error messages. */
  name: string;
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Resolves when the process has exited and all its output was read. */
  exited: Promise<Exit>;
  /** True until it exited or was killed by a signal. */
  alive(): boolean;
  /** Everything it printed so far. */
  stdout(): string;
  stderr(): string;
  /**
   * Resolves with the first match of `pattern` in its stderr+stdout (past or future); rejects
   * naming the stderr tail after `ms` (default 10 s).
   */
  waitOutput(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /**
   * Resolves with the match of the first stdout line that `pattern` matches; rejects (naming
   * its stderr) when its output ends without one, or after `ms` (default 10 s).
   */
  waitLine(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
}

/** Options of `spawnCommand` and `runCommand`. */
export interface SpawnOptions {
  /** Added to (or overriding) this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
}

// Safety net: a crashed test run must not leave processes behind.
const everyChild = new Set<ChildProcessByStdio<null, Readable, Readable>>();
process.once("exit", () => {
  for (const child of everyChild) if (child.exitCode === null) child.kill("SIGKILL");
});

/** Spawns `node …args` (stdin ignored) and starts collecting its output. */
function spawnNode(name: string, args: string[], options: SpawnOptions = {}): Spawned {
  return spawnProgram(name, process.execPath, args, options);
}

/**
 * Spawns the executable `file` with `args` (stdin ignored) and starts collecting its output;
 * a process left running when the test process exits is SIGKILLed.
 */
export function spawnProgram(
  name: string,
  file: string,
  args: string[],
  options: SpawnOptions = {},
): Spawned {
  const child = spawn(file, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  everyChild.add(child);
  let out = "";
  let err = "";
  let ended = false;
  const waiters = createWaiters();
  // "close" comes after "exit" once both output streams ended: all output is in.
  const exited = new Promise<Exit>((resolve) => {
    child.once("close", (code, signal) => {
      everyChild.delete(child);
      ended = true;
      waiters.wake();
      resolve({ code, signal });
    });
  });
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    waiters.wake();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
    waiters.wake();
  });
  return {
    name,
    child,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    stdout: () => out,
    stderr: () => err,
    waitOutput: (pattern, ms = 10_000) =>
      waiters.until(
        () => pattern.exec(`${err}\n${out}`) ?? undefined,
        ms,
        () => new Error(`${name}: no output matching ${pattern} within ${ms} ms; ` +
          `stderr: ${err.slice(-2_000)}`),
      ),
    waitLine: (pattern, ms = 10_000) =>
      waiters.until(
        () => {
          const lines = out.split("\n");
          if (!ended) lines.pop(); // not a whole line yet
          for (const line of lines) {
            const match = pattern.exec(line);
            if (match) return match;
          }
          if (ended) throw new Error(`${name}: no line matching ${pattern}; stderr: ${err}`);
          return undefined;
        },
        ms,
        () => new Error(`${name}: no line matching ${pattern} within ${ms} ms; stderr: ${err}`),
      ),
  };
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

/** Registers a `t.after` that SIGKILLs `spawned` if it still runs; returns it. */
function killAfter(t: TestContext, spawned: Spawned): Spawned {
  t.after(() => {
    if (spawned.alive()) spawned.child.kill("SIGKILL");
  });
  return spawned;
}
