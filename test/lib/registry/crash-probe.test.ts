import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Agent, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { createCrashProbe, endpointOf } from "../../../lib/registry/crash-probe.ts";
import { request } from "../../../lib/std/request.ts";
import { createWaiters } from "../../support/wait.ts";

/** A server on 127.0.0.1:0 that answers 200, or destroys the connection for /drop. */
async function startServer(t: TestContext): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.url === "/drop") return void req.socket.destroy();
    res.end("ok");
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A crash probe whose reports are recorded and can be awaited. */
function recordingProbe(t: TestContext, gapMs?: number) {
  const reports: string[] = [];
  const waiters = createWaiters();
  const probe = createCrashProbe({
    maxSockets: 4,
    onClose: (origin) => {
      reports.push(origin);
      waiters.wake();
    },
    ...(gapMs === undefined ? {} : { gapMs }),
  });
  t.after(() => probe.destroy());
  const reported = (count: number) => waiters.until(
    () => (reports.length >= count ? reports : undefined),
    5_000,
    () => new Error(`fewer than ${count} reports: ${JSON.stringify(reports)}`),
  );
  return { probe, reports, reported };
}

/** GETs `url` through `agent` and resolves with the pooled socket once it is idle. */
async function idleSocket(url: string, agent: Agent): Promise<Socket> {
  const free = once(agent, "free") as Promise<[Socket]>;
  const response = await request(url, { agent, timeoutMs: 5_000 });
  assert.equal(response.status, 200);
  return (await free)[0];
}

describe("crash probe", () => {
  it("reports the host:port when the far side closes an idle connection", async (t) => {
    const { server, url } = await startServer(t);
    const { probe, reported } = recordingProbe(t);
    await idleSocket(`${url}/heartbeat`, probe.agentFor(url));
    server.closeIdleConnections();
    assert.deepEqual(await reported(1), [endpointOf(url).key]);
  });

  it("does not report a connection that closed while a request used it", async (t) => {
    const { server, url } = await startServer(t);
    const { probe, reports, reported } = recordingProbe(t);
    const agent = probe.agentFor(url);
    await assert.rejects(request(`${url}/drop`, { agent, timeoutMs: 5_000 }),
      { code: "ECONNRESET" });
    // Only the later close of an idle connection is a report.
    await idleSocket(url, agent);
    server.closeIdleConnections();
    await reported(1);
    assert.equal(reports.length, 1);
  });

  it("reports one host:port at most once per gap", async (t) => {
    const { server, url } = await startServer(t);
    const { probe, reports, reported } = recordingProbe(t, 60_000);
    const agent = probe.agentFor(url);
    await idleSocket(url, agent);
    server.closeIdleConnections();
    await reported(1);
    const socket = await idleSocket(url, agent);
    server.closeIdleConnections();
    // The probe's listener was added first, so it has run when this one does.
    await once(socket, "close");
    assert.equal(reports.length, 1, "the second close waits for the gap");
  });

  it("names origins the same way whatever the URL's spelling", () => {
    const rows: [string, string][] = [
      ["http://LOCALHOST/heartbeat", "localhost:80"],
      ["https://example.com/x", "example.com:443"],
      ["http://127.0.0.1:5000/h?x=1", "127.0.0.1:5000"],
      ["http://[::1]:8080/", "::1:8080"],
    ];
    for (const [url, origin] of rows) assert.equal(endpointOf(url).key, origin, url);
  });
});
