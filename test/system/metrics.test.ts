// Every service's GET /metrics in a whole system of child processes: valid for Prometheus's own
// promtool, and counting what happens in the system.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { request } from "../../lib/std/request.ts";
import { serviceNames, startSystem, waitListed, type System } from "../faults/procs.ts";
import { metricValue, scrape } from "../support/metrics.ts";
import { promtool } from "../support/promtool.ts";
import { eventually } from "../support/wait.ts";

type Command = keyof typeof serviceNames;

// dist/test/system/metrics.test.js → the repository root.
const root = new URL("../../../", import.meta.url);

/** The text of `file`'s section under the heading `heading`, up to the next one of its level. */
async function section(file: string, heading: string): Promise<string> {
  const text = await readFile(new URL(file, root), "utf8");
  const start = text.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `${file} has no "${heading}"`);
  const end = text.indexOf("\n## ", start + heading.length);
  return text.slice(start, end < 0 ? undefined : end);
}

// Only replicas of a registry cluster have it; the etcd run of the registry's suites checks it.
const replicaOnly = new Set(["registry_leader"]);

describe("GET /metrics of every service in a running system", () => {
  let system: System;
  before(async () => {
    system = await startSystem();
  });
  after(() => system?.close());

  const urlOf = (command: Command | "registryservice") =>
    command === "registryservice" ? system.registryURL : system.get(command).url;
  const value = async (command: Command | "registryservice", series: string) =>
    metricValue(await scrape(urlOf(command)), series);
  /** Waits until `series` of `command` reaches `atLeast` (counts arrive after the answer). */
  const reaches = (command: Command | "registryservice", series: string, atLeast: number) =>
    eventually(async () => (await value(command, series)) >= atLeast, 10_000,
      `${command}: ${series} ≥ ${atLeast}`);

  it("answers the text format that promtool accepts, from every service", async (t) => {
    const commands = ["registryservice", ...Object.keys(serviceNames) as Command[]] as const;
    for (const command of commands) {
      const text = await scrape(urlOf(command));
      const verdict = await promtool(t, text);
      if (verdict !== undefined) assert.equal(verdict.trim(), "", `${command}: ${verdict}`);
      for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes",
        "http_open_connections"]) {
        assert.match(text, new RegExp(`^${name} `, "m"), `${command} has ${name}`);
      }
    }
  });

  it("counts a grade added through the portal in grading and in the portal", async () => {
    const grades = await value("gradingservice", "grades_added_total");
    const posted = 'http_requests_total{route="/students/:id/grades",method="POST",status="201"}';
    const created = await value("gradingservice", posted);
    const forms = await value("teacherportal", 'http_requests_total{method="POST"}');
    const answer = await request(`${urlOf("teacherportal")}/students/3/grades`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ Title: "Metrics quiz", Type: "Quiz", Score: "88" }).toString(),
    });
    assert.equal(answer.status, 303, answer.text());
    assert.equal(await value("gradingservice", "grades_added_total"), grades + 1);
    await reaches("gradingservice", posted, created + 1);
    await reaches("teacherportal", 'http_requests_total{method="POST"}', forms + 1);
  });

  it("counts requests to hello, and entries, bytes, rounds and fdatasyncs of the log service", async () => {
    const hello = 'http_requests_total{method="GET",status="200"}';
    const greeted = await value("helloservice", hello);
    assert.equal((await request(`${urlOf("helloservice")}/hello?name=Ada`)).status, 200);
    await reaches("helloservice", hello, greeted + 1);

    const logged = 'http_requests_total{method="POST",status="200"}';
    const file = ["log_entries_total", "log_bytes_total", "log_group_commits_total",
      "log_fdatasync_duration_seconds_count"] as const;
    const before = await value("logservice", logged);
    const counted = await Promise.all(file.map((name) => value("logservice", name)));
    const entry = "counted by the metrics test";
    const written = await request(`${urlOf("logservice")}/log`, { method: "POST",
      headers: { "Content-Type": "text/plain" }, body: entry });
    assert.equal(written.status, 200);
    await reaches("logservice", logged, before + 1);
    // A 200 means written and fdatasynced: the file's counters have moved by then. Other
    // services log remotely meanwhile, so "at least".
    const after = await Promise.all(file.map((name) => value("logservice", name)));
    assert.ok(after[0]! >= counted[0]! + 1, `log_entries_total ${counted[0]} → ${after[0]}`);
    assert.ok(after[1]! >= counted[1]! + entry.length, `log_bytes_total ${counted[1]} → ${after[1]}`);
    assert.ok(after[2]! >= counted[2]! + 1, `log_group_commits_total ${counted[2]} → ${after[2]}`);
    assert.ok(after[3]! >= counted[3]! + 1, `fdatasyncs ${counted[3]} → ${after[3]}`);
  });

  it("counts registrations, checks, patches and journal fsyncs in the registry", async () => {
    const text = await scrape(system.registryURL);
    for (const name of Object.values(serviceNames)) {
      assert.equal(metricValue(text, `registry_services{service="${name}",status="passing"}`), 1,
        `${name} is passing`);
      assert.ok(metricValue(text, `registry_registrations_total{service="${name}"}`) >= 1);
    }
    // Each dependent was told of its providers, and every change was journaled.
    assert.ok(metricValue(text, "registry_patches_sent_total") >= 3);
    assert.ok(metricValue(text, 'registry_health_checks_total{result="pass"}') >= 4);
    assert.ok(metricValue(text, "registry_journal_fsyncs_total") >= 1);

    const registered = 'registry_registrations_total{service="HelloService"}';
    const registrations = metricValue(text, registered);
    await system.get("helloservice").stop(3_000);
    await reaches("registryservice",
      'registry_deregistrations_total{service="HelloService",reason="deregistered"}', 1);
    const hello = await system.restart("helloservice");
    await waitListed(system.registryURL, hello.url);
    assert.equal(await value("registryservice", registered), registrations + 1);
  });

  it("has every metric the README and docs/protocol.md name", async () => {
    const exposed = new Set<string>();
    for (const command of ["registryservice", ...Object.keys(serviceNames) as Command[]]) {
      const text = await scrape(urlOf(command as Command | "registryservice"));
      for (const [, name] of text.matchAll(/^# TYPE (\S+) /gmu)) exposed.add(name ?? "");
    }
    const docs = (await section("README.md", "## Watching the system")) +
      (await section("docs/protocol.md", "## Metrics"));
    const named = new Set([...docs.matchAll(
      /\b((?:registry|http|process|nodejs|grades|log)_[a-z0-9_]*[a-z0-9])\b/gu)]
      .map(([, name]) => (name ?? "").replace(/_(bucket|count|sum)$/u, "")));
    assert.ok(named.size >= 25, `only ${named.size} names found: did the pattern break?`);
    const missing = [...named].filter((name) => !exposed.has(name) && !replicaOnly.has(name));
    assert.deepEqual(missing, [], "metrics the docs name that no service exposes");
  });
});
