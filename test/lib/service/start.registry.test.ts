// startService against the real registry (lib/registry/server.ts), in one process: discovery
// through patches, graceful stop, a registry restarted without its state, and the token.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { listServices } from "../../../lib/registry/client.ts";
import { createRegistry, type RegistryOptions } from "../../../lib/registry/server.ts";
import { sendText } from "../../../lib/std/http.ts";
import { listen } from "../../../lib/std/listen.ts";
import {
  startService,
  type ServiceHandle,
  type ServiceOptions,
} from "../../../lib/service/start.ts";
import { eventually } from "../../support/wait.ts";
import { collectLines, type Lines } from "./fakes.ts";

const fast: RegistryOptions = {
  heartbeatIntervalMs: 50,
  heartbeatTimeoutMs: 500,
  retryDelayMs: 20,
  notifyTimeoutMs: 1_000,
};

/** A real registry on 127.0.0.1; `port` 0 picks one. */
async function runRegistry(t: TestContext, port = 0, options: RegistryOptions = {}) {
  const registry = await createRegistry({ log: () => {}, ...fast, ...options });
  const listening = await listen(registry.handler, { host: "127.0.0.1", port });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await registry.close();
      await listening.close(100);
    })());
  t.after(stop);
  return { url: listening.url, port: (listening.server.address() as AddressInfo).port, stop };
}

interface Running {
  handle: ServiceHandle;
  stop: () => Promise<void>;
  lines: Lines;
}

async function run(
  t: TestContext,
  registryURL: string,
  options: Partial<ServiceOptions> & { name: string },
): Promise<Running> {
  const controller = new AbortController();
  const lines = collectLines();
  const handle = await startService({
    host: "127.0.0.1",
    registryURL,
    handler: () => (_req, res) => sendText(res, 200, options.name),
    signal: controller.signal,
    log: lines.log,
    retryMinMs: 10,
    retryMaxMs: 50,
    antiEntropyMs: 400,
    graceMs: 500,
    ...options,
  });
  const stop = async () => {
    controller.abort();
    await handle.done;
  };
  t.after(stop);
  return { handle, stop, lines };
}

const has = (handle: ServiceHandle, name: string, url: string) => () =>
  handle.providers.list(name).includes(url) ? true : undefined;
const lacks = (handle: ServiceHandle, name: string, url: string) => () =>
  handle.providers.list(name).includes(url) ? undefined : true;

describe("startService with the real registry", () => {
  it("learns providers from the answer and from patches, and loses them on stop", async (t) => {
    const registry = await runRegistry(t);
    const first = await run(t, registry.url, { name: "Provider" });
    await first.handle.registered;
    const dependent = await run(t, registry.url, {
      name: "Dependent",
      requiredServices: ["Provider"],
    });
    await dependent.handle.registered;
    // From the registration answer (and the initial patch).
    assert.deepEqual(dependent.handle.providers.list("Provider"), [first.handle.url]);
    const second = await run(t, registry.url, { name: "Provider" });
    await eventually(has(dependent.handle, "Provider", second.handle.url), 5_000, "Added");
    await second.stop();
    await eventually(lacks(dependent.handle, "Provider", second.handle.url), 5_000, "Removed");
    assert.deepEqual(dependent.handle.providers.list("Provider"), [first.handle.url]);
    const rows = await listServices({ registryURL: registry.url });
    assert.deepEqual(rows.map((row) => row.ServiceName).sort(), ["Dependent", "Provider"]);
  });

  it("registers again after the registry restarts without its state", async (t) => {
    const before = await runRegistry(t);
    const provider = await run(t, before.url, { name: "Provider" });
    const dependent = await run(t, before.url, {
      name: "Dependent",
      requiredServices: ["Provider"],
    });
    await Promise.all([provider.handle.registered, dependent.handle.registered]);
    await eventually(has(dependent.handle, "Provider", provider.handle.url));
    await before.stop();
    const after = await runRegistry(t, before.port);
    // Polled with a catch: the first request may meet a pooled socket the old registry
    // closed a moment ago (ECONNRESET), as the services' own next attempt may.
    const rows = await eventually(
      async () => {
        const list = await listServices({ registryURL: after.url }).catch(() => []);
        return list.length === 2 ? list : undefined;
      },
      5_000,
      "both services registered again",
    );
    assert.deepEqual(rows.map((row) => row.ServiceURL).sort(), [
      ...[provider.handle.url, dependent.handle.url].sort(),
    ]);
    await provider.lines.waitFor(/no heartbeat from the registry for 400 ms: registering again/);
    await eventually(has(dependent.handle, "Provider", provider.handle.url));
  });

  it("works end to end with a token, and a service without it is refused", async (t) => {
    const registry = await runRegistry(t, 0, { token: "s3cret" });
    const provider = await run(t, registry.url, { name: "Provider", token: "s3cret" });
    await provider.handle.registered;
    const dependent = await run(t, registry.url, {
      name: "Dependent",
      requiredServices: ["Provider"],
      token: "s3cret",
    });
    await dependent.handle.registered;
    const other = await run(t, registry.url, { name: "Provider", token: "s3cret" });
    // The registry's patch carries the token, so the dependent accepts it.
    await eventually(has(dependent.handle, "Provider", other.handle.url), 5_000, "Added");
    const outsider = await run(t, registry.url, { name: "Outsider" });
    await outsider.lines.waitFor(/registration failed \(attempt 1, .*status 401/);
  });
});
