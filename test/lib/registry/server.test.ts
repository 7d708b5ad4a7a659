import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { request } from "../../../lib/std/request.ts";
import {
  has,
  list,
  post,
  registrationsAtScale,
  remove,
  startFake,
  startRegistry,
} from "./helpers.ts";

const longName = "x".repeat(129);

// docs/protocol.md#bad-input for /services: every case answers 4xx with a message and changes
// nothing.
const badRegistrations: Array<{ name: string; body: string; status: number; error: RegExp }> = [
  { name: "malformed JSON", body: '{"ServiceName":', status: 400, error: /malformed JSON/ },
  { name: "an empty body", body: "", status: 400, error: /empty/ },
  { name: "a JSON array", body: "[]", status: 400, error: /must be a JSON object/ },
  { name: "JSON null", body: "null", status: 400, error: /must be a JSON object/ },
  { name: "a missing ServiceName", body: reg({ ServiceName: undefined }), status: 400,
    error: /ServiceName/ },
  { name: "a numeric ServiceName", body: reg({ ServiceName: 7 }), status: 400,
    error: /ServiceName/ },
  { name: "an empty ServiceName", body: reg({ ServiceName: "" }), status: 400,
    error: /ServiceName/ },
  { name: "a 129-character ServiceName", body: reg({ ServiceName: longName }), status: 400,
    error: /ServiceName/ },
  { name: "a control character in ServiceName", body: reg({ ServiceName: "Bad\nName" }),
    status: 400, error: /ServiceName: must not contain control characters/ },
  { name: "a missing ServiceURL", body: reg({ ServiceURL: undefined }), status: 400,
    error: /ServiceURL/ },
  { name: "a ServiceURL that is not a URL", body: reg({ ServiceURL: "not a url" }),
    status: 400, error: /ServiceURL: not a URL/ },
  { name: "an ftp ServiceURL", body: reg({ ServiceURL: "ftp://127.0.0.1/x" }), status: 400,
    error: /ServiceURL: must be an absolute http or https URL/ },
  { name: "a javascript: HeartbeatURL", body: reg({ HeartbeatURL: "javascript:alert(1)" }),
    status: 400, error: /HeartbeatURL/ },
  { name: "a relative ServiceUpdateURL", body: reg({ ServiceUpdateURL: "/services" }),
    status: 400, error: /ServiceUpdateURL/ },
  { name: "a HeartbeatURL with a password", body: reg({
    HeartbeatURL: "http://user:secret@127.0.0.1:1/heartbeat" }), status: 400,
  error: /HeartbeatURL: must not contain user information/ },
  { name: "a HeartbeatURL on port 0", body: reg({ HeartbeatURL: "http://127.0.0.1:0/" }),
    status: 400, error: /HeartbeatURL: port must be 1 to 65535/ },
  { name: "a ServiceURL without a host", body: reg({ ServiceURL: "http:///x" }), status: 400,
    error: /ServiceURL: must name a host/ },
  { name: "an ESC sequence in ServiceURL",
    body: reg({ ServiceURL: "http://127.0.0.1:1/\u001b[2J" }), status: 400,
    error: /ServiceURL: must not contain control characters/ },
  { name: "a ServiceUpdateURL on another host", body: reg({
    ServiceUpdateURL: "http://192.0.2.1:1/services" }), status: 400,
  error: /ServiceUpdateURL: must be on the ServiceURL's host \(127\.0\.0\.1\), any port/ },
  { name: "RequiredServices as a string", body: reg({ RequiredServices: "LogService" }),
    status: 400, error: /RequiredServices must be an array/ },
  { name: "a number in RequiredServices", body: reg({ RequiredServices: [1] }), status: 400,
    error: /RequiredServices\[0\]/ },
  { name: "a body over 64 KiB", body: reg({ Padding: "p".repeat(70_000) }), status: 413,
    error: /larger than 65536 bytes/ },
];

/** The registrations without LastCheck, which the first heartbeat check changes. */
async function stable(url: string): Promise<unknown[]> {
  return (await list(url)).map(({ LastCheck: _, ...row }) => row);
}

function reg(fields: Record<string, unknown>): string {
  return JSON.stringify({
    ServiceName: "Target",
    ServiceURL: "http://127.0.0.1:1/bad",
    RequiredServices: [],
    ServiceUpdateURL: "",
    HeartbeatURL: "",
    ...fields,
  });
}

describe("registry POST /services", () => {
  it("refuses each bad registration with a 4xx and a message, changing and announcing nothing",
    async (t) => {
      const { url, lines } = await startRegistry(t);
      const dependent = await startFake(t);
      assert.equal((await post(url, dependent.registration("Watcher", ["Target"]))).status, 200);
      const before = await stable(url);
      for (const bad of badRegistrations) {
        const response = await post(url, bad.body);
        assert.equal(response.status, bad.status, bad.name);
        const body = response.json() as { error: string };
        assert.match(body.error, bad.error, bad.name);
        assert.deepEqual(await stable(url), before, `${bad.name}: nothing registered`);
      }
      // Each refusal is logged once.
      const refusals = lines.filter((line) => /POST \/services: 4\d\d /.test(line));
      assert.equal(refusals.length, badRegistrations.length);
      // Patches to one dependent are delivered in order: once this one arrives, an earlier
      // announcement of a bad registration would have arrived too.
      const good = { Name: "Target", URL: "http://127.0.0.1:1/good" };
      assert.equal((await post(url, reg({ ServiceURL: good.URL }))).status, 200);
      await dependent.waitPatch((patch) => has(patch, good.URL));
      const announced = dependent.patches.flatMap((patch) => [...patch.Added, ...patch.Removed]);
      assert.deepEqual(announced, [good]);
    });

  it("answers the initial patch with every passing provider and POSTs it to the update URL",
    async (t) => {
      const { url } = await startRegistry(t);
      const logA = await startFake(t);
      const logB = await startFake(t);
      const sick = await startFake(t);
      sick.health = 500;
      const client = await startFake(t);
      await post(url, logA.registration("LogService"));
      await post(url, logB.registration("LogService"));
      await post(url, { ...sick.registration("Other"), ServiceName: "Other" });
      const response = await post(url, client.registration("Client", ["LogService", "Other",
        "Missing"]));
      assert.equal(response.status, 200);
      const answer = response.json() as { Added: Array<{ URL: string }>; Removed: unknown };
      assert.deepEqual(Object.keys(answer), ["Added", "Removed"]);
      assert.deepEqual(answer.Removed, []);
      const urls = answer.Added.map((entry) => entry.URL).sort();
      // "Other" is still passing: it has not failed three checks yet.
      assert.deepEqual(urls, [logA.url, logB.url, sick.url].sort());
      const delivered = await client.waitPatch((patch) => patch.Added.length >= 3);
      assert.deepEqual(delivered.Added.map((entry) => entry.URL).sort(), urls);
    });

  it("leaves critical providers out of the initial patch", async (t) => {
    const { url } = await startRegistry(t, { failures: 1, retryDelayMs: 10 });
    const sick = await startFake(t);
    sick.health = 503;
    const watcher = await startFake(t);
    await post(url, watcher.registration("Watcher", ["Sick"]));
    await post(url, sick.registration("Sick"));
    await watcher.waitPatch((patch) => has(patch, sick.url, "Removed"));
    const client = await startFake(t);
    const answer = (await post(url, client.registration("Client", ["Sick"]))).json();
    assert.deepEqual(answer, { Added: [], Removed: [] });
  });

  it("answers 200 even when the registrant's update URL refuses the initial patch", async (t) => {
    const { url } = await startRegistry(t, { notifyRetries: 0 });
    const provider = await startFake(t);
    await post(url, provider.registration("LogService"));
    const response = await post(url, {
      ServiceName: "Client",
      ServiceURL: "http://127.0.0.1:1",
      RequiredServices: ["LogService"],
      ServiceUpdateURL: "http://127.0.0.1:1/services",
    });
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), { Added: [{ Name: "LogService", URL: provider.url }],
      Removed: [] });
    assert.equal((await list(url, "Client")).length, 1);
  });

  it("replaces a re-registration in place without Removed/Added churn", async (t) => {
    const { url } = await startRegistry(t);
    const watcher = await startFake(t);
    const provider = await startFake(t);
    await post(url, watcher.registration("Watcher", ["LogService", "Marker"]));
    await post(url, provider.registration("LogService"));
    await post(url, { ...provider.registration("LogService"), RequiredServices: ["Marker"] });
    await post(url, provider.registration("LogService"));
    const rows = await list(url);
    assert.equal(rows.filter((row) => row.ServiceURL === provider.url).length, 1);
    // A marker registration flushes the watcher's ordered patch queue.
    await post(url, { ServiceName: "Marker", ServiceURL: "http://127.0.0.1:1/marker" });
    await watcher.waitPatch((patch) => has(patch, "http://127.0.0.1:1/marker"));
    const mentions = watcher.patches.flatMap((patch) => [
      ...patch.Added.filter((e) => e.URL === provider.url).map(() => "added"),
      ...patch.Removed.filter((e) => e.URL === provider.url).map(() => "removed"),
    ]);
    // Patches have set semantics: a patch delivered twice (an answer that came after the
    // notifier's timeout, a replica and its leader both sending it) is no churn. A Removed is.
    assert.ok(mentions.length > 0 && mentions.every((m) => m === "added"), mentions.join(", "));
  });

  it("moves a re-registration under a new name: Removed for the old, Added for the new",
    async (t) => {
      const { url } = await startRegistry(t);
      const watcher = await startFake(t);
      const provider = await startFake(t);
      await post(url, watcher.registration("Watcher", ["Old", "New"]));
      await post(url, provider.registration("Old"));
      await watcher.waitPatch((patch) => has(patch, provider.url));
      await post(url, provider.registration("New"));
      await watcher.waitPatch((patch) => patch.Removed.some((e) => e.Name === "Old"));
      await watcher.waitPatch((patch) => patch.Added.some((e) => e.Name === "New"));
      assert.deepEqual((await list(url)).map((row) => row.ServiceName).sort(), ["New",
        "Watcher"]);
    });

  it("accepts the exact registration a Go service sends and sends Go-shaped patches",
    async (t) => {
      const { url } = await startRegistry(t);
      const goService = await startFake(t);
      const provider = await startFake(t);
      // encoding/json output of the Go original: PascalCase, null list, trailing newline.
      const goBody =
        `{"ServiceName":"GradingService","ServiceURL":"${goService.url}",` +
        `"RequiredServices":["LogService"],"ServiceUpdateURL":"${goService.updateURL}",` +
        `"HeartbeatURL":"${goService.heartbeatURL}"}\n`;
      assert.equal((await post(url, goBody)).status, 200);
      const nullList = `{"ServiceName":"LogService","ServiceURL":"${provider.url}",` +
        `"RequiredServices":null,"ServiceUpdateURL":"","HeartbeatURL":""}\n`;
      assert.equal((await post(url, nullList)).status, 200);
      await goService.waitPatch((patch) => has(patch, provider.url));
      const body = goService.bodies.at(-1) ?? "";
      assert.equal(body, `{"Added":[{"Name":"LogService","URL":"${provider.url}"}],"Removed":[]}`);
      assert.equal(goService.patchHeaders.at(-1)?.["content-type"], "application/json");
      assert.equal(goService.patchHeaders.at(-1)?.authorization, undefined);
      // The Go client deregisters with the URL as a text/plain body.
      assert.equal((await remove(url, provider.url)).status, 200);
      await goService.waitPatch((patch) => has(patch, provider.url, "Removed"));
      assert.equal(goService.bodies.at(-1),
        `{"Added":[],"Removed":[{"Name":"LogService","URL":"${provider.url}"}]}`);
    });
});

describe("registry DELETE /services", () => {
  it("removes a registration (whitespace ignored) and tells its dependents", async (t) => {
    const { url } = await startRegistry(t);
    const watcher = await startFake(t);
    const provider = await startFake(t);
    await post(url, watcher.registration("Watcher", ["LogService"]));
    await post(url, provider.registration("LogService"));
    const response = await remove(url, `  ${provider.url}\r\n`);
    assert.equal(response.status, 200);
    await watcher.waitPatch((patch) => has(patch, provider.url, "Removed"));
    assert.deepEqual((await list(url, "LogService")), []);
  });

  it("answers 404 for an unknown URL and 400 for a bad one, changing nothing", async (t) => {
    const { url } = await startRegistry(t);
    const provider = await startFake(t);
    await post(url, provider.registration("LogService"));
    const before = await stable(url);
    const cases: Array<[string, number, RegExp]> = [
      ["http://127.0.0.1:1", 404, /no service registered at http:\/\/127\.0\.0\.1:1/],
      ["", 400, /ServiceURL/],
      ["not a url", 400, /ServiceURL: not a URL/],
      [JSON.stringify({ ServiceURL: provider.url }), 400, /ServiceURL/],
    ];
    for (const [body, status, error] of cases) {
      const response = await remove(url, body);
      assert.equal(response.status, status, body);
      assert.match((response.json() as { error: string }).error, error);
    }
    assert.deepEqual(await stable(url), before);
  });
});

describe("registry GET /services and other requests", () => {
  it("lists registrations with Status and LastCheck, filtered by ?name", async (t) => {
    const { url } = await startRegistry(t);
    const a = await startFake(t);
    const b = await startFake(t);
    await post(url, a.registration("A", ["B", "B"]));
    await post(url, { ServiceName: "B", ServiceURL: b.url });
    const rows = await list(url, "A");
    assert.equal(rows.length, 1);
    const [row] = rows;
    assert.deepEqual(row?.RequiredServices, ["B"]);
    assert.equal(row?.Status, "passing");
    assert.deepEqual((await list(url, "B"))[0], {
      ServiceName: "B", ServiceURL: b.url, RequiredServices: [], ServiceUpdateURL: "",
      HeartbeatURL: "", Status: "passing", LastCheck: null,
    });
    assert.deepEqual(await list(url, "Nobody"), []);
  });

  it("answers 405 with Allow for other methods and 404 for other paths", async (t) => {
    const { url } = await startRegistry(t);
    const put = await request(`${url}/services`, { method: "PUT", body: "x" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, "GET, POST, DELETE, HEAD");
    assert.equal((await request(`${url}/services/x`)).status, 404);
    assert.equal((await request(`${url}/`)).status, 404);
  });

  const total = registrationsAtScale();
  it(`registers ${total} services from 32 clients at once and lists every one`, async (t) => {
    const { url } = await startRegistry(t);
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const response = await post(url, {
          ServiceName: `S${i % 100}`,
          ServiceURL: `http://127.0.0.1:1/${i}`,
          RequiredServices: [`S${(i + 1) % 100}`],
        });
        assert.equal(response.status, 200);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const response = await request(`${url}/services`, { maxResponseBytes: 64 * 1024 * 1024 });
    const listed = (response.json() as { Services: Array<{ ServiceURL: string }> }).Services;
    // How fast is make bench's question (10 000 registrations); here: none lost, none twice.
    assert.equal(new Set(listed.map((row) => row.ServiceURL)).size, total);
    assert.equal(listed.length, total);
  });
});

describe("registry token (docs/protocol.md#security)", () => {
  it("requires the bearer token on POST and DELETE and sends it with patches", async (t) => {
    const { url } = await startRegistry(t, { token: "s3cret" });
    const watcher = await startFake(t);
    const provider = await startFake(t);
    const auth = { Authorization: "Bearer s3cret" };
    for (const headers of [{}, { Authorization: "Bearer wrong" }, { Authorization: "s3cret" }]) {
      const response = await post(url, provider.registration("LogService"), headers);
      assert.equal(response.status, 401);
      assert.match((response.json() as { error: string }).error, /token/);
      assert.equal((await remove(url, provider.url, headers)).status, 401);
    }
    assert.deepEqual(await list(url), []);
    assert.equal((await post(url, watcher.registration("Watcher", ["LogService"]), auth)).status,
      200);
    assert.equal((await post(url, provider.registration("LogService"), auth)).status, 200);
    await watcher.waitPatch((patch) => has(patch, provider.url));
    assert.equal(watcher.patchHeaders.at(-1)?.authorization, "Bearer s3cret");
    assert.equal((await remove(url, provider.url, auth)).status, 200);
  });
});
