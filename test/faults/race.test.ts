// A patch that overtakes the registration answer must not be lost. The registry answers a
// registration only after its state is fsynced, but pushes patches at once; when a provider
// registers meanwhile, its `Added` reaches the dependent before the (older) answer, and the
// answer must not wipe it. Seen for real when services start or re-register together.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { request } from "../../lib/std/request.ts";
import { counts, report, spawnService } from "./procs.ts";

type Handle = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

async function serve(handle: Handle): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => void handle(req, res, body));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("a patch that arrives before the registration answer", () => {
  const count = counts();
  after(() => report("race", count));

  it("is kept: the answer does not replace it away", async (t) => {
    const grading = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" }).end("[]");
    });
    t.after(() => grading.close());
    const log = await serve((_req, res) => void res.writeHead(200).end());
    t.after(() => log.close());
    const registry = await serve(async (req, res, body) => {
      if (req.method !== "POST") return void res.writeHead(200).end();
      const reg = JSON.parse(body) as { ServiceUpdateURL: string };
      // GradingService registered after this registration's answer was computed: its Added is
      // pushed first, the answer (LogService only) follows.
      await request(reg.ServiceUpdateURL, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ Added: [{ Name: "GradingService", URL: grading.url }],
          Removed: [] }),
      });
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({
        Added: [{ Name: "LogService", URL: log.url }],
        Removed: [],
      }));
    });
    t.after(() => registry.close());

    const portal = await spawnService("teacherportal", { args: ["--registry", registry.url] });
    t.after(() => portal.stop());
    await portal.waitOutput(/registered with /);
    count.faultsInjected += 1;
    const page = await request(`${portal.url}/students`);
    assert.equal(page.status, 200,
      "the GradingService announced before the answer was lost: " +
        `${page.text().slice(0, 200)}\n${portal.stderr()}`);
  });
});
