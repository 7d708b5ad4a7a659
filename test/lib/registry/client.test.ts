import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  deregister,
  listServices,
  register,
  RegistryError,
} from "../../../lib/registry/client.ts";
import type { Registration } from "../../../lib/registry/registration.ts";
import { RequestError } from "../../../lib/std/request.ts";
import { deadURL } from "../../support/temp.ts";
import { startFakeRegistry } from "../service/fakes.ts";

const reg: Registration = {
  ServiceName: "LogService",
  ServiceURL: "http://localhost:4000",
  RequiredServices: [],
  ServiceUpdateURL: "http://localhost:4000/services",
  HeartbeatURL: "http://localhost:4000/heartbeat",
};

const registryError = (status: number | undefined, message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof RegistryError, `want RegistryError, got ${String(error)}`);
  assert.equal(error.status, status);
  assert.match(error.message, message);
  return true;
};

describe("registry client", () => {
  it("registers with exactly the Go wire JSON and returns the initial patch", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    const answer = {
      Added: [{ Name: "GradingService", URL: "http://localhost:6000" }],
      Removed: null,
    };
    registry.respond = () => ({ status: 200, body: JSON.stringify(answer) });
    const patch = await register(reg, { registryURL: `${registry.url}/` });
    assert.deepEqual(patch, { Added: answer.Added, Removed: [] });
    const [sent] = registry.requests;
    assert.equal(sent?.method, "POST");
    assert.equal(sent?.path, "/services");
    assert.match(String(sent?.headers["content-type"]), /^application\/json/);
    assert.equal(sent?.headers.authorization, undefined);
    assert.equal(
      sent?.body,
      '{"ServiceName":"LogService","ServiceURL":"http://localhost:4000","RequiredServices":[],' +
        '"ServiceUpdateURL":"http://localhost:4000/services",' +
        '"HeartbeatURL":"http://localhost:4000/heartbeat"}',
    );
  });

  it("sends the bearer token when it has one", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    await register(reg, { registryURL: registry.url, token: "s3cret" });
    await deregister(reg.ServiceURL, { registryURL: registry.url, token: "s3cret" });
    assert.deepEqual(
      registry.requests.map((r) => r.headers.authorization),
      ["Bearer s3cret", "Bearer s3cret"],
    );
  });

  it("treats an empty 200 answer (a Go registry) as no initial patch", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    registry.respond = () => ({ status: 200, body: "" });
    assert.equal(await register(reg, { registryURL: registry.url }), undefined);
  });

  it("names the registry URL, the status and the error text when refused", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    registry.respond = () => ({ status: 503, body: '{"error":"registry is closing"}' });
    await assert.rejects(
      register(reg, { registryURL: registry.url }),
      registryError(
        503,
        new RegExp(
          `^registry: register "LogService" at ${registry.url}: status 503: registry is closing$`,
        ),
      ),
    );
  });

  it("shows a plain-text error body on one line, shortened", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    const body = `oops\nline two ${"x".repeat(300)}`;
    registry.respond = () => ({ status: 500, body, contentType: "text/plain" });
    await assert.rejects(
      register(reg, { registryURL: registry.url }),
      registryError(500, /status 500: oops line two x+…$/),
    );
    registry.respond = () => ({ status: 400, body: "" });
    await assert.rejects(
      register(reg, { registryURL: registry.url }),
      registryError(400, /status 400$/),
    );
  });

  it("rejects a malformed answer naming the registry", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    registry.respond = () => ({ status: 200, body: "{not json" });
    await assert.rejects(
      register(reg, { registryURL: registry.url }),
      registryError(200, /^registry: register "LogService" at http:\/\/[\d.:]+: bad answer: /),
    );
    registry.respond = () => ({ status: 200, body: '{"Added":"x"}' });
    await assert.rejects(register(reg, { registryURL: registry.url }), registryError(200, /Added/));
  });

  it("names the registry URL when nothing listens there", async () => {
    const registryURL = await deadURL();
    await assert.rejects(register(reg, { registryURL }), (error: unknown) => {
      const message = `^registry: register "LogService" at ${registryURL}: .*ECONNREFUSED`;
      registryError(undefined, new RegExp(message))(error);
      assert.ok(error instanceof Error && error.cause instanceof RequestError);
      return true;
    });
  });

  it("moves on to the next replica after a refusal, a 5xx and a timeout", async (t) => {
    const failing = await startFakeRegistry();
    const hanging = await startFakeRegistry();
    const good = await startFakeRegistry();
    let release = () => {};
    t.after(() => release());
    for (const fake of [failing, hanging, good]) t.after(() => fake.close());
    failing.respond = () => ({ status: 503, body: '{"error":"registry: etcd is unavailable"}' });
    hanging.respond = () => new Promise((resolve) => {
      release = () => resolve({ status: 200, body: "" });
    });
    const answered: string[] = [];
    const urls = [await deadURL(), failing.url, hanging.url, `${good.url}/`];
    await register(reg, { registryURL: urls.join(", "), timeoutMs: 100,
      onReplica: (url) => answered.push(url) });
    assert.deepEqual(answered, [good.url]);
    assert.equal(good.requests.length, 1);

    // A 4xx is the cluster's word: no other replica is asked.
    failing.respond = () => ({ status: 404, body: '{"error":"registry: no service there"}' });
    await assert.rejects(
      deregister(reg.ServiceURL, { registryURL: `${failing.url},${good.url}` }),
      registryError(404, /no service there/),
    );
    assert.equal(good.requests.length, 1);

    // When none answers, the error names them all and the last failure.
    failing.respond = () => ({ status: 503, body: '{"error":"registry: etcd is unavailable"}' });
    await assert.rejects(
      listServices({ registryURL: `${urls[0]},${urls[1]}` }),
      registryError(503, /no replica of .+ answered; the last: .*status 503/),
    );
  });

  it("times out", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    let release = () => {};
    registry.respond = () =>
      new Promise((resolve) => {
        release = () => resolve({ status: 200, body: "" });
      });
    t.after(() => release());
    await assert.rejects(
      register(reg, { registryURL: registry.url, timeoutMs: 50 }),
      registryError(undefined, /timed out after 50 ms/),
    );
  });

  it("stops when its signal aborts", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    const controller = new AbortController();
    let release = () => {};
    registry.respond = () => {
      controller.abort();
      return new Promise((resolve) => {
        release = () => resolve({ status: 200, body: "" });
      });
    };
    t.after(() => release());
    await assert.rejects(
      register(reg, { registryURL: registry.url, signal: controller.signal }),
      (error: unknown) =>
        error instanceof RegistryError &&
        error.cause instanceof RequestError &&
        error.cause.code === "EABORTED",
    );
  });

  it("deregisters with the URL as a text/plain DELETE body", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    await deregister(reg.ServiceURL, { registryURL: registry.url });
    const [sent] = registry.requests;
    assert.equal(sent?.method, "DELETE");
    assert.equal(sent?.path, "/services");
    assert.match(String(sent?.headers["content-type"]), /^text\/plain/);
    assert.equal(sent?.body, "http://localhost:4000");
  });

  it("reports 404 for an unknown URL on deregister", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    registry.respond = () => ({ status: 404, body: '{"error":"no such service"}' });
    await assert.rejects(
      deregister(reg.ServiceURL, { registryURL: registry.url }),
      registryError(
        404,
        new RegExp(
          `^registry: deregister http://localhost:4000 at ${registry.url}: ` +
            "status 404: no such service$",
        ),
      ),
    );
  });

  it("lists services, filtered by name", async (t) => {
    const registry = await startFakeRegistry();
    t.after(() => registry.close());
    const row = { ...reg, Status: "passing", LastCheck: null };
    registry.respond = () => ({ status: 200, body: JSON.stringify({ Services: [row] }) });
    assert.deepEqual(await listServices({ registryURL: registry.url }), [row]);
    assert.deepEqual(await listServices({ registryURL: registry.url, name: "Log Service" }), [row]);
    assert.deepEqual(
      registry.requests.map((r) => `${r.method} ${r.path}`),
      ["GET /services", "GET /services?name=Log%20Service"],
    );
    registry.respond = () => ({ status: 200, body: '{"Services":[{"Status":"sleepy"}]}' });
    await assert.rejects(
      listServices({ registryURL: registry.url }),
      registryError(200, /bad answer/),
    );
    registry.respond = () => ({ status: 401, body: '{"error":"missing token"}' });
    await assert.rejects(
      listServices({ registryURL: registry.url, name: "X" }),
      registryError(401, /^registry: list "X" at .*: status 401: missing token$/),
    );
  });
});
