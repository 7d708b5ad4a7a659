// logservice --workers N: connections spread over worker processes, one writer, nothing lost.
import assert from "node:assert/strict";
import { readdir, readFile, readlink } from "node:fs/promises";
import { Agent } from "node:http";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { request } from "../../lib/std/request.ts";
import { postEntries } from "../support/log.ts";
import { startCommand } from "../support/process.ts";
import type { Spawned } from "../support/spawn.ts";
import { deadURL, tempDir } from "../support/temp.ts";
import { eventually } from "../support/wait.ts";

interface Service extends Spawned {
  url: string;
  file: string;
}

async function start(t: TestContext, workers: number): Promise<Service> {
  const file = join(await tempDir(t, "logservice-workers"), "distributed.log");
  const spawned = startCommand(t, "logservice", ["--host", "127.0.0.1", "--port", "0",
    "--registry", await deadURL(), "--file", file, "--workers", String(workers)]);
  const [, url = ""] = await spawned.waitLine(/^LogService listening on (http:\/\/\S+)$/);
  return { ...spawned, url, file };
}

/** The worker processes of a service, once there are `count` of them. */
async function workersOf(pid: number, count: number): Promise<number[]> {
  return eventually(async () => {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, "utf8"))
      .trim().split(/\s+/).filter(Boolean).map(Number);
    return children.length === count ? children : undefined;
  }, 10_000, `${count} workers of ${pid}`);
}

/** TCP sockets a process has open. */
async function sockets(pid: number): Promise<number> {
  let count = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    if (target.startsWith("socket:")) count++;
  }
  return count;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("logservice --workers", () => {
  it("spreads connections over its workers and writes every entry once, in order", async (t) => {
    const service = await start(t, 3);
    const workers = await workersOf(service.pid, 2);
    const before = await Promise.all(workers.map(sockets));
    // 12 keep-alive connections, each posting numbered entries one request at a time.
    const agents = Array.from({ length: 12 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    t.after(() => agents.forEach((agent) => agent.destroy()));
    await Promise.all(agents.map(async (agent, c) => {
      for (let n = 0; n < 40; n++) {
        const messages = n % 4 === 3 ? [`c${c} n${n} a`, `c${c} n${n} b`] : [`c${c} n${n}`];
        await postEntries(service.url, messages, { agent });
      }
    }));
    const after = await Promise.all(workers.map(sockets));
    for (const [i, pid] of workers.entries()) {
      assert.ok((after[i] ?? 0) > (before[i] ?? 0), `worker ${pid} holds some of the connections`);
    }
    const lines = (await readFile(service.file, "utf8")).trimEnd().split("\n");
    assert.equal(lines.length, 12 * 50);
    const last = new Map<string, number>();
    for (const line of lines) {
      const [, c = "", n = "", part = ""] =
        /^go [\d/]+ [\d:]+ c(\d+) n(\d+)(?: ([ab]))?$/.exec(line) ?? [];
      assert.ok(c !== "", `a whole entry: ${line}`);
      const position = Number(n) * 2 + (part === "b" ? 1 : 0);
      assert.ok(position > (last.get(c) ?? -1), `connection ${c} in order at ${line}`);
      last.set(c, position);
    }
  });

  it("passes whatever else a worker's connection asks on to the service", async (t) => {
    const service = await start(t, 2);
    const [worker = 0] = await workersOf(service.pid, 1);
    const before = await sockets(worker);
    const agents = Array.from({ length: 4 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    t.after(() => agents.forEach((agent) => agent.destroy()));
    for (const [i, agent] of agents.entries()) {
      await postEntries(service.url, [`first on connection ${i}`], { agent });
      const tail = await request(`${service.url}/log?lines=1&contains=connection%20${i}`,
        { agent });
      assert.equal(tail.status, 200);
      assert.match(tail.text(), new RegExp(`first on connection ${i}\\n$`));
      assert.equal((await request(`${service.url}/heartbeat`, { agent })).status, 200);
      const metrics = await request(`${service.url}/metrics`, { agent });
      assert.match(metrics.text(), /^# HELP /m);
      const bad = await request(`${service.url}/nothing`, { agent });
      assert.equal(bad.status, 404);
    }
    assert.ok(await sockets(worker) > before, "some of these connections were the worker's");
  });

  it("loses no acknowledged entry to kill -9, and its workers end with it", async (t) => {
    const service = await start(t, 3);
    const workers = await workersOf(service.pid, 2);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    t.after(() => agent.destroy());
    const acked: string[] = [];
    let killed = false;
    await Promise.all(Array.from({ length: 16 }, async (_, id) => {
      for (let n = 0; !killed; n++) {
        const message = `w${id} n${n} end`;
        try {
          await postEntries(service.url, [message], { agent, timeoutMs: 5_000 });
        } catch (error) {
          if (killed) return;
          throw error;
        }
        acked.push(message);
        if (acked.length >= 400 && !killed) {
          killed = true;
          service.child.kill("SIGKILL");
        }
      }
    }));
    await service.exited;
    const stored = new Set((await readFile(service.file, "utf8")).split("\n")
      .map((line) => line.slice("go 2026/11/25 14:40:27 ".length)));
    assert.deepEqual(acked.filter((message) => !stored.has(message)), []);
    await eventually(() => (workers.some(alive) ? undefined : true), 10_000, "workers gone");
  });

  it("starts a new worker when one dies, and serves meanwhile", async (t) => {
    const service = await start(t, 2);
    const [worker = 0] = await workersOf(service.pid, 1);
    process.kill(worker, "SIGKILL");
    await service.waitOutput(/ingest worker \d+ exited \(SIGKILL\); starting another/);
    await postEntries(service.url, ["still here"]);
    const [next = 0] = await eventually(async () => {
      const now = await workersOf(service.pid, 1);
      return now[0] !== worker ? now : undefined;
    }, 10_000, "a new worker");
    assert.ok(alive(next));
  });

  it("stops on SIGTERM with its workers", async (t) => {
    const service = await start(t, 3);
    const workers = await workersOf(service.pid, 2);
    await postEntries(service.url, ["before the end"]);
    service.child.kill("SIGTERM");
    const { code } = await service.exited;
    assert.equal(code, 0);
    await eventually(() => (workers.some(alive) ? undefined : true), 10_000, "workers gone");
    assert.match(await readFile(service.file, "utf8"), /before the end\n$/);
  });
});
