// The one spawner of tests and benchmarks: a child process (node, or any program) with its
// output collected and awaited with deadlines, stopped or killed on request, and SIGKILLed if it
// still runs when this process ends.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createWaiters } from "./wait.ts";

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
  pid: number;
  /** Resolves when the process has exited and all its output was read. */
  exited: Promise<Exit>;
  /** True until it exited or was killed by a signal. */
  alive(): boolean;
  /** Everything it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Its last lines of output (stderr and stdout), for error messages. */
  tail(): string;
  /**
   * Resolves with the first match of `pattern` in its stderr+stdout (past or future); rejects
   * naming the stderr tail after `ms` (default 30 s).
   */
  waitOutput(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /**
   * Resolves with the match of the first stdout line that `pattern` matches; rejects (naming
   * its stderr) when its output ends without one, or after `ms` (default 30 s).
   */
  waitLine(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT, …) if it still runs. */
  signal(name: NodeJS.Signals): void;
  /** SIGCONT, then `signal` (SIGTERM), then SIGKILL after `ms` (5 s); resolves at its exit. */
  stop(ms?: number, signal?: NodeJS.Signals): Promise<Exit>;
  /** kill -9 and wait until it is gone. */
  crash(): Promise<Exit>;
}

/** How to spawn: environment, folder, flags for node itself, an IPC channel, line echo. */
export interface SpawnOptions {
  /** Added to (or overriding) this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Flags for node itself, e.g. `--cpu-prof` (`spawnNode`, `startNode`). */
  nodeArgs?: string[];
  /** Give the child an IPC channel (`process.send` in the child). */
  ipc?: boolean;
  /** Called with every line it prints (stdout and stderr). */
  onLine?: (line: string) => void;
}

// How long a process may take to print what is awaited by default. A deadline for a broken
// process, not a speed bound: starting node takes seconds on a machine busy with other work.
const startDeadlineMs = 30_000;

// Safety net: a failed run must not leave processes behind.
const everyChild = new Set<ChildProcessByStdio<null, Readable, Readable>>();
process.once("exit", killAll);

/** SIGKILLs every child process started here that still runs (on exit, or interrupted). */
export function killAll(): void {
  for (const child of everyChild) if (child.exitCode === null) child.kill("SIGKILL");
}

/** Spawns `node [nodeArgs] …args` (stdin ignored) and starts collecting its output. */
export function spawnNode(name: string, args: string[], options: SpawnOptions = {}): Spawned {
  return spawnProgram(name, process.execPath, [...(options.nodeArgs ?? []), ...args], options);
}

/**
 * Spawns the executable `file` with `args` (stdin ignored) and starts collecting its output;
 * a process left running when this process exits is SIGKILLed.
 */
export function spawnProgram(
  name: string,
  file: string,
  args: string[],
  options: SpawnOptions = {},
): Spawned {
  const child = spawn(file, args, {
    stdio: ["ignore", "pipe", "pipe", ...(options.ipc ? ["ipc" as const] : [])],
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  }) as ChildProcessByStdio<null, Readable, Readable>;
  everyChild.add(child);
  let out = "";
  let err = "";
  let ended = false;
  const waiters = createWaiters();
  // Whole lines go to onLine as they come; what is left of a line at the end, then.
  const partial = { out: "", err: "" };
  const collect = (stream: "out" | "err") => (chunk: string) => {
    if (stream === "out") out += chunk;
    else err += chunk;
    if (options.onLine) {
      const lines = (partial[stream] + chunk).split("\n");
      partial[stream] = lines.pop() ?? "";
      for (const line of lines) options.onLine(line);
    }
    waiters.wake();
  };
  child.stdout.setEncoding("utf8").on("data", collect("out"));
  child.stderr.setEncoding("utf8").on("data", collect("err"));
  // Exited, and both output streams ended: all output is in. Not only the child's "close"
  // event: on Node 20 a child with an IPC channel the parent disconnected never emits it.
  const exited = new Promise<Exit>((resolve) => {
    let exit: Exit | undefined;
    let open = 2;
    const finish = () => {
      if (exit === undefined || open > 0 || ended) return;
      everyChild.delete(child);
      for (const rest of [partial.out, partial.err]) if (rest) options.onLine?.(rest);
      ended = true;
      waiters.wake();
      resolve(exit);
    };
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      finish();
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream.once("close", () => {
        open -= 1;
        finish();
      });
    }
    // A program that could not be started (ENOENT) emits "close" and no "exit".
    child.once("close", (code, signal) => {
      exit ??= { code, signal };
      open = 0;
      finish();
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const signal = (name: NodeJS.Signals) => {
    if (alive()) child.kill(name);
  };
  return {
    name,
    child,
    pid: child.pid ?? 0,
    exited,
    alive,
    stdout: () => out,
    stderr: () => err,
    tail: () => `${err}\n${out}`.trim().split("\n").slice(-20).join("\n"),
    waitOutput: (pattern, ms = startDeadlineMs) =>
      waiters.until(
        () => pattern.exec(`${err}\n${out}`) ?? undefined,
        ms,
        () => new Error(`${name}: no output matching ${pattern} within ${ms} ms; ` +
          `stderr: ${err.slice(-2_000)}`),
      ),
    waitLine: (pattern, ms = startDeadlineMs) =>
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
    signal,
    stop: async (ms = 5_000, stopSignal = "SIGTERM") => {
      signal("SIGCONT");
      signal(stopSignal);
      const timer = setTimeout(() => signal("SIGKILL"), ms);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
    crash: async () => {
      signal("SIGKILL");
      return exited;
    },
  };
}

/** A process that printed its `<Name> listening on <url>` line. */
export interface Listening extends Spawned {
  /** The URL from that line. */
  url: string;
  /** `performance.now()` when it was spawned and when the line arrived. */
  spawnedAt: number;
  listeningAt: number;
}

/** Options of `startNode`: how to spawn, plus a name, a deadline and an abort signal. */
export interface StartOptions extends SpawnOptions {
  /** For error messages. */
  name: string;
  /** How long it may take to print its listening line. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs `node <script> …args` and resolves once it prints `… listening on <url>`. Rejects
 * (naming its last output) when it exits first, when `timeoutMs` passes or when `signal`
 * aborts; it is SIGKILLed then. The caller stops it (`stop`, `crash`).
 */
export async function startNode(
  script: URL,
  args: string[],
  options: StartOptions,
): Promise<Listening> {
  const { name, timeoutMs = startDeadlineMs, signal } = options;
  const spawnedAt = performance.now();
  const spawned = spawnNode(name, [fileURLToPath(script), ...args], options);
  const listening = spawned.waitOutput(/ listening on (\S+)/, timeoutMs);
  const died = spawned.exited.then((exit) => {
    throw new Error(`${name} exited (${exit.code ?? exit.signal}) before listening:\n` +
      spawned.tail());
  });
  let onAbort = () => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new Error(`${name}: start aborted`));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const [, url = ""] = await Promise.race([listening, died, aborted]);
    return { ...spawned, url, spawnedAt, listeningAt: performance.now() };
  } catch (error) {
    spawned.signal("SIGKILL");
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // The losers of the race must not surface as unhandled rejections.
    for (const loser of [listening, died, aborted]) loser.catch(() => undefined);
  }
}

