// Durability under kill -9: every entry the log service acknowledged is in the file, whole, and
// each connection's entries are in the order it sent them.
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { postEntries } from "../support/log.ts";
import { startCommand } from "../support/process.ts";
import { deadURL, tempDir } from "../support/temp.ts";

describe("logservice under kill -9", () => {
  it("never loses or tears an acknowledged entry", async (t) => {
    const file = join(await tempDir(t, "logservice-crash"), "distributed.log");
    // Nothing listens at the registry: the service must serve while registration retries.
    const registry = await deadURL();
    const service = startCommand(t, "logservice",
      ["--host", "127.0.0.1", "--port", "0", "--registry", registry, "--file", file]);
    const [, url = ""] =
      await service.waitLine(/^LogService listening on (http:\/\/127\.0\.0\.1:\d+)$/);

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
          await postEntries(url, messages, { agent, timeoutMs: 5_000 });
        } catch (error) {
          if (killed) return; // the crash cut this request off: not acknowledged
          throw error;
        }
        acked.push(...messages);
        if (!killed && acked.length >= killAfter) {
          killed = true;
          service.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_, id) => worker(id)));
    const { signal } = await service.exited;
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
    // Overlapping write rounds must not reorder a connection's entries.
    const lastSeen = new Map<string, number>();
    for (const line of lines) {
      const [, worker = "", n = "0", k = "0"] = /entry (w\d+)-n(\d+)(?:-k(\d+))?/.exec(line) ?? [];
      const position = Number(n) * 100 + Number(k);
      assert.ok(position > (lastSeen.get(worker) ?? -1), `${worker} out of order at ${line}`);
      lastSeen.set(worker, position);
    }
    assert.ok(acked.length >= killAfter);
  });
});
