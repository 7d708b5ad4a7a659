// Many entries on one host:port, or on as many host:ports, that are or go dead: the registry
// must turn each critical, tell dependents, check or queue none of them more than once, and
// say it in a few log lines — the cost of a dead host:port is linear in the entries there,
// paid once.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { createMetrics, type Metrics } from "../../../lib/std/metrics.ts";
import { createLimiter } from "../../../lib/std/limiter.ts";
import { request } from "../../../lib/std/request.ts";
import { parseServiceList } from "../../../lib/registry/registration.ts";
import { metricValue } from "../../support/metrics.ts";
import { deadURL, freePort } from "../../support/temp.ts";
import { eventually } from "../../support/wait.ts";
import { startHeartbeats } from "./checker.ts";
import { post, startFake, startRegistry, type FakeService } from "./helpers.ts";

const total = 1_000;

/** The sum of every series of the metric `name` (`name{label="value"}`: those series). */
function metric(metrics: Metrics, name: string): number {
  return metricValue(metrics.render(), name);
}

/** Registers `count` instances of X, 16 at a time; `at(i)` gives ServiceURL and HeartbeatURL. */
async function registerMany(
  registry: string,
  count: number,
  at: (i: number) => { ServiceURL: string; HeartbeatURL: string },
): Promise<void> {
  const limiter = createLimiter(16);
  await Promise.all(Array.from({ length: count }, (_, i) => limiter.run(async () => {
    // A busy machine may take its time; that the answer comes is what counts here.
    const response = await request(`${registry}/services`, { method: "POST", timeoutMs: 60_000,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ServiceName: "X", ...at(i) }) });
    assert.equal(response.status, 200, response.text());
  })));
}

/** Resolves once `dependent` was told X at every one of `urls` was removed. */
async function removedAll(dependent: FakeService, urls: Set<string>): Promise<void> {
  const left = new Set(urls);
  await dependent.waitPatch((patch) => {
    for (const entry of patch.Removed) if (entry.Name === "X") left.delete(entry.URL);
    return left.size === 0;
  }, 60_000);
}

/**
 * Resolves once the registry counts `count` entries with `status`, then checks that
 * `GET /services?name=X` says the same of every one of them.
 */
async function allListed(
  registry: string,
  metrics: Metrics,
  count: number,
  status: string,
): Promise<void> {
  await eventually(() => (metric(metrics, `registry_entries{status="${status}"}`) >= count
    ? true : undefined), 60_000, `${count} entries ${status}`);
  const response = await request(`${registry}/services?name=X`,
    { timeoutMs: 60_000, maxResponseBytes: 64 * 1024 * 1024 });
  const rows = parseServiceList(response.json());
  assert.equal(rows.length, count);
  assert.ok(rows.every((row) => row.Status === status && row.LastCheck !== null));
}

/**
 * A registry (checks every 10 minutes: only first checks and their consequences happen) with a
 * watcher of X whose first check has ended, and the check counts then.
 */
async function startWatched(t: TestContext) {
  const metrics = createMetrics();
  const { url: registry, lines } = await startRegistry(t, { heartbeatIntervalMs: 600_000,
    metrics });
  const dependent = await startFake(t);
  await post(registry, dependent.registration("Watcher", ["X"]));
  // Checks count when they end: the watcher's first one is not the registrations'.
  await eventually(() => metric(metrics, "registry_health_checks_total") >= 1, 10_000,
    "the watcher's first check");
  const checks = metric(metrics, "registry_health_checks_total");
  const queued = metric(metrics, "registry_health_queued_total");
  return { registry, lines, metrics, dependent, checks, queued };
}

describe("registry health checks at one dead host:port", () => {
  it(`turns all ${total} entries critical when their host:port dies, each checked and queued ` +
    "at most once", async (t) => {
    const metrics = createMetrics();
    // An interval far beyond the test: only the crash probe and its consequences check. The
    // heartbeats share this process with everything else: give a busy machine time to answer.
    const { url: registry } = await startRegistry(t, { heartbeatIntervalMs: 600_000,
      heartbeatTimeoutMs: 60_000, metrics });
    const heartbeats = await startHeartbeats(t);
    const dependent = await startFake(t);
    await post(registry, dependent.registration("Watcher", ["X"]));
    const urls = new Set<string>();
    await registerMany(registry, total, (i) => {
      urls.add(`${heartbeats.url}/s/${i}`);
      return { ServiceURL: `${heartbeats.url}/s/${i}`, HeartbeatURL: `${heartbeats.url}/ok/${i}` };
    });
    // Every entry's first check has started (the watcher's too), and its connection is pooled.
    await eventually(() => (metric(metrics, "registry_health_checks_total") > total &&
      heartbeats.hits.size === total ? true : undefined), 60_000, "every first check")
      .catch((error: unknown) => {
        const checks = metric(metrics, "registry_health_checks_total");
        throw new Error(`${String(error)}: ${checks} checks, ${heartbeats.hits.size} seen`);
      });
    const checks = metric(metrics, "registry_health_checks_total");
    const queued = metric(metrics, "registry_health_queued_total");

    await heartbeats.kill();
    await allListed(registry, metrics, total, "critical");
    await removedAll(dependent, urls);
    const checkedAgain = metric(metrics, "registry_health_checks_total") - checks;
    const queuedAgain = metric(metrics, "registry_health_queued_total") - queued;
    t.diagnostic(`after the kill: ${checkedAgain} checks, ${queuedAgain} queued`);
    assert.ok(checkedAgain <= total, `${checkedAgain} checks for ${total} entries`);
    assert.ok(queuedAgain <= total, `${queuedAgain} queued for ${total} entries`);
    assert.equal(metric(metrics, "registry_entries"), total + 1);
  });

  it(`turns all of ${total} registrations onto a dead host:port critical, each checked and ` +
    "queued at most once", async (t) => {
    const { registry, metrics, dependent, checks, queued } = await startWatched(t);
    const dead = await deadURL();
    const urls = new Set<string>();
    await registerMany(registry, total, (i) => {
      urls.add(`${dead}/s/${i}`);
      return { ServiceURL: `${dead}/s/${i}`, HeartbeatURL: `${dead}/h/${i}` };
    });
    await allListed(registry, metrics, total, "critical");
    await removedAll(dependent, urls);
    const checked = metric(metrics, "registry_health_checks_total") - checks;
    const queuedNow = metric(metrics, "registry_health_queued_total") - queued;
    t.diagnostic(`${checked} checks, ${queuedNow} queued for ${total} registrations`);
    assert.ok(checked <= total, `${checked} checks for ${total} entries`);
    assert.ok(queuedNow <= total, `${queuedNow} queued for ${total} entries`);
  });
});

/** `count` heartbeat servers on 127.0.0.1, one host:port each, answering 200; and a kill. */
async function startServers(t: TestContext, count: number):
  Promise<{ urls: string[]; kill(): Promise<void> }> {
  const servers: Server[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer((_req, res) => void res.writeHead(200).end());
    server.keepAliveTimeout = 600_000;
    server.listen(0, "127.0.0.1");
    servers.push(server);
  }
  await Promise.all(servers.map((server) => once(server, "listening")));
  const kill = async () => {
    await Promise.all(servers.filter((server) => server.listening).map(async (server) => {
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    }));
  };
  t.after(kill);
  const urls = servers.map((server) =>
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return { urls, kill };
}

/**
 * Resolves once the registry's log (`lines` from index `from` on, as they come) has said that
 * `count` entries turned critical, one line each or counted in a summary; the lines it took.
 */
async function criticalLines(lines: string[], count: number, from = 0): Promise<number> {
  const said = () => {
    let entries = 0;
    let used = 0;
    for (const line of lines.slice(from)) {
      const summary = /(\d+) more entr(?:y|ies) at \d+ host:ports? turned critical/.exec(line);
      if (summary) entries += Number(summary[1]);
      else if (!/ is critical: /.test(line)) continue;
      else entries += 1;
      used += 1;
    }
    return entries >= count ? used : undefined;
  };
  return eventually(said, 60_000, `the log to say ${count} entries turned critical`);
}

describe("registry health checks at many dead host:ports", () => {
  it(`turns ${total} entries critical when their ${total} host:ports die at once, each ` +
    "checked and queued at most once, in a few log lines", async (t) => {
    const metrics = createMetrics();
    const { url: registry, lines } = await startRegistry(t, { heartbeatIntervalMs: 600_000,
      heartbeatTimeoutMs: 60_000, metrics });
    const { urls: origins, kill } = await startServers(t, total);
    const dependent = await startFake(t);
    await post(registry, dependent.registration("Watcher", ["X"]));
    const urls = new Set(origins.map((origin) => `${origin}/s`));
    await registerMany(registry, total, (i) => ({ ServiceURL: `${origins[i]}/s`,
      HeartbeatURL: `${origins[i]}/ok` }));
    // Every first check has ended: each host:port has a pooled connection.
    await eventually(async () => {
      const response = await request(`${registry}/services?name=X`,
        { timeoutMs: 60_000, maxResponseBytes: 64 * 1024 * 1024 });
      const rows = parseServiceList(response.json());
      return rows.length === total && rows.every((row) => row.LastCheck !== null);
    }, 60_000, "every first check");
    const checks = metric(metrics, "registry_health_checks_total");
    const queued = metric(metrics, "registry_health_queued_total");
    const before = lines.length;

    await kill();
    await allListed(registry, metrics, total, "critical");
    await removedAll(dependent, urls);
    const used = await criticalLines(lines, total, before);
    const checkedAgain = metric(metrics, "registry_health_checks_total") - checks;
    const queuedAgain = metric(metrics, "registry_health_queued_total") - queued;
    t.diagnostic(`after the kill: ${checkedAgain} checks, ${queuedAgain} queued, ${used} lines`);
    assert.ok(checkedAgain <= total, `${checkedAgain} checks for ${total} entries`);
    assert.ok(queuedAgain <= total, `${queuedAgain} queued for ${total} entries`);
    assert.ok(used <= total / 10, `${used} log lines to say ${total} entries turned critical`);
  });

  it(`turns ${total} registrations onto ${total} refusing host:ports critical, each checked ` +
    "and queued at most once, in a few log lines", async (t) => {
    const { registry, lines, metrics, dependent, checks, queued } = await startWatched(t);
    // A port free on 127.0.0.1 is free on the rest of the loopback network too (nobody here
    // listens on a wildcard address): a different host:port for each entry, all refusing.
    const port = await freePort();
    const at = (i: number) => `http://127.1.${i >> 8}.${i & 255}:${port}`;
    const urls = new Set<string>();
    await registerMany(registry, total, (i) => {
      urls.add(`${at(i)}/s`);
      return { ServiceURL: `${at(i)}/s`, HeartbeatURL: `${at(i)}/h` };
    });
    await allListed(registry, metrics, total, "critical");
    await removedAll(dependent, urls);
    const used = await criticalLines(lines, total);
    const checked = metric(metrics, "registry_health_checks_total") - checks;
    const queuedNow = metric(metrics, "registry_health_queued_total") - queued;
    t.diagnostic(`${checked} checks, ${queuedNow} queued, ${used} lines for ${total}`);
    assert.ok(checked <= total, `${checked} checks for ${total} entries`);
    assert.ok(queuedNow <= total, `${queuedNow} queued for ${total} entries`);
    assert.ok(used <= total / 10, `${used} log lines to say ${total} entries turned critical`);
  });
});
