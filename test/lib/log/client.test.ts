import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { createRemoteLogger, type RemoteLoggerOptions } from "../../../lib/log/client.ts";
import { createLogServer } from "../../../lib/log/server.ts";
import { createProviders, type Providers } from "../../../lib/registry/providers.ts";
import type { Handler } from "../../../lib/std/http.ts";
import { listen } from "../../../lib/std/listen.ts";
import { createRouter } from "../../../lib/std/router.ts";
import { deadURL, tempDir } from "../../support/temp.ts";
import { eventually } from "../../support/wait.ts";
import { collectLines } from "../service/fakes.ts";

const when = new Date(2026, 10, 25, 14, 40, 27);
const stamp = "2026/11/25 14:40:27";

interface LogService {
  url: string;
  file: string;
  posts: number;
}

/** A real log service on a random port; `posts` counts the POSTs it received. */
async function startLogService(t: TestContext, file?: string): Promise<LogService> {
  const dir = await tempDir(t, "remote-log-test");
  const path = file ?? join(dir, "test.log");
  const server = await createLogServer({ file: path, now: () => when });
  const service: LogService = { url: "", file: path, posts: 0 };
  const listening = await listen(
    (req, res) => {
      if (req.method === "POST") service.posts++;
      return server.handler(req, res);
    },
    { host: "127.0.0.1", port: 0 },
  );
  service.url = listening.url;
  t.after(async () => {
    await listening.close(0);
    await server.close();
  });
  return service;
}

async function startHandler(t: TestContext, handler: Handler): Promise<string> {
  const listening = await listen(handler, { host: "127.0.0.1", port: 0 });
  t.after(() => listening.close(0));
  return listening.url;
}

const added = (...urls: string[]) => ({
  Added: urls.map((URL) => ({ Name: "LogService", URL })),
  Removed: [],
});
const removed = (...urls: string[]) => ({
  Added: [],
  Removed: urls.map((URL) => ({ Name: "LogService", URL })),
});

function logger(
  t: TestContext,
  providers: Providers,
  options: Partial<RemoteLoggerOptions> = {},
) {
  const echoed = collectLines();
  const remote = createRemoteLogger({
    serviceName: "TestService",
    providers,
    batchDelayMs: 1,
    retryDelayMs: 60_000, // only a provider change, a flush or a test retries sooner
    echo: echoed.log,
    ...options,
  });
  t.after(() => remote.close(AbortSignal.timeout(100)));
  return { remote, echoed };
}

const entries = async (file: string) => {
  const text = await readFile(file, "utf8");
  return text === "" ? [] : text.trimEnd().split("\n");
};

describe("remote logger", () => {
  it("delivers lines in batches as [ServiceName] - message", async (t) => {
    const service = await startLogService(t);
    const providers = createProviders();
    providers.apply(added(service.url));
    const { remote, echoed } = logger(t, providers);
    for (let i = 0; i < 300; i++) remote.log(`message ${i}`);
    assert.equal(remote.pending, 300);
    await remote.flush(AbortSignal.timeout(5_000));
    assert.equal(remote.pending, 0);
    assert.deepEqual(
      await entries(service.file),
      Array.from({ length: 300 }, (_, i) => `go ${stamp} [TestService] - message ${i}`),
    );
    assert.ok(service.posts <= 2, `300 lines took ${service.posts} POSTs`);
    assert.deepEqual(echoed.lines, [], "nothing echoed while delivering");
  });

  it("buffers and echoes while there is no log service, then delivers on its Added", async (t) => {
    const providers = createProviders();
    const { remote, echoed } = logger(t, providers);
    remote.log("first");
    remote.log("second");
    await echoed.waitFor(/second/);
    remote.log("third");
    await echoed.waitFor(/third/);
    assert.deepEqual(echoed.lines, [
      "[TestService] - first",
      "[TestService] - second",
      "[TestService] - third",
    ]);
    assert.equal(remote.pending, 3);

    const service = await startLogService(t);
    // retryDelayMs is a minute: only the provider change can make this prompt.
    providers.apply(added(service.url));
    await remote.flush(AbortSignal.timeout(5_000));
    assert.equal(remote.pending, 0);
    assert.deepEqual(await entries(service.file), [
      `go ${stamp} [TestService] - first`,
      `go ${stamp} [TestService] - second`,
      `go ${stamp} [TestService] - third`,
    ]);
    remote.log("fourth");
    await remote.flush(AbortSignal.timeout(5_000));
    assert.equal(echoed.lines.length, 3, "delivered lines are not echoed again");
    assert.equal(remote.dropped, 0);
  });

  it("drops the oldest lines beyond the buffer limit, counts them and says so", async (t) => {
    const providers = createProviders();
    const { remote } = logger(t, providers, { bufferLimit: 5 });
    for (let i = 0; i < 8; i++) remote.log(`m${i}`);
    assert.equal(remote.pending, 5);
    assert.equal(remote.dropped, 3);
    const service = await startLogService(t);
    providers.apply(added(service.url));
    await remote.flush(AbortSignal.timeout(5_000));
    assert.deepEqual(
      (await entries(service.file)).map((line) => line.slice(`go ${stamp} `.length)),
      [
        "remote log: 3 older lines dropped, the buffer of 5 was full while no log service " +
          "was reachable",
        ...["m3", "m4", "m5", "m6", "m7"],
      ].map((m) => `[TestService] - ${m}`),
    );
  });

  it("picks the provider at send time and follows discovery changes", async (t) => {
    const one = await startLogService(t);
    const two = await startLogService(t);
    const providers = createProviders();
    providers.apply(added(one.url));
    const { remote } = logger(t, providers);
    remote.log("to one");
    await remote.flush(AbortSignal.timeout(5_000));
    providers.apply({ ...added(two.url), Removed: removed(one.url).Removed });
    remote.log("to two");
    await remote.flush(AbortSignal.timeout(5_000));
    assert.deepEqual(await entries(one.file), [`go ${stamp} [TestService] - to one`]);
    assert.deepEqual(await entries(two.file), [`go ${stamp} [TestService] - to two`]);
  });

  it("skips a provider that refuses connections and forgets it", async (t) => {
    const dead = await deadURL();
    const live = await startLogService(t);
    const providers = createProviders();
    providers.apply(added(dead, live.url));
    const { remote, echoed } = logger(t, providers);
    // The pick is random: send until the dead one has been tried (1 in 2 per send).
    let sent = 0;
    while (providers.list("LogService").length > 1 && sent < 60) {
      remote.log(`line ${sent++}`);
      await remote.flush(AbortSignal.timeout(5_000));
    }
    assert.equal((await entries(live.file)).length, sent, "every line arrived");
    assert.deepEqual(providers.list("LogService"), [live.url]);
    assert.deepEqual(echoed.lines, []);
  });

  it("retries after a 500 and delivers once the log service can write again", async (t) => {
    const full = await startLogService(t, "/dev/full");
    const providers = createProviders();
    providers.apply(added(full.url));
    const { remote, echoed } = logger(t, providers, { retryDelayMs: 20 });
    remote.log("kept");
    await echoed.waitFor(/kept/);
    await eventually(() => (full.posts >= 3 ? true : undefined), 5_000, "retries");
    const good = await startLogService(t);
    providers.apply({ ...added(good.url), Removed: removed(full.url).Removed });
    await remote.flush(AbortSignal.timeout(5_000));
    assert.deepEqual(await entries(good.file), [`go ${stamp} [TestService] - kept`]);
    assert.equal(remote.dropped, 0);
  });

  it("gives up on (echoes and counts) a batch the server refuses with 4xx", async (t) => {
    const url = await startHandler(t, createRouter([]));
    const providers = createProviders();
    providers.apply(added(url));
    const { remote, echoed } = logger(t, providers);
    remote.log("refused");
    await remote.flush(AbortSignal.timeout(5_000));
    assert.equal(remote.dropped, 1);
    assert.equal(remote.pending, 0);
    assert.deepEqual(echoed.lines, ["[TestService] - refused"]);
  });

  it("splits a large backlog into batches under the body limit", async (t) => {
    const service = await startLogService(t);
    const providers = createProviders();
    const { remote } = logger(t, providers);
    const long = "y".repeat(1_000);
    for (let i = 0; i < 200; i++) remote.log(`${i} ${long}`);
    remote.log("z".repeat(100_000)); // truncated to fit one batch
    providers.apply(added(service.url));
    await remote.flush(AbortSignal.timeout(5_000));
    const lines = await entries(service.file);
    assert.equal(lines.length, 201);
    assert.ok(service.posts >= 4, `${service.posts} POSTs for ~300 KB of lines`);
    assert.match(lines[200] ?? "", /z{1000}… \(truncated\)$/);
    assert.equal(remote.dropped, 0);
  });

  it("never throws into the caller, even when its echo throws", async (t) => {
    const providers = createProviders();
    const { remote } = logger(t, providers, {
      echo: () => {
        throw new Error("echo broken");
      },
    });
    assert.doesNotThrow(() => {
      remote.log("a");
      remote.log(undefined as unknown as string);
      remote.log({ toString: () => "object" } as unknown as string);
    });
    await remote.flush(AbortSignal.timeout(20));
    assert.equal(remote.pending, 3);
  });

  it("delivers what is pending when closed, without waiting for the batch delay", async (t) => {
    const service = await startLogService(t);
    const providers = createProviders();
    providers.apply(added(service.url));
    const { remote, echoed } = logger(t, providers, { batchDelayMs: 60_000 });
    remote.log("last words");
    await remote.close(AbortSignal.timeout(5_000));
    assert.deepEqual(await entries(service.file), [`go ${stamp} [TestService] - last words`]);
    assert.deepEqual(echoed.lines, []);
    remote.log("after close");
    assert.deepEqual(echoed.lines, ["[TestService] - after close"]);
  });

  it("resolves flush when its signal aborts, and close echoes what is left", async () => {
    const providers = createProviders();
    const lines = collectLines();
    const closing = createRemoteLogger({
      serviceName: "Closing",
      providers,
      retryDelayMs: 60_000,
      batchDelayMs: 60_000, // not even tried before close
      echo: lines.log,
    });
    closing.log("unsent");
    await closing.flush(AbortSignal.timeout(20));
    assert.equal(closing.pending, 1);
    await closing.close(AbortSignal.timeout(50));
    assert.deepEqual(lines.lines, ["[Closing] - unsent"]);
    closing.log("after close");
    assert.deepEqual(lines.lines, ["[Closing] - unsent", "[Closing] - after close"]);
  });
});
