import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, it, type TestContext } from "node:test";
import { eventually, has, list, post, startFake } from "../lib/registry/helpers.ts";

const main = fileURLToPath(new URL("../../cmd/registryservice/main.js", import.meta.url));

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs the registry to completion (for --help and bad flags). */
async function run(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { child, stdout, stderr, code };
}

/** Starts the registry and resolves with its advertised URL once it printed its line. */
async function start(
  t: TestContext,
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [main, "--host", "127.0.0.1", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    ...(cwd === undefined ? {} : { cwd }),
    env: { ...process.env, REGISTRY_TOKEN: "", ...env },
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await Promise.race([
    once(lines, "line"),
    once(child, "exit").then(() => { throw new Error(`registry exited: ${stderr}`); }),
  ])) as [string];
  const match = /^Registry listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
  assert.ok(match, `startup line: ${line}`);
  return { child, url: match[1] ?? "", stderr: () => stderr };
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "registry-system-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("registryservice command", () => {
  it("prints --help and exits 0", async () => {
    const result = await run(["--help"]);
    assert.equal(result.code, 0);
    for (const flag of ["--state", "--heartbeat-interval", "--heartbeat-timeout", "--failures",
      "--deregister-after", "--host", "--port", "--token"]) {
      assert.ok(result.stdout.includes(flag), `--help mentions ${flag}`);
    }
  });

  it("rejects unknown flags and bad values with one line and exit code 2", async () => {
    for (const args of [["--bogus"], ["--failures", "0"], ["--heartbeat-interval", "soon"],
      ["--port", "70000"]]) {
      const result = await run(args);
      assert.equal(result.code, 2, args.join(" "));
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.match(result.stderr, /^registryservice: /);
    }
  });

  it("starts on --port 0, keeps its state across a SIGTERM restart and exits 0", async (t) => {
    const statePath = join(await tempDir(t), "registry.json");
    const first = await start(t, ["--state", statePath]);
    const provider = await startFake(t);
    assert.equal((await post(first.url, provider.registration("LogService"))).status, 200);
    first.child.kill("SIGTERM");
    const [code] = (await once(first.child, "exit")) as [number | null];
    assert.equal(code, 0, first.stderr());
    assert.match(await readFile(statePath, "utf8"), /"ServiceName":"LogService"/);

    const second = await start(t, ["--state", statePath]);
    assert.deepEqual((await list(second.url)).map((row) => row.ServiceURL), [provider.url]);
    second.child.kill("SIGINT");
    assert.deepEqual(await once(second.child, "exit"), [0, null]);
  });

  it("takes the token from REGISTRY_TOKEN and keeps --state '' in memory", async (t) => {
    const dir = await tempDir(t);
    const { url, child } = await start(t, ["--state", ""], { REGISTRY_TOKEN: "tok" }, dir);
    const body = { ServiceName: "S", ServiceURL: "http://127.0.0.1:1/s" };
    assert.equal((await post(url, body)).status, 401);
    assert.equal((await post(url, body, { Authorization: "Bearer tok" })).status, 200);
    assert.equal((await list(url)).length, 1);
    child.kill("SIGTERM");
    assert.deepEqual(await once(child, "exit"), [0, null]);
    assert.deepEqual(await readdir(dir), []);
  });

  it("tells dependents of a SIGKILLed provider at once, with a 60 s interval", async (t) => {
    const { url } = await start(t, ["--state", "", "--heartbeat-interval", "60000"]);
    const watcher = await startFake(t);
    const provider = spawn(process.execPath, ["-e", providerScript], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    t.after(() => {
      if (provider.exitCode === null && provider.signalCode === null) provider.kill("SIGKILL");
    });
    const [port] = (await once(createInterface({ input: provider.stdout }), "line")) as [string];
    const providerURL = `http://127.0.0.1:${port.trim()}`;
    await post(url, watcher.registration("Watcher", ["Crashy"]));
    await post(url, { ServiceName: "Crashy", ServiceURL: providerURL,
      HeartbeatURL: `${providerURL}/heartbeat` });
    await watcher.waitPatch((patch) => has(patch, providerURL));
    // The first check has run, leaving its keep-alive connection in the pool.
    await eventually(() => list(url, "Crashy"), (rows) => rows[0]?.LastCheck !== null);
    const killed = performance.now();
    provider.kill("SIGKILL");
    await watcher.waitPatch((patch) => has(patch, providerURL, "Removed"), 3_000);
    t.diagnostic(`kill -9 → Removed in ${(performance.now() - killed).toFixed(1)} ms`);
  });

  it("turns a SIGSTOPped provider critical after its failures and back on SIGCONT", async (t) => {
    const { url } = await start(t, ["--state", "", "--heartbeat-interval", "100",
      "--heartbeat-timeout", "100", "--failures", "2"]);
    const watcher = await startFake(t);
    const healthy = await startFake(t);
    const provider = spawn(process.execPath, ["-e", providerScript], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    t.after(() => {
      if (provider.exitCode === null && provider.signalCode === null) provider.kill("SIGKILL");
    });
    const [port] = (await once(createInterface({ input: provider.stdout }), "line")) as [string];
    const providerURL = `http://127.0.0.1:${port.trim()}`;
    await post(url, watcher.registration("Watcher", ["Sleepy", "Healthy"]));
    await post(url, healthy.registration("Healthy"));
    await post(url, { ServiceName: "Sleepy", ServiceURL: providerURL,
      HeartbeatURL: `${providerURL}/heartbeat` });
    await eventually(() => list(url, "Sleepy"), (rows) => rows[0]?.LastCheck !== null);
    provider.kill("SIGSTOP");
    const stopped = performance.now();
    const beats = healthy.heartbeats;
    const removed = await watcher.waitPatch((patch) => has(patch, providerURL, "Removed"),
      5_000);
    const elapsed = performance.now() - stopped;
    // ≤ interval + failures × (timeout + 1 s retry delay) (SPEC §8), and not at once.
    assert.ok(elapsed >= 1_000 && elapsed <= 2_800, `critical after ${elapsed} ms`);
    assert.ok(healthy.heartbeats - beats >= 8, "the others are still checked on time");
    provider.kill("SIGCONT");
    const after = watcher.patches.indexOf(removed);
    await watcher.waitPatch((patch) => watcher.patches.indexOf(patch) > after &&
      has(patch, providerURL), 3_000);
  });
});

const providerScript = `
const http = require("node:http");
const server = http.createServer((req, res) => res.end("ok"));
server.keepAliveTimeout = 120000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;
