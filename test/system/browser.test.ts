// A real browser over the real system: Debian's Chromium, headless, driven with --dump-dom and
// the DevTools protocol over --remote-debugging-pipe. No npm packages.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { access, constants, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { describe, it, type TestContext } from "node:test";
import { startSystem } from "../lib/portal/system.ts";

const chromium = process.env["CHROMIUM"] ?? "/usr/bin/chromium";

/** Fails (never skips) when Chromium is missing: CI installs it, so a skip would hide bugs. */
async function requireChromium(): Promise<void> {
  try {
    await access(chromium, constants.X_OK);
  } catch {
    assert.fail(
      `browser test: Chromium not found at ${chromium}. Install it ` +
        "(Debian/Ubuntu: sudo apt-get install -y chromium) or set CHROMIUM=/path/to/chromium.",
    );
  }
}

async function profileDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "chromium-profile-"));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 3 }));
  return dir;
}

async function chromiumArgs(t: TestContext): Promise<string[]> {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    `--user-data-dir=${await profileDir(t)}`,
  ];
}

/** Kills the browser if the test ends while it still runs; resolves when it exited. */
function watch(t: TestContext, child: ChildProcess, timeoutMs: number): Promise<unknown[]> {
  const exited = once(child, "exit");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  void exited.finally(() => clearTimeout(timer));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  return exited;
}

/** The DOM Chromium builds for `url`, serialized (`--dump-dom`). */
async function dumpDOM(t: TestContext, url: string): Promise<string> {
  const child = spawn(chromium, [...(await chromiumArgs(t)), "--dump-dom", url], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = watch(t, child, 30_000);
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

/** Rows of the first `<tbody>`, each as the text of its cells. */
function tableRows(dom: string): string[][] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(dom)?.[1] ?? "";
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...(row[1] ?? "").matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) =>
      decode((cell[1] ?? "").replace(/<[^>]+>/g, "").trim()),
    ),
  );
}

function decode(text: string): string {
  return text
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&amp;", "&");
}

interface CDPMessage {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message?: string };
}

/** A minimal DevTools-protocol client over Chromium's pipe: fd 3 in, fd 4 out, NUL-delimited. */
function cdp(child: ChildProcess) {
  const input = child.stdio[3] as Writable;
  const output = child.stdio[4] as Readable;
  let nextID = 1;
  let buffer = "";
  const calls = new Map<number, { resolve: (m: CDPMessage) => void; reject: (e: Error) => void }>();
  const listeners = new Set<(message: CDPMessage) => void>();
  output.setEncoding("utf8");
  output.on("data", (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf("\0"); end >= 0; end = buffer.indexOf("\0")) {
      const message = JSON.parse(buffer.slice(0, end)) as CDPMessage;
      buffer = buffer.slice(end + 1);
      if (message.id !== undefined) {
        const call = calls.get(message.id);
        calls.delete(message.id);
        if (message.error) call?.reject(new Error(`cdp: ${message.error.message ?? "error"}`));
        else call?.resolve(message);
      } else {
        for (const listener of [...listeners]) listener(message);
      }
    }
  });
  output.on("close", () => {
    for (const call of calls.values()) call.reject(new Error("cdp: browser closed the pipe"));
  });
  return {
    send(method: string, params: object = {}, session?: string): Promise<Record<string, unknown>> {
      const id = nextID++;
      const target = session === undefined ? {} : { sessionId: session };
      const message = { id, method, params, ...target };
      input.write(`${JSON.stringify(message)}\0`);
      return new Promise((resolve, reject) => {
        calls.set(id, { resolve: (m) => resolve(m.result ?? {}), reject });
      });
    },
    /** Resolves with the next `method` event (of `sessionId`); listen before causing it. */
    next(method: string, sessionId: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`cdp: no ${method} within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = (message: CDPMessage) => {
          if (message.method !== method || message.sessionId !== sessionId) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(message.params ?? {});
        };
        listeners.add(listener);
      });
    },
  };
}

describe("teacher portal in headless Chromium", () => {
  it("renders the students list and a student page as a browser sees them", async (t) => {
    await requireChromium();
    const system = await startSystem(t);
    const portal = system.portal.handle.url;
    await system.store.addGrade(1, { Title: "<script>alert(1)</script>", Type: "Test", Score: 60 });

    const list = await dumpDOM(t, `${portal}/`);
    assert.match(list, /<title>Students · Teacher Portal<\/title>/);
    assert.deepEqual(tableRows(list), [
      ["Simen, Averill", "81.8"],
      ["Garrard, Marge", "96.0"],
      ["Barber, Sydnie", "47.3"],
      ["Easton, Louie", "88.3"],
      ["Attwood, Kylee", "97.3"],
    ]);
    assert.match(list, /<a href="\/students\/3">Barber, Sydnie<\/a>/);
    assert.match(list, /<nav[^>]*>.*>Students<\/a>.*>Services<\/a>.*>Logs<\/a><\/nav>/s);

    const student = await dumpDOM(t, `${portal}/students/1`);
    assert.match(student, /<h1>Averill Simen<\/h1>/);
    assert.deepEqual(tableRows(student), [
      ["Quiz 1", "Quiz", "85"],
      ["Week 1 Homework", "Homework", "94"],
      ["Quiz 2", "Quiz", "88"],
      ["<script>alert(1)</script>", "Test", "60"],
    ]);
    // The title is text in a cell, not an element: no script made it into the DOM.
    assert.doesNotMatch(student, /<script/);
    const labels = [["grade-title", "Title"], ["grade-type", "Type"], ["grade-score", "Score"]];
    for (const [id, label] of labels) {
      assert.match(student, new RegExp(`<label for="${id}">${label}</label>`));
      assert.match(student, new RegExp(`id="${id}"`));
    }
    assert.match(student, /<form method="post" action="\/students\/1\/grades">/);
  });

  it("adds a grade by filling and submitting the form (DevTools protocol)", async (t) => {
    await requireChromium();
    const system = await startSystem(t);
    const portal = system.portal.handle.url;
    const child = spawn(chromium, [...(await chromiumArgs(t)), "--remote-debugging-pipe"], {
      stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
    });
    const exited = watch(t, child, 60_000);
    const browser = cdp(child);

    const { targetInfos } = (await browser.send("Target.getTargets")) as {
      targetInfos: Array<{ targetId: string; type: string }>;
    };
    let targetId = targetInfos.find((target) => target.type === "page")?.targetId;
    if (targetId === undefined) {
      const created = await browser.send("Target.createTarget", { url: "about:blank" });
      targetId = String(created["targetId"]);
    }
    const attached = await browser.send("Target.attachToTarget", { targetId, flatten: true });
    const session = String(attached["sessionId"]);
    await browser.send("Page.enable", {}, session);
    const evaluate = async (expression: string): Promise<unknown> => {
      const answer = await browser.send(
        "Runtime.evaluate",
        { expression, returnByValue: true, awaitPromise: true },
        session,
      );
      return (answer["result"] as { value?: unknown } | undefined)?.value;
    };
    const load = async (cause: () => Promise<unknown>) => {
      const loaded = browser.next("Page.loadEventFired", session);
      await cause();
      await loaded;
    };
    const fill = (title: string, type: string, score: string) => `(() => {
      document.querySelector("#grade-title").value = ${JSON.stringify(title)};
      document.querySelector("#grade-type").value = ${JSON.stringify(type)};
      document.querySelector("#grade-score").value = ${JSON.stringify(score)};
      document.querySelector("form").requestSubmit();
    })()`;

    await load(() => browser.send("Page.navigate", { url: `${portal}/students/4` }, session));
    assert.equal(await evaluate("document.querySelector('h1').textContent"), "Louie Easton");
    const label = await evaluate("document.querySelector('label[for=grade-score]').textContent");
    assert.equal(label, "Score");

    // Blank title: passes the browser's `required`, refused by the service with a 400 page.
    await load(() => evaluate(fill("   ", "Test", "70")));
    assert.equal(
      await evaluate("document.querySelector('[role=alert]').textContent"),
      "Title: must be 1 to 200 characters, not blank",
    );
    assert.equal(await evaluate("document.querySelector('#grade-score').value"), "70");
    assert.equal(await evaluate("document.querySelector('#grade-type').value"), "Test");

    // A valid grade: 303 back to the student page, which now lists it.
    await load(() => evaluate(fill("Browser quiz", "Quiz", "99.5")));
    assert.equal(await evaluate("location.pathname"), "/students/4");
    assert.equal(await evaluate("document.querySelector('[role=alert]')"), null);
    const rows = await evaluate(
      "[...document.querySelectorAll('tbody tr')].map((tr) => tr.innerText.split('\\t'))",
    );
    assert.deepEqual((rows as string[][]).at(-1), ["Browser quiz", "Quiz", "99.5"]);
    assert.equal(await evaluate("document.querySelector('#average').textContent"), "91.1");
    assert.deepEqual(system.store.get(4)?.Grades.at(-1), {
      Title: "Browser quiz",
      Type: "Quiz",
      Score: 99.5,
    });

    await browser.send("Browser.close").catch(() => undefined);
    await exited;
  });
});
