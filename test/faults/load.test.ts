// Load: 200 concurrent keep-alive connections against each service for a
// couple of seconds: zero failed requests, and resident memory back near its start.
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { after, before, describe, it } from "node:test";
import { request } from "../../lib/std/request.ts";
import { counts, report, rss, startSystem, type Proc, type System } from "./procs.ts";
import { eventually } from "../support/wait.ts";

const connections = 200;
const durationMs = 1_500;
// RSS after the load may stay above the start (V8 keeps the heap it grew), but not by much.
const rssSlackBytes = 80 * 1_024 * 1_024;

interface Target {
  name: string;
  proc: () => Proc;
  path: string;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  status: number;
}

describe("200 concurrent keep-alive connections against each service", () => {
  const count = counts();
  let system: System;
  before(async () => {
    system = await startSystem();
  });
  after(async () => {
    await system?.close();
    report("load", count);
  });

  const targets: Target[] = [
    { name: "registry", proc: () => system.registry, path: "/services", status: 200 },
    {
      name: "logservice",
      proc: () => system.get("logservice"),
      path: "/log",
      method: "POST",
      body: "load entry",
      headers: { "Content-Type": "text/plain" },
      status: 200,
    },
    { name: "gradingservice", proc: () => system.get("gradingservice"), path: "/students/3",
      status: 200 },
    { name: "teacherportal", proc: () => system.get("teacherportal"), path: "/students",
      status: 200 },
    { name: "helloservice", proc: () => system.get("helloservice"), path: "/hello?name=load",
      status: 200 },
  ];

  for (const target of targets) {
    it(`${target.name}: zero failed requests, memory back near its start`, async () => {
      const proc = target.proc();
      const startRss = await rss(proc.pid);
      const agent = new Agent({ keepAlive: true, maxSockets: connections });
      const failures = new Map<string, number>();
      let done = 0;
      const sockets = new Set<unknown>();
      const end = performance.now() + durationMs;
      // Every worker sends at least once, so all the connections are opened even when a busy
      // machine takes most of the time to open them.
      const worker = async () => {
        do {
          count.requests += 1;
          try {
            const response = await request(`${proc.url}${target.path}`, {
              method: target.method ?? "GET",
              ...(target.body === undefined ? {} : { body: target.body }),
              ...(target.headers === undefined ? {} : { headers: target.headers }),
              agent,
              timeoutMs: 10_000,
            });
            if (response.status !== target.status) throw new Error(`status ${response.status}`);
            done += 1;
          } catch (error) {
            count.failedRequests += 1;
            const key = (error as Error).message.slice(0, 120);
            failures.set(key, (failures.get(key) ?? 0) + 1);
          }
        } while (performance.now() < end);
      };
      agent.on("free", (socket) => sockets.add(socket));
      await Promise.all(Array.from({ length: connections }, () => worker()));
      agent.destroy();
      assert.deepEqual([...failures], [], `${done} succeeded`);
      assert.ok(sockets.size >= connections / 2, `${sockets.size} connections were used`);
      const peak = await rss(proc.pid);
      // Memory settles once the connections are gone; give the GC a moment, with a deadline.
      const settled = await eventually(async () => {
        const now = await rss(proc.pid);
        return now <= startRss + rssSlackBytes && now;
      }, 5_000, `${target.name} RSS near its start`);
      console.log(`load ${target.name}: ${done} requests in ${durationMs} ms ` +
        `(${Math.round(done / (durationMs / 1_000))}/s), ` +
        `RSS ${mb(startRss)} → peak ${mb(peak)} ` +
        `→ ${mb(settled)} MB`);
      assert.ok(proc.alive());
      // Still answering normally afterwards.
      const after = await request(`${proc.url}${target.path}`, {
        method: target.method ?? "GET",
        ...(target.body === undefined ? {} : { body: target.body }),
        ...(target.headers === undefined ? {} : { headers: target.headers }),
      });
      assert.equal(after.status, target.status);
    });
  }
});

function mb(bytes: number): string {
  return (bytes / 1_048_576).toFixed(0);
}
