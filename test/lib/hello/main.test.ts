import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createLogServer } from "../../../lib/log/server.ts";
import { createRegistry } from "../../../lib/registry/server.ts";
import { listServices } from "../../../lib/registry/client.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request } from "../../../lib/std/request.ts";
import { startService } from "../../../lib/service/start.ts";
import { startCommand } from "../../support/process.ts";
import { eventually } from "../../support/wait.ts";

describe("helloservice command", () => {
  it("registers, greets, logs through the log service and deregisters on SIGHUP", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "hello-main-"));
    const quiet = () => undefined;
    const registry = await createRegistry({ log: quiet });
    const registryServer = await listen(registry.handler, { host: "127.0.0.1" });
    const logFile = join(dir, "distributed.log");
    const logServer = await createLogServer({ file: logFile, log: quiet });
    const stopLog = new AbortController();
    const log = await startService({
      name: "LogService",
      host: "127.0.0.1",
      registryURL: registryServer.url,
      handler: () => logServer.handler,
      signal: stopLog.signal,
      log: quiet,
    });
    await log.registered;
    t.after(async () => {
      stopLog.abort();
      await log.done;
      await logServer.close();
      await registryServer.close(0);
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    });

    const hello = startCommand(t, "helloservice",
      ["--host", "127.0.0.1", "--port", "0", "--registry", registryServer.url]);
    const [, url = ""] =
      await hello.waitLine(/^HelloService listening on (http:\/\/127\.0\.0\.1:\d+)$/);

    const response = await request(`${url}/hello?name=Grace`);
    assert.equal(response.text(), "Hello, Grace!\n");
    // It registers after printing its startup line: wait (bounded) until the registry lists it.
    const options = { registryURL: registryServer.url, name: "HelloService" };
    const listed = await eventually(async () => {
      const services = await listServices(options);
      return services.length > 0 ? services : undefined;
    }, 5_000, "HelloService in the registry");
    assert.deepEqual(listed.map((s) => s.ServiceURL), [url]);

    // SIGHUP (a closed terminal) stops it like SIGTERM and SIGINT.
    hello.child.kill("SIGHUP");
    const { code } = await hello.exited;
    assert.equal(code, 0, hello.stderr());
    const after = await listServices(options);
    assert.deepEqual(after, [], "deregistered");
    // The remote logger flushed at shutdown, before the process exited.
    assert.match(await readFile(logFile, "utf8"), /\[HelloService\] - said hello to "Grace"/);
  });
});
