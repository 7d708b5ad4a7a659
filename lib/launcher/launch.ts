import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { relative } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { listServices } from "../registry/client.ts";
import { stopOnStdinEOF, type Env } from "../std/command.ts";
import { refusedByBrowsers } from "./badports.ts";

/** One service the launcher starts: `node <commandsDir>/<command>/main.js …`. */
export interface ServiceSpec {
  /** Short name that prefixes each line of its output. */
  name: string;
  /** Folder name under `cmd/`. */
  command: string;
  /** Its default port. */
  port: number;
  /** Its ServiceName; the registry itself has none and is waited for by its startup line. */
  serviceName?: string;
  args: string[];
}

/** Options of `launch`. */
export interface LaunchOptions {
  /** In start order; the first one is the registry. */
  services: ServiceSpec[];
  /** Folder for runtime files; created if missing. */
  dir: string;
  host: string;
  /** Start every service on a free port instead of its default one. */
  anyPorts: boolean;
  /** The registry's port when not `anyPorts`. */
  registryPort: number;
  token: string | undefined;
  /** Folder holding the compiled `cmd/` (URL of `dist/cmd/`). */
  commandsDir: URL;
  /** Environment of the children (the launcher passes its own). */
  env: Env;
  out: { write(text: string): unknown };
  /** Aborting it stops every service in reverse order; `launch` resolves after that. */
  signal: AbortSignal;
  /** How long one service may take to come up. Default 20 s. */
  startTimeoutMs?: number;
}

interface Running {
  spec: ServiceSpec;
  child: ChildProcess;
  exited: Promise<unknown[]>;
}

/**
 * Starts every service as its own process in order, waiting until each is up (the registry:
 * its startup line; the others: listed by the registry), prefixes their output with their
 * names, then waits for `signal` and stops them in reverse order so each deregisters. A
 * service that dies meanwhile is reported with its exit code or signal and the command that
 * starts it again.
 *
 * The children never outlive the launcher: each one's stdin is a pipe whose other end only
 * the launcher holds, and they run with `STOP_ON_STDIN_EOF=1` (`lib/std/command.ts`), so when
 * the launcher dies — SIGKILL included — the kernel closes the pipes and every service stops
 * gracefully. The registry's pipe is also held by every other service: it stops only after
 * the last of them, so each can still deregister.
 *
 * Rejects (after stopping whatever it started) when a service exits or does not come up in
 * time.
 */
export async function launch(options: LaunchOptions): Promise<void> {
  const { services, host, signal, out, startTimeoutMs = 20_000 } = options;
  await mkdir(options.dir, { recursive: true });
  const width = Math.max(...services.map((spec) => spec.name.length));
  const prefix = (spec: ServiceSpec) => `${spec.name.padEnd(width)} | `;
  const running: Running[] = [];
  const urls = new Map<string, string>();
  let registryURL = "";
  const env = {
    ...options.env,
    ...(options.token ? { REGISTRY_TOKEN: options.token } : {}),
    [stopOnStdinEOF]: "1",
  };
  try {
    for (const spec of services) {
      const port = options.anyPorts ? 0 : spec === services[0] ? options.registryPort : spec.port;
      const main = fileURLToPath(new URL(`${spec.command}/main.js`, options.commandsDir));
      const args = ["--host", host, "--port", String(port), ...spec.args];
      if (registryURL) args.push("--registry", registryURL);
      // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the
      // services in reverse order (the registry last, so every service can deregister).
      // fd 3 of every service holds the registry's stdin pipe open (see above).
      const registryPipe = running[0]?.child.stdin;
      const child = spawn(process.execPath, [main, ...args], {
        env,
        detached: true,
        stdio: ["pipe", "pipe", "pipe", ...(registryPipe ? [registryPipe] : [])],
      });
      const exited = once(child, "exit");
      running.push({ spec, child, exited });
      const listening = new Promise<string>((resolve) => {
        for (const stream of [child.stdout, child.stderr]) {
          // Both are pipes (stdio above); the type cannot tell.
          if (!stream) continue;
          createInterface({ input: stream }).on("line", (line) => {
            out.write(prefix(spec) + line + "\n");
            const match = / listening on (\S+)/.exec(line);
            if (match?.[1]) resolve(match[1]);
          });
        }
      });
      const deadline = AbortSignal.any([signal, AbortSignal.timeout(startTimeoutMs)]);
      const url = await until(deadline, exited, spec, listening);
      urls.set(spec.name, url);
      if (!registryURL) registryURL = url;
      else {
        const listed = registered(registryURL, spec, url, options, deadline);
        await until(deadline, exited, spec, listed);
      }
      // The same flags, on the port it had, so that it comes back under the same URL.
      const again = [relative(process.cwd(), main), "--host", host, "--port", new URL(url).port];
      again.push(...args.slice(4));
      const token = options.token ? "REGISTRY_TOKEN=<the token> " : "";
      void exited.then(([code, killedBy]) => {
        if (signal.aborted) return;
        out.write(`${prefix(spec)}${describeExit(code, killedBy)}; the others keep running. ` +
          `Start it again with:\n${prefix(spec)}  ${token}node ${again.join(" ")}\n`);
      });
    }
    const rows = running.map(({ spec, child }) => {
      const url = urls.get(spec.name) ?? "";
      // Said where the URL is printed: clicking it fails with a browser's "unsafe port" page.
      const note = refusedByBrowsers(Number(new URL(url).port))
        ? "  (browsers and fetch() refuse this port: use curl)"
        : "";
      return `  ${spec.name.padEnd(width)}  ${url.padEnd(22)}  pid ${child.pid}${note}`;
    });
    out.write(`\n${rows.join("\n")}`);
    const portal = services.find((spec) => spec.serviceName === "TeacherPortal");
    if (portal) out.write(`\n\nTeacher portal: ${urls.get(portal.name)}/students\n`);
    out.write("Press Ctrl-C to stop everything.\n\n");
    if (!signal.aborted) await once(signal, "abort");
  } finally {
    // Reverse order: each service deregisters while the registry still runs.
    for (const { spec, child, exited } of running.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      out.write(`${prefix(spec)}stopping\n`);
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

/** "exited with code 1" or "killed by SIGKILL". */
function describeExit(code: unknown, signal: unknown): string {
  return typeof signal === "string" ? `killed by ${signal}` : `exited with code ${String(code)}`;
}

/** Resolves with `what`, or rejects when the child exits or the deadline passes first. */
async function until<T>(
  deadline: AbortSignal,
  exited: Promise<unknown[]>,
  spec: ServiceSpec,
  what: Promise<T>,
): Promise<T> {
  const failed = (reason: string) => new Error(`${spec.command}: ${reason}`);
  let stop = () => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    stop = () => {
      const timedOut = deadline.reason instanceof DOMException &&
        deadline.reason.name === "TimeoutError";
      reject(failed(timedOut ? "did not come up in time" : "start aborted"));
    };
  });
  if (deadline.aborted) stop();
  else deadline.addEventListener("abort", stop, { once: true });
  try {
    return await Promise.race([
      what,
      aborted,
      exited.then(([code, signal]) => {
        throw failed(`${describeExit(code, signal)} before it was up`);
      }),
    ]);
  } finally {
    deadline.removeEventListener("abort", stop);
  }
}

/** Polls the registry until it lists `url` under the service's name. */
async function registered(
  registryURL: string,
  spec: ServiceSpec,
  url: string,
  options: LaunchOptions,
  deadline: AbortSignal,
): Promise<void> {
  const name = spec.serviceName ?? spec.name;
  while (!deadline.aborted) {
    const list = await listServices({
      registryURL,
      name,
      signal: deadline,
      ...(options.token ? { token: options.token } : {}),
    }).catch(() => []);
    if (list.some((entry) => entry.ServiceURL === url)) return;
    await delay(25, undefined, { signal: deadline }).catch(() => undefined);
  }
}
