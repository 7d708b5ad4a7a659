import { parseArgs } from "node:util";
import { describeError } from "./errors.ts";

/** A service-specific flag: `--name VALUE`, e.g. `--data FILE`. */
export interface ExtraFlag {
  kind: "string" | "integer";
  default: string | number;
  /** What the value is, in `--help`: `FILE`, `MS`, `fixed|any`. Default `N` or `TEXT`. */
  value?: string;
  /** One line for `--help`. */
  help: string;
  /** Smallest accepted value of an integer flag (default 0). */
  min?: number;
  /** Environment variable that supplies the default, if any. */
  env?: string;
  /** Another extra flag that must not be set with this one (given, or through its env). */
  excludes?: string;
}

/** What a command is called, what it does and which flags it takes. */
export interface CommandSpec<E extends Record<string, ExtraFlag>> {
  command: string;
  description: string;
  defaultPort: number;
  /** What `--port` is, in `--help`. Default "port to listen on". */
  portHelp?: string;
  /** Whether `--registry` applies (not to the registry itself). Default true. */
  registryFlag?: boolean;
  /** Whether Enter on a terminal stops it (see `stopSignal`). Default true. */
  stopOnEnter?: boolean;
  extra: E;
}

/** The flags every service takes (docs/protocol.md#commands). */
export interface CommonFlags {
  host: string;
  port: number;
  registry: string;
  /** The shared bearer token of docs/protocol.md#security, or undefined when none is set. */
  token: string | undefined;
}

/** Parsed flags: the common ones plus the command's own, typed by kind. */
export type Flags<E extends Record<string, ExtraFlag>> = CommonFlags & {
  [K in keyof E]: E[K]["kind"] extends "integer" ? number : string;
};

/** A bad command line; `main` prints its message on one line and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Environment variables the commands read. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses a command line with `node:util` `parseArgs`. Returns `{ help }` when `--help` was
 * given, otherwise the flags; throws `UsageError` for unknown flags and bad values.
 */
function parseFlags<E extends Record<string, ExtraFlag>>(
  args: readonly string[],
  env: Env,
  spec: CommandSpec<E>,
): { help: string } | { flags: Flags<E> } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
    host: { type: "string" },
    port: { type: "string" },
    token: { type: "string" },
  };
  if (spec.registryFlag !== false) options["registry"] = { type: "string" };
  for (const name of Object.keys(spec.extra)) options[name] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }));
  } catch (error) {
    // parseArgs's message says it all; its code (ERR_PARSE_ARGS_…) helps nobody at a prompt.
    // Its first line, that is: for a value starting with "-" it adds two lines of advice.
    const [first = "", ...advice] = (error as Error).message.split("\n");
    const flag = /'(--[\w-]+)'/u.exec(first)?.[1];
    const message = advice.length > 0 && flag !== undefined
      ? `${first.replace(/\.$/u, "")}: a value that starts with '-' goes after '=', ${flag}=VALUE`
      : first;
    throw new UsageError(message, { cause: error });
  }
  if (values["help"] === true) return { help: usage(spec) };

  const text = (name: string, fallback: string): string => {
    const value = values[name];
    return typeof value === "string" ? value : fallback;
  };
  const flags: Record<string, string | number | undefined> = {
    host: text("host", "localhost"),
    port: integer("port", text("port", String(spec.defaultPort)), 0, 65_535),
    registry: text("registry", env["REGISTRY_URL"] ?? "http://localhost:3000"),
    token: text("token", env["REGISTRY_TOKEN"] ?? "") || undefined,
  };
  if (flags["host"] === "") throw new UsageError("--host: must not be empty");
  if (spec.registryFlag !== false) checkURL(String(flags["registry"]));
  const set = (name: string) => {
    const variable = spec.extra[name]?.env;
    return values[name] !== undefined || (variable !== undefined && Boolean(env[variable]));
  };
  for (const [name, flag] of Object.entries(spec.extra)) {
    if (flag.excludes !== undefined && values[name] !== undefined && set(flag.excludes)) {
      throw new UsageError(`--${name} cannot be used with --${flag.excludes}`);
    }
    const fallback = String((flag.env && env[flag.env]) || flag.default);
    const raw = text(name, fallback);
    flags[name] = flag.kind === "integer" ? integer(name, raw, flag.min ?? 0) : raw;
  }
  return { flags: flags as Flags<E> };
}

function integer(name: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    const got = JSON.stringify(raw);
    throw new UsageError(`--${name}: want an integer from ${min} to ${max}, got ${got}`);
  }
  return value;
}

/** Checks `--registry`: one URL, or the URLs of a cluster's replicas separated by commas. */
function checkURL(list: string): void {
  const parts = list.split(",").map((part) => part.trim());
  for (const raw of parts) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UsageError(`--registry: not a URL: ${JSON.stringify(raw)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new UsageError(`--registry: want an http or https URL, got ${JSON.stringify(raw)}`);
    }
  }
}

/** The `--help` text of a command. */
function usage<E extends Record<string, ExtraFlag>>(spec: CommandSpec<E>): string {
  const rows: Array<[string, string]> = [
    ["--host HOST", "interface to bind and host to advertise (default localhost)"],
    [
      "--port PORT",
      `${spec.portHelp ?? "port to listen on"}, 0 = any free port (default ${spec.defaultPort})`,
    ],
  ];
  if (spec.registryFlag !== false) {
    const help = "registry base URL, or a cluster's replica URLs separated by commas " +
      "(default http://localhost:3000; env REGISTRY_URL)";
    rows.push(["--registry URL", help]);
  }
  rows.push(["--token TOKEN", "shared bearer token required on every write (env REGISTRY_TOKEN)"]);
  for (const [name, flag] of Object.entries(spec.extra)) {
    const value = flag.value ?? (flag.kind === "integer" ? "N" : "TEXT");
    const env = flag.env ? `; env ${flag.env}` : "";
    const fallback = JSON.stringify(flag.default);
    rows.push([`--${name} ${value}`, `${flag.help} (default ${fallback}${env})`]);
  }
  rows.push(["-h, --help", "print this help"]);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const lines = rows.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`);
  return `usage: ${spec.command} [flags]\n\n${spec.description}\n\nflags:\n${lines.join("\n")}\n`;
}

/** An output stream of a command: written to, and told what to do when writing fails. */
export interface Output {
  write(text: string): unknown;
  on(event: "error", listener: () => void): unknown;
}

/** The signals that stop a command gracefully. */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/** The parts of `process` a command touches; passed in so `lib/` never reaches for globals. */
export interface Proc {
  argv: string[];
  env: Env;
  stdin: NodeJS.ReadStream;
  stdout: Output;
  stderr: Output;
  exitCode?: number | string | null | undefined;
  once(event: StopSignal, listener: () => void): unknown;
}

/**
 * The environment variable that makes a command stop when its stdin reaches end of file. The
 * launcher sets it and keeps the other end of each service's stdin pipe: when the launcher
 * dies, for whatever reason, SIGKILL included, the kernel closes that end and the service
 * stops gracefully.
 */
export const stopOnStdinEOF = "STOP_ON_STDIN_EOF";

/**
 * Runs a command's `main`: parses flags (`--help` → usage, exit 0; bad flags, or a
 * `UsageError` thrown by `main` → one line, exit 2), turns the stop events of `stopSignal`
 * into an AbortSignal, and reports any other failure on one line with exit code 1. Output
 * that can no longer be written (the terminal or the launcher is gone) is dropped, so a
 * service still stops gracefully.
 */
export async function runCommand<E extends Record<string, ExtraFlag>>(
  proc: Proc,
  spec: CommandSpec<E>,
  main: (flags: Flags<E>, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  for (const stream of [proc.stdout, proc.stderr]) stream.on("error", () => undefined);
  try {
    const parsed = parseFlags(proc.argv.slice(2), proc.env, spec);
    if ("help" in parsed) {
      proc.stdout.write(parsed.help);
      return;
    }
    await main(parsed.flags, stopSignal(proc, { enter: spec.stopOnEnter !== false }));
  } catch (error) {
    const bad = error instanceof UsageError;
    const text = bad ? error.message : describeError(error);
    proc.stderr.write(`${spec.command}: ${text}${bad ? " (see --help)" : ""}\n`);
    proc.exitCode = bad ? 2 : 1;
  } finally {
    // `main` may end without a stop (it failed): a stdin still watched would keep us alive.
    proc.stdin.pause();
  }
}

/**
 * An AbortSignal fired by SIGINT, SIGTERM or SIGHUP (a closed terminal); by Enter only when
 * stdin is a terminal and `enter` is not false; and by the end of stdin only when the
 * environment sets `STOP_ON_STDIN_EOF=1` (see `stopOnStdinEOF`). The Go original stopped on
 * any end of stdin, so it died at once when started in the background
 * (docs/protocol.md#commands).
 */
function stopSignal(proc: Proc, options: { enter?: boolean } = {}): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) proc.once(signal, stop);
  const { stdin } = proc;
  const onEnter = stdin.isTTY === true && options.enter !== false;
  const onEOF = proc.env[stopOnStdinEOF] === "1" && stdin.isTTY !== true;
  if (onEnter) stdin.once("data", stop);
  if (onEOF) {
    // Read (and drop) whatever arrives, so that the end is seen.
    stdin.on("data", () => undefined);
    stdin.once("end", stop);
  }
  if (onEnter || onEOF) {
    // A stdin still being read would keep the process alive after its graceful stop.
    controller.signal.addEventListener("abort", () => stdin.pause(), { once: true });
  }
  return controller.signal;
}
