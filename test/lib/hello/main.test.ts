import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createLogServer } from "../../../lib/log/server.ts";
import { createRegistry } from "../../../lib/registry/server.ts";
import { listServices } from "../../../lib/registry/client.ts";
import { listen } from "../../../lib/service/listen.ts";
import { request } from "../../../lib/service/request.ts";
import { startService } from "../../../lib/service/start.ts";

const main = fileURLToPath(new URL("../../../cmd/helloservice/main.js", import.meta.url));

describe("helloservice command", () => {
  it("registers, greets, logs through the log service and deregisters on SIGTERM", async (t) => {
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

    const child = spawn(
      process.execPath,
      [main, "--host", "127.0.0.1", "--port", "0", "--registry", registryServer.url],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = once(child, "exit");
    t.after(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    const stderr: string[] = [];
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
    let url = "";
    for await (const line of createInterface({ input: child.stdout })) {
      const match = /^HelloService listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (match?.[1]) {
        url = match[1];
        break;
      }
    }
    assert.notEqual(url, "", `no startup line; stderr: ${stderr.join("")}`);

    const response = await request(`${url}/hello?name=Grace`);
    assert.equal(response.text(), "Hello, Grace!\n");
    // registered is awaited by the registry listing it; patches reach it afterwards.
    const listed = await listServices({ registryURL: registryServer.url, name: "HelloService" });
    assert.deepEqual(listed.map((s) => s.ServiceURL), [url]);

    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0, stderr.join(""));
    const after = await listServices({ registryURL: registryServer.url, name: "HelloService" });
    assert.deepEqual(after, [], "deregistered");
    // The remote logger flushed at shutdown, before the process exited.
    assert.match(await readFile(logFile, "utf8"), /\[HelloService\] - said hello to "Grace"/);
  });
});
