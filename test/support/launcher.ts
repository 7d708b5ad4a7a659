// Test helpers for the launcher: started as `make run` would be, its summary parsed, and a
// wait until nothing listens any more.
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { request } from "../../lib/std/request.ts";
import { startCommand } from "./process.ts";
import { eventually } from "./wait.ts";

/** One row of the launcher's summary. */
export interface Row {
  url: string;
  pid: number;
}

/**
 * Starts the launcher on free ports in `dir` (with `extra` flags) and waits for its "Teacher
 * portal" line; every process of its summary is SIGKILLed after the test should one be left.
 */
export async function startLauncher(t: TestContext, dir: string, extra: string[] = []) {
  const launcher = startCommand(t, "launcher",
    ["--ports", "any", "--dir", dir, "--host", "127.0.0.1", ...extra]);
  const rows = new Map<string, Row>();
  t.after(() => {
    // Should a test fail halfway, no service outlives it either.
    for (const { pid } of rows.values()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone, as it should be.
      }
    }
  });
  const [, portalURL = ""] = await launcher.waitLine(/^Teacher portal: (\S+)\/students$/, 60_000);
  const lines = () => `${launcher.stdout()}${launcher.stderr()}`.split("\n");
  // The summary lists every service's URL and process ID.
  for (const line of lines()) {
    const match = /^ {2}(\w+) +(http:\/\/\S+) +pid (\d+)$/.exec(line);
    if (match?.[1] && match[2]) rows.set(match[1], { url: match[2], pid: Number(match[3]) });
  }
  const url = (name: string) => rows.get(name)?.url ?? assert.fail(`no row for ${name}`);
  return { launcher, child: launcher.child, lines, portalURL, rows, url };
}

/** Resolves once nothing listens at any of `urls`. */
export async function nothingListens(urls: Iterable<string>): Promise<void> {
  for (const url of urls) {
    await eventually(async () => {
      const refused = await request(url, { timeoutMs: 1_000 }).then(
        () => undefined,
        (error: { code?: string }) => (error.code === "ECONNREFUSED" ? true : undefined),
      );
      return refused;
    }, 15_000, `nothing listening at ${url}`);
  }
}

