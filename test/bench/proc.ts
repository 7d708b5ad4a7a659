import { fork, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** A child process that printed its `<Name> listening on <url>` line. */
export interface Started {
  child: ChildProcess;
  pid: number;
  url: string;
  /** performance.now() when spawn was called and when the listening line arrived. */
  spawnedAt: number;
  listeningAt: number;
  /** Resolves when the process has exited (for any reason). */
  exited: Promise<void>;
  /** The last lines of its output, for error messages. */
  tail(): string;
  /** SIGTERM (or `signal`), then SIGKILL after `timeoutMs`; resolves once it has exited. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

/** Options of `startNode`. */
export interface StartOptions {
  /** Label for error messages. */
  name: string;
  /** Flags for node itself, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Called with every output line (stdout and stderr). */
  onLine?: (line: string) => void;
  /** Give the child an IPC channel (`fork`). */
  ipc?: boolean;
  /** How long it may take to print its listening line. Default 15 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const children = new Set<ChildProcess>();

/**
 * Kills (SIGKILL) every child this process started that is still running. Called on exit
 * and on interruption so a failed run leaves no stray services behind.
 */
export function killAllStarted(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/** The file URL of a compiled command, e.g. `command("logservice")`, or undefined if absent. */
export function command(name: string): URL | undefined {
  const url = new URL(`../../cmd/${name}/main.js`, import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

/**
 * Runs `node <script> <args…>` and resolves once it prints `… listening on <url>`.
 *
 * Rejects when the process exits first, or when `timeoutMs` passes or `signal` aborts (the
 * process is killed then).
 */
export async function startNode(script: URL, args: string[],
  options: StartOptions): Promise<Started> {
  const { name, nodeArgs = [], onLine, ipc = false, timeoutMs = 15_000, signal } = options;
  const path = fileURLToPath(script);
  const spawnedAt = performance.now();
  const child = ipc
    ? fork(path, args, { execArgv: nodeArgs, stdio: ["ignore", "pipe", "pipe", "ipc"] })
    : spawn(process.execPath, [...nodeArgs, path, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const exited = once(child, "exit").then(() => {
    children.delete(child);
  });
  const lines: string[] = [];
  let resolveURL: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => (resolveURL = resolve));
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      if (lines.length > 20) lines.shift();
      onLine?.(line);
      const match = / listening on (\S+)/.exec(line);
      if (match?.[1]) resolveURL(match[1]);
    });
  }
  const tail = () => lines.join("\n");
  const stop = async (stopSignal: NodeJS.Signals = "SIGTERM", stopTimeoutMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(stopSignal);
    const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  };
  const deadline = AbortSignal.any([
    ...(signal ? [signal] : []),
    AbortSignal.timeout(timeoutMs),
  ]);
  let onAbort = () => {};
  try {
    const url = await Promise.race([
      listening,
      exited.then(() => {
        throw new Error(`bench: ${name} exited (${child.exitCode ?? child.signalCode}) before ` +
          `listening:\n${tail()}`);
      }),
      new Promise<never>((_resolve, reject) => {
        onAbort = () => reject(new Error(`bench: ${name} did not listen in time:\n${tail()}`));
        if (deadline.aborted) onAbort();
        else deadline.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
    const pid = child.pid ?? 0;
    return { child, pid, url, spawnedAt, listeningAt: performance.now(), exited, tail, stop };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    deadline.removeEventListener("abort", onAbort);
  }
}

/** CPU time (user + system) a process has used so far, in milliseconds; 0 if it is gone. */
export async function cpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    // USER_HZ is 100 on every Linux build Node supports.
    return ticks * 10;
  } catch {
    return 0;
  }
}

/** Busy CPU time of the whole machine so far (all cores, idle and iowait excluded), ms. */
export async function machineCpuMs(): Promise<number> {
  try {
    const stat = await readFile("/proc/stat", "utf8");
    const fields = (stat.split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait.
    const busy = fields.slice(0, 8).reduce((sum, value, index) =>
      index === 3 || index === 4 ? sum : sum + value, 0);
    return busy * 10;
  } catch {
    return 0;
  }
}

/** Resident memory of a process (VmRSS) and its peak (VmHWM) in MiB; NaN if unreadable. */
export async function memoryMiB(pid: number): Promise<{ rss: number; peak: number }> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
      return match?.[1] ? Number(match[1]) / 1024 : Number.NaN;
    };
    return { rss: field("VmRSS"), peak: field("VmHWM") };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

/** Resolves after `ms`, or rejects when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
