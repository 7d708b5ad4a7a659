// The test to copy for a service of your own: a real registry and the service, in this
// process, on free ports of 127.0.0.1; nothing is mocked.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHelloHandler } from "../../../lib/hello/server.ts";
import { listServices } from "../../../lib/registry/client.ts";
import { createRegistry } from "../../../lib/registry/server.ts";
import { startService } from "../../../lib/service/start.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request } from "../../../lib/std/request.ts";

describe("HelloService with a registry", () => {
  it("registers, greets, logs, answers bad input 400 and deregisters when stopped", async (t) => {
    const registry = await createRegistry({ log: () => undefined });
    const registryServer = await listen(registry.handler, { host: "127.0.0.1" });
    t.after(async () => {
      await registryServer.close(0);
      await registry.close();
    });
    const registryURL = registryServer.url;

    const lines: string[] = [];
    const stop = new AbortController();
    const hello = await startService({
      name: "HelloService",
      host: "127.0.0.1",
      registryURL,
      handler: createHelloHandler,
      signal: stop.signal,
      // Without LogService among its requiredServices, context.log is this logger too.
      log: (line) => lines.push(line),
    });
    t.after(() => {
      stop.abort();
      return hello.done;
    });
    await hello.registered;
    const listed = await listServices({ registryURL, name: "HelloService" });
    assert.deepEqual(listed.map((entry) => entry.ServiceURL), [hello.url]);

    const greeting = await request(`${hello.url}/hello?name=Ada`);
    assert.equal(greeting.status, 200);
    assert.equal(greeting.text(), "Hello, Ada!\n");
    const bad = await request(`${hello.url}/hello?name=`);
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json(), { error: "name: must be 1 to 100 characters" });
    // The handler's own line, and the refused request, both in the service's log.
    assert.ok(lines.includes('said hello to "Ada"'), lines.join("\n"));
    assert.ok(lines.includes("GET /hello?name=: 400 name: must be 1 to 100 characters"));

    stop.abort();
    await hello.done;
    assert.deepEqual(await listServices({ registryURL, name: "HelloService" }), []);
  });
});
