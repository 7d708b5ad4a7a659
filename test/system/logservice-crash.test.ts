// Durability under kill -9: every entry the log service acknowledged is in the file, whole.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { Agent } from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { request } from "../../lib/service/request.ts";
import { freePort } from "../lib/service/fakes.ts";

const main = fileURLToPath(new URL("../../cmd/logservice/main.js", import.meta.url));

describe("logservice under kill -9", () => {
  it("never loses or tears an acknowledged entry", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "logservice-crash-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "distributed.log");
    // Nothing listens at the registry: the service must serve while registration retries.
    const registry = `http://127.0.0.1:${await freePort()}`;
    const child = spawn(
      process.execPath,
      [main, "--host", "127.0.0.1", "--port", "0", "--registry", registry, "--file", file],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = once(child, "exit");
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    const stderr: string[] = [];
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
    let url = "";
    for await (const line of createInterface({ input: child.stdout })) {
      const match = /^LogService listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (match?.[1]) {
        url = match[1];
        break;
      }
    }
    assert.notEqual(url, "", `no startup line; stderr: ${stderr.join("")}`);

    // 32 connections, each posting single entries and batches of 10 until the crash.
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    t.after(() => agent.destroy());
    const acked: string[] = [];
    let sent = 0;
    let killed = false;
    const killAfter = 400;
    const worker = async (id: number) => {
      for (let n = 0; ; n++) {
        const batch = n % 3 === 2;
        const ids = batch
          ? Array.from({ length: 10 }, (_, k) => `w${id}-n${n}-k${k}`)
          : [`w${id}-n${n}`];
        // Message text long enough that a torn write would show.
        const messages = ids.map((entry) => `entry ${entry} ${"payload ".repeat(8)}end`);
        sent += ids.length;
        try {
          const response = await request(`${url}/log`, {
            method: "POST",
            headers: { "Content-Type": batch ? "application/json" : "text/plain" },
            body: batch ? JSON.stringify(messages) : (messages[0] ?? ""),
            agent,
            timeoutMs: 5_000,
          });
          if (response.status !== 200) throw new Error(`status ${response.status}`);
        } catch (error) {
          if (killed) return; // the crash cut this request off: not acknowledged
          throw error;
        }
        acked.push(...messages);
        if (!killed && acked.length >= killAfter) {
          killed = true;
          child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_, id) => worker(id)));
    const [, signal] = await exited;
    assert.equal(signal, "SIGKILL");
    assert.ok(sent > acked.length, "requests were in flight when the process died");

    const text = await readFile(file, "utf8");
    const lines = text.split("\n");
    // A crash may leave one torn line at the very end, never in the middle.
    const last = lines.pop();
    const whole = /^go \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d entry (\S+) (payload ){8}end$/;
    for (const line of lines) assert.match(line, whole);
    const stored = new Map<string, number>();
    for (const line of lines) {
      const message = line.slice("go 2026/11/25 14:40:27 ".length);
      stored.set(message, (stored.get(message) ?? 0) + 1);
    }
    const missing = acked.filter((message) => stored.get(message) !== 1);
    assert.deepEqual(missing, [], `acknowledged but not stored once (torn tail: ${last})`);
    assert.ok(acked.length >= killAfter);
  });
});
