import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { describeError } from "./errors.ts";

/** Another living process holds the lock; its message is the one line a command prints. */
export class LockedError extends Error {
  override name = "LockedError";
  /** The file asked for, as the caller named it. */
  readonly file: string;
  /** The holder's process ID. */
  readonly pid: number;

  constructor(file: string, pid: number, lockPath: string) {
    super(`${file} is in use by process ${pid} (lock file ${lockPath})`);
    this.file = file;
    this.pid = pid;
  }
}

/** Who holds a lock: a process ID and when that process started. */
interface Holder {
  pid: number;
  /** Boot ID and start time in clock ticks (Linux `/proc`), or "" where there is no `/proc`. */
  started: string;
}

// How many times a starter looks again after losing a race before it gives up; every retry
// means another process changed the lock files meanwhile, so a handful is plenty.
const maxAttempts = 20;

/**
 * Runs `use` while this process owns `file` exclusively, so that two processes never write
 * the same data file: call it before the file is first touched, and keep every use of the
 * file inside `use`. Resolves or rejects as `use` does, after giving the file up. Rejects
 * without calling `use` with `LockedError` naming the holder's PID when another living
 * process owns the file, and with an error naming the file when the lock file cannot be
 * written (e.g. its folder does not exist). `file` itself is never opened.
 *
 * How it works. Node has no `flock`, so the lock is a set of lock files beside `file`:
 * `<file>.lock.1`, `.2`, … (inside it, `.lock.1`, …, when `file` is a folder). Each names
 * its holder (`pid`, and on Linux the boot ID and the process's start time). The highest
 * number is the current lock. A starter:
 * 1. reads the highest one; if its holder is alive, it refuses (`LockedError`);
 * 2. otherwise (none, or a stale one) creates the next number with `link()`, which fails
 *    when that name exists — of two starters racing for the same number exactly one wins,
 *    the other starts over and finds the winner alive;
 * 3. looks again: if a higher number appeared meanwhile, it removes its own and starts over
 *    (it may have re-created a number that a newer holder had just removed as stale);
 * 4. removes the lower, stale lock files.
 * The file is written before it is linked into place, so nobody reads a half-written holder.
 *
 * A holder counts as alive when its PID exists, is no zombie, and — where `/proc` tells —
 * started at the recorded time on the same boot: a PID reused by an unrelated process, or a
 * lock left by a process killed before the last reboot, is stale. A lock left by `kill -9`
 * is stale as soon as the process is gone; a clean `release` removes the lock file.
 * Locking the same file twice in one process is refused like any other holder.
 */
export async function withFileLock<T>(file: string, use: () => Promise<T>): Promise<T> {
  const release = await lockFile(file);
  try {
    return await use();
  } finally {
    await release();
  }
}

/** Takes the lock (see `withFileLock`); resolves with the function that gives it up. */
async function lockFile(file: string): Promise<() => Promise<void>> {
  let dir: string;
  let base: string;
  let temporary: string;
  const me: Holder = { pid: process.pid, started: ownStart() };
  try {
    ({ dir, base } = await lockPlace(file));
    temporary = join(dir, `${base}.lock-${process.pid}-${randomBytes(6).toString("hex")}`);
    await writeFile(temporary, `${me.pid} ${me.started}\n`, { flag: "wx" });
  } catch (error) {
    throw new Error(`${file}: cannot lock it: ${describeError(error)}`, { cause: error });
  }
  const path = (number: number) => join(dir, `${base}.lock.${number}`);
  try {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const top = (await numbers(dir, base)).at(-1) ?? 0;
      if (top > 0) {
        const holder = await readHolder(path(top));
        if (holder === "gone") continue;
        if (holder && alive(holder)) throw new LockedError(file, holder.pid, path(top));
      }
      const mine = top + 1;
      try {
        await link(temporary, path(mine));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw error;
      }
      const now = await numbers(dir, base);
      if (now.some((number) => number > mine)) {
        await rm(path(mine), { force: true });
        continue;
      }
      for (const number of now) {
        if (number >= mine) continue;
        const holder = await readHolder(path(number));
        const stale = holder !== "gone" && !(holder && alive(holder));
        if (stale) await rm(path(number), { force: true });
      }
      return () => rm(path(mine), { force: true });
    }
    throw new Error(`${file}: cannot lock it: its lock files kept changing; try again`);
  } finally {
    await rm(temporary, { force: true });
  }
}

/**
 * Where the lock files of `file` go: beside it (`<dir>/<base>.lock.N`), or inside it
 * (`<dir>/.lock.N`) when it is a folder; symbolic links resolved, so that two names of one
 * file share one lock.
 */
async function lockPlace(file: string): Promise<{ dir: string; base: string }> {
  const absolute = resolve(file);
  let real: string;
  try {
    real = await realpath(absolute);
  } catch {
    return { dir: await realpath(dirname(absolute)), base: basename(absolute) };
  }
  if ((await stat(real)).isDirectory()) return { dir: real, base: "" };
  return { dir: dirname(real), base: basename(real) };
}

/** The numbers of the lock files of `base` in `dir`, ascending. */
async function numbers(dir: string, base: string): Promise<number[]> {
  const prefix = `${base}.lock.`;
  const found: number[] = [];
  for (const name of await readdir(dir)) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    if (/^[1-9]\d{0,15}$/.test(rest)) found.push(Number(rest));
  }
  return found.sort((a, b) => a - b);
}

/**
 * The holder named in a lock file; `undefined` when the file does not name one (it was
 * written by hand, say: nobody can hold it), "gone" when the file no longer exists.
 */
async function readHolder(path: string): Promise<Holder | undefined | "gone"> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw error;
  }
  const match = /^(\d+) ?(\S*)\n$/.exec(text);
  if (!match) return undefined;
  return { pid: Number(match[1]), started: match[2] ?? "" };
}

/** Whether the process that wrote `holder` still runs. */
function alive(holder: Holder): boolean {
  if (holder.pid === process.pid) return holder.started === ownStart();
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const started = processStart(holder.pid);
  // Without /proc only the PID can be compared.
  return started === undefined || started === holder.started;
}

let bootID: string | undefined;

/** This process's start, as `processStart` tells it ("" where there is no `/proc`). */
function ownStart(): string {
  const started = processStart(process.pid);
  return started === undefined || started === "dead" ? "" : started;
}

/**
 * `<boot ID>/<start time in clock ticks>` of a process from Linux's `/proc`; "dead" for a
 * process that has exited (a zombie not reaped yet, or one that vanished just now);
 * `undefined` where there is no `/proc`.
 */
function processStart(pid: number): string | undefined {
  try {
    bootID ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return "dead";
  }
  // The command name in parentheses may hold spaces; the fields after it are plain. The state
  // comes first, the start time (field 22 of proc(5)) twentieth.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return "dead";
  return `${bootID}/${fields[19] ?? ""}`;
}
