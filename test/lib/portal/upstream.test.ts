import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { listServices } from "../../../lib/registry/client.ts";
import { createProviders, type Providers } from "../../../lib/registry/providers.ts";
import { request } from "../../../lib/std/request.ts";
import { serve } from "../../support/serve.ts";
import { deadURL } from "../../support/temp.ts";
import { deferred, eventually } from "../../support/wait.ts";
import { startFake, startRegistry } from "../registry/helpers.ts";
import { form, startPortal, startSystem, until } from "./system.ts";

function grading(url: string): Providers {
  const providers = createProviders();
  providers.apply({ Added: [{ Name: "GradingService", URL: url }], Removed: [] });
  return providers;
}

/** The text of the page's alert, decoded. */
function alert(page: string): string {
  const text = /<p class="error" role="alert">([^<]*)<\/p>/.exec(page)?.[1] ?? "";
  return text.replaceAll("&#39;", "'").replaceAll("&quot;", '"').replaceAll("&amp;", "&");
}

describe("portal 503 pages in plain language", () => {
  it("names a refusing grading instance and why, drops it, logs one line", async (t) => {
    const dead = await deadURL();
    const providers = grading(dead);
    const portal = await startPortal(t, providers, { registryURL: dead });
    const response = await request(`${portal.url}/students`);
    assert.equal(response.status, 503);
    const message =
      `GradingService at ${dead} is not reachable: nothing is listening there ` +
      "(connection refused).";
    assert.equal(alert(response.text()), message);
    assert.deepEqual(providers.list("GradingService"), []);
    assert.deepEqual(portal.lines, [`GET /students: 503 ${message}`]);
  });

  it("says a grading instance did not answer within the bound", async (t) => {
    const hung = await serve(t, () => undefined);
    const portal = await startPortal(t, grading(hung), { registryURL: hung, timeoutMs: 200 });
    const response = await request(`${portal.url}/students/1`);
    assert.equal(response.status, 503);
    assert.equal(alert(response.text()), `GradingService at ${hung} did not answer within 200 ms.`);
  });

  it("says a log service that does not finish its answer in time did not answer", async (t) => {
    const slow = await serve(t, (_req, res) => void res.writeHead(200).write("go 1 first\n"));
    const providers = createProviders();
    providers.apply({ Added: [{ Name: "LogService", URL: slow }], Removed: [] });
    const portal = await startPortal(t, providers, { registryURL: slow, timeoutMs: 200 });
    const logs = await request(`${portal.url}/logs`);
    assert.equal(logs.status, 503);
    assert.equal(alert(logs.text()), `LogService at ${slow} did not answer within 200 ms.`);
  });

  it("says the registry is not reachable, on its own page and when it is needed", async (t) => {
    const dead = await deadURL();
    const portal = await startPortal(t, createProviders(), { registryURL: dead });
    const refused = "is not reachable: nothing is listening there (connection refused).";
    const services = await request(`${portal.url}/services`);
    assert.equal(services.status, 503);
    assert.equal(alert(services.text()), `The registry at ${dead} ${refused}`);
    const logs = await request(`${portal.url}/logs`);
    assert.equal(logs.status, 503);
    assert.equal(
      alert(logs.text()),
      `No LogService is known to the portal, and the registry at ${dead} ${refused}`,
    );
    for (const line of portal.lines) assert.doesNotMatch(line, /\.: |\(ECONNREFUSED\): /, line);
  });

  it("names every replica of a registry cluster when none answers", async (t) => {
    const [a, b] = [await deadURL(), await deadURL()];
    const portal = await startPortal(t, createProviders(), { registryURL: `${a},${b}` });
    const services = await request(`${portal.url}/services`);
    assert.equal(
      alert(services.text()),
      `None of the registry's replicas (${a}, ${b}) answered; the last is not reachable: ` +
        "nothing is listening there (connection refused).",
    );
  });

  it("passes on what a registry that answers with an error says", async (t) => {
    const closing = await serve(t, (_req, res) => {
      res.writeHead(503, { "Content-Type": "application/json" }).end('{"error":"closing"}');
    });
    const portal = await startPortal(t, createProviders(), { registryURL: closing });
    const services = await request(`${portal.url}/services`);
    assert.equal(alert(services.text()), `The registry at ${closing} answered 503: closing.`);
  });

  it("asks the registry why it knows no grading: none, critical, not told yet", async (t) => {
    const registry = await startRegistry(t, {
      heartbeatIntervalMs: 50,
      retryDelayMs: 10,
      failures: 1,
    });
    const portal = await startPortal(t, createProviders(), { registryURL: registry.url });
    const students = async () => alert((await request(`${portal.url}/students`)).text());
    assert.equal(
      await students(),
      `No GradingService is registered with the registry at ${registry.url}.`,
    );

    const fake = await startFake(t);
    const posted = await request(`${registry.url}/services`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(fake.registration("GradingService")),
    });
    assert.equal(posted.status, 200, posted.text());
    assert.match(await students(), /^GradingService is registered and passed its last health/);

    fake.health = 500;
    await eventually(async () => {
      const [entry] = await listServices({ registryURL: registry.url, name: "GradingService" });
      return entry?.Status === "critical" ? true : undefined;
    }, 5_000, "GradingService critical");
    assert.equal(
      await students(),
      "GradingService is registered but failing its health checks. " +
        "The portal will use it again as soon as it passes.",
    );
  });

  it("logs a browser that leaves mid-request as such, not as an unavailable service", async (t) => {
    const forwarded = deferred();
    const hung = await serve(t, () => forwarded.resolve());
    const providers = grading(hung);
    const portal = await startPortal(t, providers, { registryURL: hung });
    const browser = new AbortController();
    const pending = request(`${portal.url}/students`, { signal: browser.signal });
    await forwarded.promise;
    browser.abort();
    await assert.rejects(pending, { code: "EABORTED" });
    await eventually(() => (portal.lines.length > 0 ? true : undefined), 5_000, "a log line");
    assert.deepEqual(portal.lines, ["GET /students: client went away before the answer"]);
    assert.deepEqual(providers.list("GradingService"), [hung], "the provider is not blamed");
  });
});

describe("portal within the system, when grading goes", () => {
  it("answers 503 pages once the grading service deregistered", async (t) => {
    const system = await startSystem(t);
    await system.grading.stop();
    await until(system.portal.handle.providers, (p) => p.list("GradingService").length === 0);
    const portal = system.portal.handle.url;
    for (const [path, options] of [
      ["/students", undefined],
      ["/students/1", undefined],
      ["/students/1/grades", form({ Title: "a", Type: "Quiz", Score: "1" })],
    ] as const) {
      const response = await request(`${portal}${path}`, options);
      assert.equal(response.status, 503, path);
      assert.equal(
        alert(response.text()),
        `No GradingService is registered with the registry at ${system.registryURL}.`,
      );
    }
    assert.equal((await request(`${portal}/services`)).status, 200, "other pages still work");
  });

  it("fails over from a dead grading provider to a live one", async (t) => {
    const system = await startSystem(t);
    const providers = system.portal.handle.providers;
    providers.apply({ Added: [{ Name: "GradingService", URL: await deadURL() }], Removed: [] });
    assert.equal(providers.list("GradingService").length, 2);
    const students = `${system.portal.handle.url}/students`;
    // Each request picks at random; within 50 the dead one is picked (p = 1 - 2^-50).
    for (let i = 0; i < 50 && providers.list("GradingService").length === 2; i++) {
      assert.equal((await request(students)).status, 200);
    }
    assert.equal(providers.list("GradingService").length, 1, "the dead one was dropped");
    assert.equal((await request(students)).status, 200);
  });
});
