// No lost data: kill -9 of the log service under load loses no acknowledged
// entry, lines a service logged while it was down arrive after its restart, and a grade
// acknowledged with 201 survives kill -9 of the grading service.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { Agent } from "node:http";
import { after, before, describe, it } from "node:test";
import { parseStudent } from "../../lib/grades/grades.ts";
import { request } from "../../lib/std/request.ts";
import { postEntries } from "../support/log.ts";
import { counts, report, startSystem, type System } from "./procs.ts";
import { eventually } from "../support/wait.ts";

describe("no lost data under kill -9", () => {
  const count = counts();
  let system: System;
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  before(async () => {
    system = await startSystem({ services: ["logservice", "gradingservice", "helloservice"] });
  });
  after(async () => {
    agent.destroy();
    await system?.close();
    report("durability", count);
  });

  it("keeps every acknowledged entry, and delivers lines logged while it was down", async () => {
    const log = system.get("logservice");
    const acked: string[] = [];
    let killed = false;
    const worker = async (id: number) => {
      for (let n = 0; !killed; n++) {
        const batch = n % 4 === 3;
        const messages = batch
          ? Array.from({ length: 5 }, (_, k) => `load w${id} n${n} k${k} end`)
          : [`load w${id} n${n} end`];
        try {
          await postEntries(log.url, messages, { agent, timeoutMs: 3_000 });
        } catch (error) {
          if (killed) return;
          throw error;
        }
        acked.push(...messages);
        if (acked.length >= 300 && !killed) {
          killed = true;
          count.faultsInjected += 1;
          log.signal("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, id) => worker(id)));
    await log.exited;

    // While it is down, the hello service answers and buffers its log lines.
    const names = Array.from({ length: 50 }, (_, n) => `while-down-${n}`);
    for (const name of names) {
      const response = await request(`${system.get("helloservice").url}/hello?name=${name}`);
      assert.equal(response.status, 200);
    }
    // A new port: the hello service finds it through the registry's Added patch.
    await system.restart("logservice", { samePort: false });
    const text = await eventually(async () => {
      const file = await readFile(system.logFile, "utf8");
      return names.every((name) => file.includes(`said hello to "${name}"`)) && file;
    }, 5_000, "the lines logged while the log service was down");

    const stored = new Map<string, number>();
    for (const line of text.split("\n")) {
      const match = /^go \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (load .* end)$/.exec(line);
      if (match?.[1]) stored.set(match[1], (stored.get(match[1]) ?? 0) + 1);
    }
    const lost = acked.filter((message) => stored.get(message) !== 1);
    count.acknowledgedEntries += acked.length + names.length;
    count.entriesLost += lost.length;
    assert.deepEqual(lost, [], "every acknowledged entry exactly once");
    for (const name of names) {
      assert.equal(text.split(`said hello to "${name}"`).length - 1, 1, `${name} once`);
    }
  });

  it("keeps a grade acknowledged with 201 right before kill -9", async () => {
    const titles: Array<{ id: number; title: string }> = [];
    for (let round = 0; round < 3; round++) {
      const grading = system.get("gradingservice");
      for (let n = 0; n < 5; n++) {
        const id = n + 1;
        const title = `durable r${round} s${n}`;
        const response = await request(`${grading.url}/students/${id}/grades`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ Title: title, Type: "Homework", Score: 10 * n }),
        });
        assert.equal(response.status, 201);
        titles.push({ id, title });
      }
      // Several grades in flight; the kill follows the first 201 at once.
      let killed = false;
      await Promise.all(Array.from({ length: 8 }, async (_, k) => {
        const id = (k % 5) + 1;
        const title = `durable r${round} k${k}`;
        try {
          const response = await request(`${grading.url}/students/${id}/grades`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ Title: title, Type: "Quiz", Score: 50 + k }),
            timeoutMs: 3_000,
          });
          if (response.status !== 201) throw new Error(`status ${response.status}`);
          titles.push({ id, title });
          if (!killed) {
            killed = true;
            count.faultsInjected += 1;
            grading.signal("SIGKILL");
          }
        } catch (error) {
          if (!killed) throw error;
        }
      }));
      await grading.exited;
      await system.restart("gradingservice");
    }
    const grading = system.get("gradingservice");
    let lost = 0;
    for (const { id, title } of titles) {
      const student = parseStudent((await request(`${grading.url}/students/${id}`)).json());
      const found = student.Grades.filter((grade) => grade.Title === title).length;
      if (found !== 1) lost += 1;
    }
    count.gradesChecked += titles.length;
    count.gradesLost += lost;
    assert.ok(titles.length >= 3);
    assert.equal(lost, 0, `${lost} of ${titles.length} acknowledged grades lost`);
  });
});
