import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { createMetrics } from "../../../lib/std/metrics.ts";
import type { RegistryOptions } from "../../../lib/registry/server.ts";
import { metricValue, scrape } from "../../support/metrics.ts";
import { promtool } from "../../support/promtool.ts";
import { deadURL, tempDir } from "../../support/temp.ts";
import { deferred, eventually } from "../../support/wait.ts";
import { onEtcd, post, remove, startFake, startRegistry } from "./helpers.ts";

/** A registry that serves `/metrics`, and a way to read one of them. */
async function startMeasured(t: TestContext, options: RegistryOptions = {}) {
  const registry = await startRegistry(t, { ...options, metrics: createMetrics() });
  const value = async (series: string) => metricValue(await scrape(registry.url), series);
  /** Waits until `series` reaches `atLeast`; returns its value then. */
  const reaches = (series: string, atLeast: number) =>
    eventually(async () => {
      const now = await value(series);
      return now >= atLeast ? now : undefined;
    }, 10_000, `${series} ≥ ${atLeast}`);
  if (onEtcd()) await reaches("registry_leader", 1);
  return { ...registry, value, reaches };
}

describe("registry GET /metrics", () => {
  it("counts registrations and deregistrations by ServiceName and passes promtool", async (t) => {
    const dir = await tempDir(t, "registry-metrics");
    const registry = await startMeasured(t, { statePath: join(dir, "registry.json") });
    const fake = await startFake(t);
    assert.equal((await post(registry.url, fake.registration("Counted"))).status, 200);
    assert.equal((await post(registry.url, fake.registration("Counted"))).status, 200);
    let text = await scrape(registry.url);
    assert.equal(metricValue(text, 'registry_registrations_total{service="Counted"}'), 2);
    assert.equal(metricValue(text, 'registry_services{service="Counted",status="passing"}'), 1);
    assert.equal(metricValue(text, 'registry_entries{status="passing"}'), 1);
    const verdict = await promtool(t, text);
    if (verdict !== undefined) assert.equal(verdict.trim(), "");

    assert.equal((await remove(registry.url, fake.url)).status, 200);
    text = await scrape(registry.url);
    assert.equal(metricValue(text,
      'registry_deregistrations_total{service="Counted",reason="deregistered"}'), 1);
    assert.equal(metricValue(text, 'registry_services{service="Counted"}'), 0);
    assert.equal(metricValue(text, "registry_entries"), 0);
  });

  it("counts the state journal's fdatasyncs and times them (a replica has no journal)",
    async (t) => {
      if (onEtcd()) {
        // The state is in etcd: no journal, so no journal figures that would read 0 forever.
        const replica = await startMeasured(t);
        const text = await scrape(replica.url);
        assert.doesNotMatch(text, /^# TYPE registry_journal_/mu);
        return;
      }
      const dir = await tempDir(t, "registry-metrics");
      const registry = await startMeasured(t, { statePath: join(dir, "registry.json") });
      assert.equal(await registry.value("registry_journal_fsyncs_total"), 0);
      const fake = await startFake(t);
      await post(registry.url, fake.registration("Journaled"));
      const text = await scrape(registry.url);
      const fsyncs = metricValue(text, "registry_journal_fsyncs_total");
      assert.ok(fsyncs >= 1, `${fsyncs} fsyncs after a registration`);
      assert.equal(metricValue(text, "registry_journal_fsync_duration_seconds_count"), fsyncs);
      await remove(registry.url, fake.url);
      assert.ok(await registry.value("registry_journal_fsyncs_total") > fsyncs);
    });

  it("counts failing checks, the turn to critical and the recovery", async (t) => {
    const registry = await startMeasured(t,
      { heartbeatIntervalMs: 50, retryDelayMs: 20, failures: 2 });
    const fake = await startFake(t);
    fake.health = 500;
    await post(registry.url, fake.registration("Sick"));
    await registry.reaches('registry_health_transitions_total{to="critical"}', 1);
    assert.ok(await registry.value('registry_health_checks_total{result="fail"}') >= 2);
    assert.equal(await registry.value('registry_services{service="Sick",status="critical"}'), 1);
    fake.health = 200;
    await registry.reaches('registry_health_transitions_total{to="passing"}', 1);
    assert.ok(await registry.value('registry_health_checks_total{result="pass"}') >= 1);
  });

  it("counts the crash probe's detection, the refused check and the expiry", async (t) => {
    // Checks far apart: only the closed connection can make the registry look again soon.
    const registry = await startMeasured(t,
      { heartbeatIntervalMs: 600_000, deregisterAfterMs: 100 });
    const fake = await startFake(t);
    await post(registry.url, fake.registration("Crashing"));
    await registry.reaches('registry_health_checks_total{result="pass"}', 1);
    assert.equal(await registry.value("registry_crash_detections_total"), 0);
    // The kernel closes a killed process's connections: close them the same way.
    fake.server.closeAllConnections();
    fake.server.close();
    await registry.reaches("registry_crash_detections_total", 1);
    await registry.reaches('registry_health_checks_total{result="refused"}', 1);
    await registry.reaches(
      'registry_deregistrations_total{service="Crashing",reason="expired"}', 1);
    assert.equal(await registry.value('registry_health_transitions_total{to="critical"}'), 1);
  });

  it("counts refused checks of a registration where nothing listens", async (t) => {
    const registry = await startMeasured(t);
    const dead = await deadURL();
    await post(registry.url,
      { ServiceName: "Nowhere", ServiceURL: `${dead}/s`, HeartbeatURL: `${dead}/heartbeat` });
    await registry.reaches('registry_health_checks_total{result="refused"}', 1);
    await registry.reaches('registry_services{service="Nowhere",status="critical"}', 1);
  });

  it("counts failed, retried, given-up and sent patches and the queue", async (t) => {
    const registry = await startMeasured(t, { notifyRetries: 1 });
    const dependent = await startFake(t);
    const provider = await startFake(t);
    dependent.updateStatus = 503;
    const release = deferred();
    dependent.hold = release.promise;
    await post(registry.url, dependent.registration("Dependent", ["Provider"]));
    await post(registry.url, provider.registration("Provider"));
    await dependent.waitPatch(() => true);
    let text = await scrape(registry.url);
    assert.equal(metricValue(text, "registry_patch_queue_dependents"), 1);
    assert.equal(metricValue(text, "registry_patch_queue_changes"), 1);
    assert.equal(metricValue(text, "registry_patch_failures_total"), 0);

    dependent.hold = undefined;
    release.resolve();
    await registry.reaches("registry_patches_given_up_total", 1);
    text = await scrape(registry.url);
    assert.equal(metricValue(text, "registry_patch_failures_total"), 2);
    assert.equal(metricValue(text, "registry_patch_retries_total"), 1);
    assert.equal(metricValue(text, "registry_patches_sent_total"), 0);
    assert.equal(metricValue(text, "registry_patch_queue_changes"), 0);

    // Registering again ends the dependent's rest: its initial patch goes out at once.
    dependent.updateStatus = 200;
    await post(registry.url, dependent.registration("Dependent", ["Provider"]));
    await registry.reaches("registry_patches_sent_total", 1);
  });
});
