import assert from "node:assert/strict";
import { Agent, createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { callProvider } from "../../../lib/registry/call.ts";
import { sendText, type Handler } from "../../../lib/std/http.ts";
import { request, RequestError, type RequestOptions } from "../../../lib/std/request.ts";
import {
  startService,
  type ServiceHandle,
  type ServiceOptions,
} from "../../../lib/service/start.ts";
import { deadURL, freePort } from "../../support/temp.ts";
import { deferred, eventually } from "../../support/wait.ts";
import {
  collectLines,
  defaultAnswer,
  startFakeRegistry,
  type FakeRegistry,
  type Lines,
} from "./fakes.ts";

interface Started {
  handle: ServiceHandle;
  controller: AbortController;
  lines: Lines;
}

const appHandler: Handler = (_req, res) => sendText(res, 200, "app");

async function start(
  t: TestContext,
  registryURL: string,
  overrides: Partial<ServiceOptions> = {},
): Promise<Started> {
  const controller = new AbortController();
  const lines = collectLines();
  const handle = await startService({
    name: "TestService",
    host: "127.0.0.1",
    registryURL,
    handler: () => appHandler,
    signal: controller.signal,
    log: lines.log,
    retryMinMs: 10,
    retryMaxMs: 40,
    graceMs: 2_000,
    deregisterTimeoutMs: 1_000,
    ...overrides,
  });
  t.after(async () => {
    controller.abort();
    await handle.done;
  });
  return { handle, controller, lines };
}

async function registry(t: TestContext): Promise<FakeRegistry> {
  const fake = await startFakeRegistry();
  t.after(() => fake.close());
  return fake;
}

/** A request on a fresh connection, so a stopped server shows as refused. */
function fresh(url: string, options: RequestOptions = {}) {
  return request(url, { agent: new Agent({ keepAlive: false }), timeoutMs: 2_000, ...options });
}

const postPatch = (url: string, body: string, headers: Record<string, string> = {}) =>
  fresh(`${url}/services`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body,
  });

const posts = (fake: FakeRegistry) => fake.requests.filter((r) => r.method === "POST");

describe("startService", () => {
  it("registers in the exact Go wire shape and takes the answer as its providers", async (t) => {
    const fake = await registry(t);
    fake.respond = () => ({
      status: 200,
      body: '{"Added":[{"Name":"GradingService","URL":"http://localhost:6000"}],"Removed":null}',
    });
    const { handle, lines } = await start(t, fake.url, {
      requiredServices: ["GradingService", "GradingService"],
    });
    assert.match(handle.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await handle.registered;
    const [sent] = fake.requests;
    assert.equal(sent?.path, "/services");
    assert.equal(
      sent?.body,
      JSON.stringify({
        ServiceName: "TestService",
        ServiceURL: handle.url,
        RequiredServices: ["GradingService"],
        ServiceUpdateURL: `${handle.url}/services`,
        HeartbeatURL: `${handle.url}/heartbeat`,
      }),
    );
    assert.deepEqual(handle.providers.list("GradingService"), ["http://localhost:6000"]);
    assert.match(lines.lines.join("\n"), /registered with http:\/\/127\.0\.0\.1:\d+ as /);
  });

  it("answers GET/HEAD /heartbeat and passes everything else to the app", async (t) => {
    const fake = await registry(t);
    const { handle } = await start(t, fake.url);
    assert.equal((await fresh(`${handle.url}/heartbeat`)).status, 200);
    assert.equal((await fresh(`${handle.url}/heartbeat?x=1`, { method: "HEAD" })).status, 200);
    const wrong = await fresh(`${handle.url}/heartbeat`, { method: "POST", body: "" });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, "GET, HEAD");
    assert.equal((await fresh(`${handle.url}/anything`)).text(), "app");
    // The portal serves GET /services itself; only POST is the update handler.
    assert.equal((await fresh(`${handle.url}/services`)).text(), "app");
  });

  it("applies patches with set semantics, Go's null lists included", async (t) => {
    const fake = await registry(t);
    const { handle, lines } = await start(t, fake.url);
    await handle.registered;
    const entry = '{"Name":"LogService","URL":"http://localhost:4000"}';
    const added = `{"Added":[${entry}],"Removed":null}\n`;
    for (let i = 0; i < 2; i++) {
      const response = await postPatch(handle.url, added);
      assert.equal(response.status, 200);
    }
    assert.deepEqual(handle.providers.list("LogService"), ["http://localhost:4000"]);
    const removed = `{"Added":null,"Removed":[${entry}]}`;
    assert.equal((await postPatch(handle.url, removed)).status, 200);
    assert.deepEqual(handle.providers.list("LogService"), []);
    await lines.waitFor(/^update: \+LogService http:\/\/localhost:4000$/);
    await lines.waitFor(/^update: -LogService http:\/\/localhost:4000$/);
  });

  it("logs a patch's names escaped: a bidi override cannot reorder the line", async (t) => {
    const fake = await registry(t);
    const { handle, lines } = await start(t, fake.url);
    await handle.registered;
    const patch = '{"Added":[{"Name":"Log\\u202eecivreS","URL":"http://localhost:4000"}]}';
    assert.equal((await postPatch(handle.url, patch)).status, 200);
    assert.deepEqual(handle.providers.list("Log\u202eecivreS"), ["http://localhost:4000"]);
    await lines.waitFor(/^update: \+Log\\u202eecivreS http:\/\/localhost:4000$/);
  });

  const badPatches: Array<[string, string, RegExp]> = [
    ["malformed JSON", "{not json", /malformed JSON/],
    ["an empty body", "", /empty/],
    ["an array", "[]", /patch: must be a JSON object/],
    ["Added not a list", '{"Added":"x"}', /Added must be an array/],
    ["a bad URL", '{"Added":[{"Name":"A","URL":"nope"}]}', /URL/],
    ["a missing Name", '{"Removed":[{"URL":"http://h:1"}]}', /Name/],
  ];
  it("answers 400 to bad patches, logs them and changes nothing", async (t) => {
    const fake = await registry(t);
    const { handle, lines } = await start(t, fake.url);
    await handle.registered;
    await postPatch(handle.url, '{"Added":[{"Name":"A","URL":"http://h:1"}]}');
    for (const [what, body, message] of badPatches) {
      const response = await postPatch(handle.url, body);
      assert.equal(response.status, 400, what);
      const error = (response.json() as { error: string }).error;
      assert.match(error, message, what);
    }
    assert.deepEqual(handle.providers.list("A"), ["http://h:1"]);
    const rejected = lines.lines.filter((line) => line.startsWith("POST /services: 400 "));
    assert.equal(rejected.length, badPatches.length);
  });

  it("with a token: sends it, and answers 401 to patches without it", async (t) => {
    const fake = await registry(t);
    const { handle, controller, lines } = await start(t, fake.url, { token: "s3cret" });
    await handle.registered;
    const patch = '{"Added":[{"Name":"A","URL":"http://h:1"}]}';
    const missing = await postPatch(handle.url, patch);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers["www-authenticate"], 'Bearer realm="update"');
    const wrong = await postPatch(handle.url, patch, { Authorization: "Bearer s3cre" });
    assert.equal(wrong.status, 401);
    assert.deepEqual(handle.providers.list("A"), []);
    const right = await postPatch(handle.url, patch, { Authorization: "Bearer s3cret" });
    assert.equal(right.status, 200);
    assert.deepEqual(handle.providers.list("A"), ["http://h:1"]);
    // Heartbeats stay open (the Go registry sends no token with them).
    assert.equal((await fresh(`${handle.url}/heartbeat`)).status, 200);
    await lines.waitFor(/^POST \/services: 401 update: missing or wrong bearer token$/);
    controller.abort();
    await handle.done;
    assert.deepEqual(
      fake.requests.map((r) => [r.method, r.headers.authorization]),
      [
        ["POST", "Bearer s3cret"],
        ["DELETE", "Bearer s3cret"],
      ],
    );
  });

  it("keeps serving and retrying while the registry is down, then registers", async (t) => {
    const port = await freePort();
    const registryURL = `http://127.0.0.1:${port}`;
    const { handle, lines } = await start(t, registryURL);
    await lines.waitFor(/attempt 3/);
    assert.equal((await fresh(`${handle.url}/heartbeat`)).status, 200);
    assert.equal((await fresh(`${handle.url}/x`)).text(), "app");
    const fake = await startFakeRegistry(port);
    t.after(() => fake.close());
    await handle.registered;
    const failures = lines.lines.filter((line) => line.startsWith("registration failed"));
    assert.ok(failures.length >= 3);
    assert.match(
      failures[0] ?? "",
      new RegExp(
        `^registration failed \\(attempt 1, retrying in \\d+ ms\\): ` +
          `registry: register "TestService" at ${registryURL}: .*ECONNREFUSED`,
      ),
    );
    // Exactly one line per attempt, numbered in order.
    failures.forEach((line, index) => assert.match(line, new RegExp(`attempt ${index + 1},`)));
    assert.equal(posts(fake).length, 1);
  });

  it("registers at the first registry replica that answers, and keeps to it", async (t) => {
    const down = await registry(t);
    const up = await registry(t);
    down.respond = () => ({ status: 503, body: '{"error":"registry: etcd is unavailable"}' });
    const { handle, lines } = await start(t, `${await deadURL()},${down.url},${up.url}`, {
      antiEntropyMs: 100,
    });
    await handle.registered;
    const registered = `registered with ${up.url} as ${handle.url}`;
    assert.ok(lines.lines.includes(registered), lines.lines.join("\n"));
    // No heartbeats come, so it registers again: at the replica that answered, first.
    await up.waitFor((request) => request.method === "POST", 1);
    assert.equal(posts(down).length, 1);
  });

  it("registers again when heartbeats stop (anti-entropy), replacing its providers", async (t) => {
    const fake = await registry(t);
    const answers = [
      '{"Added":[{"Name":"A","URL":"http://old:1"}],"Removed":[]}',
      '{"Added":[{"Name":"A","URL":"http://new:1"}],"Removed":[]}',
    ];
    fake.respond = (r) =>
      r.method === "POST"
        ? { status: 200, body: answers[posts(fake).length - 1] ?? "" }
        : { status: 200 };
    const { handle, lines } = await start(t, fake.url, { antiEntropyMs: 500 });
    await handle.registered;
    assert.deepEqual(handle.providers.list("A"), ["http://old:1"]);
    await postPatch(handle.url, '{"Added":[{"Name":"B","URL":"http://b:1"}]}');
    // Heartbeats keep it quiet for well over the anti-entropy time.
    const until = Date.now() + 1_200;
    while (Date.now() < until) {
      assert.equal((await fresh(`${handle.url}/heartbeat`)).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    assert.equal(posts(fake).length, 1, "no re-registration while heartbeats arrive");
    // Then silence: it registers again and the answer replaces every set.
    await fake.waitFor((r) => r.method === "POST", 1);
    await lines.waitFor(/no heartbeat from the registry for 500 ms: registering again/);
    await eventually(() => (handle.providers.list("A")[0] === "http://new:1" ? true : undefined));
    assert.deepEqual(handle.providers.list("B"), []);
  });

  it("counts a heartbeat that waited out a stall of the process before registering again",
    async (t) => {
      const fake = await registry(t);
      const { handle, lines } = await start(t, fake.url, { antiEntropyMs: 300 });
      await handle.registered;
      const socket = connect(Number(new URL(handle.url).port), "127.0.0.1").setEncoding("utf8");
      t.after(() => socket.destroy());
      const answered = () => new Promise<void>((resolve) => {
        const onData = (chunk: string) => {
          if (!chunk.includes("HTTP/1.1 200")) return;
          socket.off("data", onData);
          resolve();
        };
        socket.on("data", onData);
      });
      const heartbeat = "GET /heartbeat HTTP/1.1\r\nHost: test\r\n\r\n";
      // One heartbeat first, so the connection is open and idle on both sides.
      const first = answered();
      socket.write(heartbeat);
      await first;
      const second = answered();
      socket.write(heartbeat);
      // The process stands still for twice the anti-entropy time (as on a machine busy with
      // other work) while the second heartbeat waits in the socket: when it runs again, the
      // overdue timer comes first.
      const stallUntil = performance.now() + 600;
      while (performance.now() < stallUntil) {
        // Busy: no event loop turn.
      }
      await second;
      assert.deepEqual(lines.lines.filter((line) => /registering again/.test(line)), []);
      assert.equal(posts(fake).length, 1, "registered once");
    });

  it("does not take the first gap between heartbeats for the registry's interval", async (t) => {
    // A registry checks a new service at once, then on its own beat: the first gap can be
    // any fraction of its interval.
    const fake = await registry(t);
    const { handle, lines } = await start(t, fake.url);
    await handle.registered;
    assert.equal((await fresh(`${handle.url}/heartbeat`)).status, 200);
    assert.equal((await fresh(`${handle.url}/heartbeat`)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(lines.lines.filter((line) => /registering again/.test(line)), [],
      "the short first gap alone set no silence");
    assert.equal((await fresh(`${handle.url}/heartbeat`)).status, 200);
    const line = await lines.waitFor(/no heartbeat from the registry for (\d+) ms/, 10_000);
    assert.ok(Number(/for (\d+) ms/.exec(line)?.[1]) >= 900, `${line}: 3 × the 300 ms gap`);
  });

  it("learns the registry's interval and re-registers after 3 silent intervals", async (t) => {
    const fake = await registry(t);
    const { handle, lines } = await start(t, fake.url);
    await handle.registered;
    // The registry beats every ~40 ms; the typical gap sets the allowed silence.
    const sent: number[] = [];
    const answered: number[] = [];
    for (let beat = 0; beat < 5; beat++) {
      sent.push(performance.now());
      assert.equal((await fresh(`${handle.url}/heartbeat`)).status, 200);
      answered.push(performance.now());
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    await fake.waitFor((r) => r.method === "POST", 1, 10_000);
    const line = await lines.waitFor(/no heartbeat from the registry for (\d+) ms/);
    const silenceMs = Number(/for (\d+) ms/.exec(line)?.[1]);
    // The service saw each beat between its sending and its answer, so no gap it measured is
    // longer than from one sending to the next answer, however busy the machine (and it
    // counts no gap as shorter than 50 ms).
    const gaps = sent.slice(1).map((_, i) => (answered[i + 1] ?? 0) - (sent[i] ?? 0));
    const longest = Math.max(50, ...gaps);
    assert.ok(silenceMs >= 120, `silence ${silenceMs} ms ≥ 3 × 40 ms`);
    assert.ok(silenceMs <= Math.ceil(3 * longest) + 1,
      `silence ${silenceMs} ms ≤ 3 × ${longest.toFixed(0)} ms, not 10 s`);
  });

  it("shuts down in order: DELETE while serving, drain in-flight, then stop", async (t) => {
    const fake = await registry(t);
    const released = deferred();
    const inFlight = deferred();
    const slowApp: Handler = async (_req, res) => {
      inFlight.resolve();
      await released.promise;
      sendText(res, 200, "slow done");
    };
    let url = "";
    let servingAtDelete = 0;
    fake.respond = async (r) => {
      if (r.method === "DELETE") servingAtDelete = (await fresh(`${url}/heartbeat`)).status;
      return defaultAnswer(r);
    };
    const { handle, controller, lines } = await start(t, fake.url, { handler: () => slowApp });
    url = handle.url;
    await handle.registered;
    const slow = fresh(`${url}/slow`, { timeoutMs: 5_000 });
    await inFlight.promise;
    let finished = false;
    void handle.done.then(() => {
      finished = true;
    });
    controller.abort();
    const deleted = await fake.waitFor((r) => r.method === "DELETE");
    assert.equal(deleted.body, url);
    // New connections are refused once it stopped accepting…
    await eventually(async () => {
      try {
        await fresh(`${url}/heartbeat`);
        return undefined;
      } catch (error) {
        return error instanceof RequestError && error.code === "ECONNREFUSED" ? true : undefined;
      }
    });
    assert.equal(servingAtDelete, 200, "still serving while deregistering");
    // …but the in-flight request still finishes, and only then is it done.
    assert.equal(finished, false);
    released.resolve();
    const response = await slow;
    assert.equal(response.status, 200);
    assert.equal(response.text(), "slow done");
    await handle.done;
    await lines.waitFor(/^deregistered from /);
  });

  it("logs a failed deregistration and still shuts down", async (t) => {
    const fake = await startFakeRegistry();
    const { handle, controller, lines } = await start(t, fake.url);
    await handle.registered;
    await fake.close();
    controller.abort();
    await handle.done;
    await lines.waitFor(/^deregistration failed: registry: deregister .*(ECONNREFUSED|ECONNRESET)/);
  });

  it("bounds the deregistration by its timeout", async (t) => {
    const fake = await registry(t);
    let release = () => {};
    fake.respond = (r) =>
      r.method === "DELETE"
        ? new Promise((resolve) => {
            release = () => resolve({ status: 200 });
          })
        : defaultAnswer(r);
    t.after(() => release());
    const { handle, controller, lines } = await start(t, fake.url, { deregisterTimeoutMs: 50 });
    await handle.registered;
    controller.abort();
    await handle.done;
    await lines.waitFor(/^deregistration failed: .*timed out after 50 ms/);
  });

  it("rejects registered when stopped before registering, and does not deregister", async (t) => {
    const registryURL = await deadURL();
    const { handle, controller, lines } = await start(t, registryURL, {
      retryMinMs: 10_000,
      retryMaxMs: 10_000,
    });
    await lines.waitFor(/attempt 1/);
    controller.abort();
    await assert.rejects(handle.registered, /service: TestService: stopped before registering/);
    await handle.done;
    assert.equal(lines.lines.filter((line) => /deregist/.test(line)).length, 0);
  });

  it("refuses to start with an aborted signal, a taken port or a failing handler", async () => {
    const base = {
      name: "X",
      host: "127.0.0.1",
      registryURL: "http://127.0.0.1:1",
      handler: () => appHandler,
      log: () => {},
    };
    await assert.rejects(startService({ ...base, signal: AbortSignal.abort() }), {
      name: "AbortError",
    });
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", () => resolve()));
    const { port } = taken.address() as AddressInfo;
    await assert.rejects(
      startService({ ...base, port, signal: new AbortController().signal }),
      new RegExp(`^Error: service: X: listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
    );
    taken.close();
    const free = await freePort();
    await assert.rejects(
      startService({
        ...base,
        port: free,
        signal: new AbortController().signal,
        handler: () => {
          throw new Error("handler factory failed");
        },
      }),
      /handler factory failed/,
    );
    // The port was released again.
    await assert.rejects(fresh(`http://127.0.0.1:${free}/heartbeat`), { code: "ECONNREFUSED" });
  });

  it("runs two services in one process, each with its own state", async (t) => {
    const fake = await registry(t);
    const b = await start(t, fake.url, {
      name: "B",
      handler: () => (_req, res) => sendText(res, 200, "from B"),
    });
    fake.respond = (r) => {
      if (r.method === "POST" && r.body.includes('"ServiceName":"A"')) {
        return { status: 200, body: JSON.stringify({ Added: [{ Name: "B", URL: b.handle.url }] }) };
      }
      return defaultAnswer(r);
    };
    const a = await start(t, fake.url, {
      name: "A",
      requiredServices: ["B"],
      handler: (context) => async (_req, res) => {
        const text = await callProvider(context.providers, "B", async (url) =>
          (await request(url)).text(),
        );
        sendText(res, 200, `A got: ${text}`);
      },
    });
    await Promise.all([a.handle.registered, b.handle.registered]);
    assert.notEqual(a.handle.url, b.handle.url);
    assert.equal((await fresh(`${a.handle.url}/`)).text(), "A got: from B");
    await postPatch(b.handle.url, '{"Added":[{"Name":"C","URL":"http://c:1"}]}');
    assert.deepEqual(b.handle.providers.list("C"), ["http://c:1"]);
    assert.deepEqual(a.handle.providers.list("C"), []);
    a.controller.abort();
    b.controller.abort();
    await Promise.all([a.handle.done, b.handle.done]);
    const deletes = fake.requests.filter((r) => r.method === "DELETE").map((r) => r.body);
    assert.deepEqual(deletes.sort(), [a.handle.url, b.handle.url].sort());
  });

  it("sends context.log to the LogService and flushes it at shutdown", async (t) => {
    const received: string[] = [];
    const logService = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        if (req.method === "POST" && req.url === "/log") {
          received.push(...(JSON.parse(body) as string[]));
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => logService.listen(0, "127.0.0.1", () => resolve()));
    t.after(() => {
      logService.closeAllConnections();
      logService.close();
    });
    const logURL = `http://127.0.0.1:${(logService.address() as AddressInfo).port}`;
    const fake = await registry(t);
    fake.respond = (r) =>
      r.method === "POST"
        ? { status: 200, body: JSON.stringify({ Added: [{ Name: "LogService", URL: logURL }] }) }
        : defaultAnswer(r);
    const { handle, controller, lines } = await start(t, fake.url, {
      name: "Logged",
      requiredServices: ["LogService"],
      remoteLog: { batchDelayMs: 60_000, echo: () => {} },
      handler: (context) => (_req, res) => {
        context.log("hello from a request");
        sendText(res, 200, "ok");
      },
    });
    await handle.registered;
    await fresh(`${handle.url}/`);
    handle.log("hello from the handle");
    assert.deepEqual(received, [], "batched, not sent yet");
    controller.abort();
    await handle.done;
    assert.deepEqual(received, [
      "[Logged] - hello from a request",
      "[Logged] - hello from the handle",
    ]);
    assert.equal(
      lines.lines.some((line) => line.includes("hello")),
      false,
      "app lines do not go to the lifecycle log",
    );
  });
});
