import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { callProvider } from "../../../lib/registry/call.ts";
import { createProviders, NoProviderError } from "../../../lib/registry/providers.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request, RequestError } from "../../../lib/std/request.ts";
import { createRouter } from "../../../lib/std/router.ts";
import { deadURL } from "../../support/temp.ts";

async function startServer(t: TestContext, status = 200): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { "Content-Type": "text/plain" });
    res.end("hello from the live one");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const fetchText = async (url: string) => {
  const response = await request(`${url}/`, { timeoutMs: 2_000 });
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  return response.text();
};

describe("callProvider", () => {
  it("drops a provider whose connection is refused and uses another", async (t) => {
    const live = await startServer(t);
    const dead = await deadURL();
    // Random choice: try both orders until the dead one was chosen first at least once.
    for (let i = 0; i < 20; i++) {
      const providers = createProviders();
      providers.apply({
        Added: [{ Name: "S", URL: dead }, { Name: "S", URL: live }],
        Removed: [],
      });
      const tried: string[] = [];
      const text = await callProvider(providers, "S", (url) => {
        tried.push(url);
        return fetchText(url);
      });
      assert.equal(text, "hello from the live one");
      if (tried[0] === dead) {
        assert.deepEqual(tried, [dead, live]);
        assert.deepEqual(providers.list("S"), [live], "the dead provider is dropped locally");
        return;
      }
      assert.deepEqual(tried, [live]);
    }
    assert.fail("the dead provider was never tried first in 20 rounds");
  });

  it("throws NoProviderError with the connection error as cause when all are dead", async () => {
    const providers = createProviders();
    const dead = [await deadURL(), await deadURL()];
    providers.apply({ Added: dead.map((URL) => ({ Name: "S", URL })), Removed: [] });
    let calls = 0;
    await assert.rejects(
      callProvider(providers, "S", (url) => {
        calls++;
        return fetchText(url);
      }),
      (error: unknown) =>
        error instanceof NoProviderError &&
        error.serviceName === "S" &&
        error.cause instanceof RequestError &&
        error.cause.code === "ECONNREFUSED",
    );
    assert.equal(calls, 2);
    assert.deepEqual(providers.list("S"), []);
  });

  it("throws NoProviderError at once when there is no provider", async () => {
    await assert.rejects(
      callProvider(createProviders(), "S", () => Promise.resolve(1)),
      NoProviderError,
    );
  });

  it("propagates other errors without dropping the provider", async (t) => {
    const failing = await startServer(t, 500);
    const providers = createProviders();
    providers.apply({ Added: [{ Name: "S", URL: failing }], Removed: [] });
    await assert.rejects(callProvider(providers, "S", fetchText), /status 500/);
    assert.deepEqual(providers.list("S"), [failing]);
  });

  it("does not retry a URL a patch re-added during the call", async () => {
    const providers = createProviders();
    const dead = await deadURL();
    providers.apply({ Added: [{ Name: "S", URL: dead }], Removed: [] });
    // A patch that re-adds the URL lands the moment it is dropped.
    providers.onChange(() => {
      if (providers.list("S").length === 0) {
        providers.apply({ Added: [{ Name: "S", URL: dead }], Removed: [] });
      }
    });
    let calls = 0;
    await assert.rejects(
      callProvider(providers, "S", (url) => {
        calls++;
        return fetchText(url);
      }),
      NoProviderError,
    );
    assert.deepEqual(providers.list("S"), [dead]);
    assert.equal(calls, 1);
  });
});

describe("NoProviderError escaping a handler", () => {
  it("answers 503 saying which service is missing and why", async (t) => {
    const providers = createProviders();
    const router = createRouter([{
      path: "/report",
      methods: { GET: () => callProvider(providers, "GradingService", fetchText).then(() => {}) },
    }]);
    const server = await listen(router, { host: "127.0.0.1" });
    t.after(() => server.close(0));

    const none = await request(`${server.url}/report`);
    assert.equal(none.status, 503);
    const why = "no instance is registered and passing its health checks";
    assert.deepEqual(none.json(), { error: `GradingService is unavailable: ${why}` });

    providers.apply({ Added: [{ Name: "GradingService", URL: await deadURL() }], Removed: [] });
    const refused = await request(`${server.url}/report`);
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.json(), {
      error: "GradingService is unavailable: no registered instance accepted the connection",
    });
  });
});
