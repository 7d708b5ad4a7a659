// wrk (Debian's `wrk`, a C load generator) as a second opinion on the node:net generator:
// the same keep-alive POSTs of one text entry, when it is installed.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { wrkEntry } from "./entries.ts";
import { cpuShares, type LoadGenerator, type LoadRun, type RunConfig } from "./load.ts";
import { setTimeout as delay } from "node:timers/promises";
import { cpuMs, machineCpuMs } from "./usage.ts";

/** What wrk printed, in the units the bench uses. */
export interface WrkOutput {
  requests: number;
  seconds: number;
  /** Answers other than 2xx/3xx (counted in `requests`). */
  bad: number;
  /** Socket errors: connect, read, write, timeout. */
  errors: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

const units: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1_000, m: 60_000 };

/** Parses the output of `wrk --latency`; throws when the figures are missing. */
export function parseWrkOutput(text: string): WrkOutput {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(text);
  if (!total) throw new Error(`wrk: no request count in its output: ${text.slice(0, 200)}`);
  const latency = (percent: string) => {
    const match = new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(text);
    return match ? Number(match[1]) * (units[match[2] ?? ""] ?? Number.NaN) : Number.NaN;
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requests: Number(total[1]),
    seconds: (Number(total[2]) * (units[total[3] ?? ""] ?? Number.NaN)) / 1_000,
    bad: Number(non2xx?.[1] ?? 0),
    errors,
    latencyP50Ms: latency("50"),
    latencyP99Ms: latency("99"),
  };
}

/**
 * A `LoadGenerator` that runs `wrk -t1 -c<connections> -d<seconds>s --latency` per run, or
 * `undefined` when wrk is not installed. Only text mode: wrk sends one fixed entry. Its
 * windows are whole seconds and it has no warm-up, so a short unmeasured wrk run goes first.
 */
export async function startWrk(dir: string): Promise<LoadGenerator | undefined> {
  if (spawnSync("wrk", ["--version"], { stdio: "ignore" }).error) return undefined;
  const script = join(dir, "post.lua");
  await writeFile(script, `wrk.method = "POST"\n` +
    `wrk.headers["Content-Type"] = "text/plain"\nwrk.body = ${JSON.stringify(wrkEntry)}\n`);

  const wrk = async (url: string, connections: number, seconds: number) => {
    const child = spawn("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency",
      "-s", script, url], { stdio: ["ignore", "pipe", "pipe"] });
    const output: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk));
    return { child, exited: once(child, "close"), output };
  };

  const run = async (config: RunConfig, targetPid: number): Promise<LoadRun> => {
    if (config.mode !== "text") throw new Error("bench: wrk runs only text entries");
    const seconds = Math.max(1, Math.round(config.durationMs / 1_000));
    const warm = await wrk(config.url, config.connections, 1);
    await warm.exited;
    const { child, exited, output } = await wrk(config.url, config.connections, seconds);
    const pid = child.pid ?? 0;
    const sampleNow = async () => {
      const [target, generator, machine] =
        await Promise.all([cpuMs(targetPid), cpuMs(pid), machineCpuMs()]);
      return { target, generators: [generator], machine, at: performance.now() };
    };
    // Its connections are up within milliseconds; sample inside its window, not at its edges.
    await delay(100);
    const begin = await sampleNow();
    await delay(seconds * 1_000 - 200);
    const end = await sampleNow();
    const [code] = await exited;
    const text = Buffer.concat(output).toString("utf8");
    if (code !== 0) throw new Error(`wrk: exited with ${String(code)}: ${text.slice(0, 300)}`);
    const parsed = parseWrkOutput(text);
    const ok = parsed.requests - parsed.bad;
    return {
      generator: "wrk -t1",
      rate: ok / parsed.seconds,
      ok,
      bad: parsed.bad,
      errors: parsed.errors,
      firstError: "",
      latencyP50Ms: parsed.latencyP50Ms,
      latencyP99Ms: parsed.latencyP99Ms,
      ...cpuShares(begin, end),
      sent: new Map(),
    };
  };

  return { name: "wrk -t1", run, close: async () => {} };
}
