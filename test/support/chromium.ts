// Test helper: a real browser — Debian's Chromium, headless — driven with --dump-dom or with
// the DevTools protocol over --remote-debugging-pipe. No npm packages.
import assert from "node:assert/strict";
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { once } from "node:events";
import { access, constants, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { connectDevTools, type DevTools } from "./devtools.ts";
import { eventually } from "./wait.ts";

const chromium = process.env["CHROMIUM"] ?? "/usr/bin/chromium";

/** Fails (never skips) when Chromium is missing: CI installs it, so a skip would hide bugs. */
export async function requireChromium(): Promise<void> {
  try {
    await access(chromium, constants.X_OK);
  } catch {
    assert.fail(
      `browser test: Chromium not found at ${chromium}. Install it ` +
        "(Debian/Ubuntu: sudo apt-get install -y chromium) or set CHROMIUM=/path/to/chromium.",
    );
  }
}

const flags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/**
 * Starts Chromium with a fresh profile. When the test ends it is killed if still running, and
 * only then is its profile removed (a running browser keeps writing into it).
 */
async function launch(
  t: TestContext,
  args: string[],
  stdio: StdioOptions,
  timeoutMs: number,
): Promise<{ child: ChildProcess; exited: Promise<unknown[]> }> {
  await requireChromium();
  const profile = await mkdtemp(join(tmpdir(), "chromium-profile-"));
  const child = spawn(chromium, [...flags, `--user-data-dir=${profile}`, ...args], { stdio });
  const exited = once(child, "exit");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  void exited.finally(() => clearTimeout(timer));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    await rm(profile, { recursive: true, force: true, maxRetries: 3 });
  });
  return { child, exited };
}

/** The DOM Chromium builds for `url`, serialized (`--dump-dom`). */
export async function dumpDOM(t: TestContext, url: string): Promise<string> {
  const stdio: StdioOptions = ["ignore", "pipe", "pipe"];
  const { child, exited } = await launch(t, ["--dump-dom", url], stdio, 30_000);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));
  const [code] = await exited;
  const dom = Buffer.concat(out).toString("utf8");
  const stderr = Buffer.concat(err).toString("utf8").slice(-2_000);
  assert.ok(
    code === 0 && dom.includes("<html"),
    `chromium --dump-dom ${url} failed (exit ${String(code)}): ${stderr}`,
  );
  return dom;
}

/** One browser tab under test control. */
export interface Tab {
  /** The DevTools connection and the tab's session, for commands not wrapped here. */
  devtools: DevTools;
  session: string;
  /** Evaluates `expression` in the page (awaiting a promise) and returns its JSON value. */
  evaluate(expression: string): Promise<unknown>;
  /** Runs `cause` and resolves once the page it leads to has loaded. */
  load(cause: () => Promise<unknown>): Promise<void>;
  /** Navigates to `url` and waits for the load event. */
  goto(url: string): Promise<void>;
  /** Resolves once `expression` evaluates to something other than null/undefined/false. */
  waitFor(expression: string, timeoutMs?: number): Promise<unknown>;
}

/**
 * Starts a headless Chromium with a fresh profile and a `width`×`height` viewport and returns
 * its first tab. The browser is killed when the test ends.
 */
export async function openTab(t: TestContext, width = 1_000, height = 800): Promise<Tab> {
  const stdio: StdioOptions = ["ignore", "ignore", "pipe", "pipe", "pipe"];
  const { child, exited } = await launch(t, ["--remote-debugging-pipe"], stdio, 120_000);
  const devtools = connectDevTools(child, exited);
  const { targetInfos } = (await devtools.send("Target.getTargets")) as {
    targetInfos: Array<{ targetId: string; type: string }>;
  };
  let targetId = targetInfos.find((target) => target.type === "page")?.targetId;
  if (targetId === undefined) {
    const created = await devtools.send("Target.createTarget", { url: "about:blank" });
    targetId = String(created["targetId"]);
  }
  const attached = await devtools.send("Target.attachToTarget", { targetId, flatten: true });
  const session = String(attached["sessionId"]);
  await devtools.send("Page.enable", {}, session);
  const metrics = { width, height, deviceScaleFactor: 1, mobile: false };
  await devtools.send("Emulation.setDeviceMetricsOverride", metrics, session);

  const evaluate = async (expression: string): Promise<unknown> => {
    const answer = await devtools.send(
      "Runtime.evaluate",
      { expression, returnByValue: true, awaitPromise: true },
      session,
    );
    type Thrown = { exception?: { description?: string } } | undefined;
    const thrown = answer["exceptionDetails"] as Thrown;
    if (thrown !== undefined) {
      throw new Error(`page: ${thrown.exception?.description ?? "exception"}: ${expression}`);
    }
    return (answer["result"] as { value?: unknown } | undefined)?.value;
  };
  const load = async (cause: () => Promise<unknown>) => {
    const loaded = devtools.next("Page.loadEventFired", session);
    await cause();
    await loaded;
  };
  return {
    devtools,
    session,
    evaluate,
    load,
    goto: async (url) => {
      await load(() => devtools.send("Page.navigate", { url }, session));
      // The load event awaited may be a late one of the document before (the first
      // about:blank): the page is there once the document is this URL's, complete. Checked
      // from here, as a page with script disabled runs no observer of its own.
      const href = JSON.stringify(new URL(url).href);
      const here = `document.readyState === "complete" && location.href === ${href}`;
      await eventually(() => evaluate(here).then((value) => value === true), 10_000,
        `${url} loaded`);
    },
    // Waits inside the page for the DOM change that makes `expression` true, without polling.
    waitFor: (expression, timeoutMs = 10_000) =>
      evaluate(`new Promise((resolve, reject) => {
        const test = () => {
          const value = (${expression});
          return value === null || value === false ? undefined : value;
        };
        const found = test();
        if (found !== undefined) return resolve(found);
        const observer = new MutationObserver(() => {
          const value = test();
          if (value === undefined) return;
          observer.disconnect();
          clearTimeout(timer);
          resolve(value);
        });
        const timer = setTimeout(() => {
          observer.disconnect();
          reject(new Error(${JSON.stringify(`waitFor: timed out after ${timeoutMs} ms: `)} +
            ${JSON.stringify(expression)}));
        }, ${timeoutMs});
        observer.observe(document, {
          subtree: true, childList: true, characterData: true, attributes: true,
        });
      })`),
  };
}
