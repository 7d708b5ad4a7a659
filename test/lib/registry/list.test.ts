import assert from "node:assert/strict";
import http from "node:http";
import { describe, it, type TestContext } from "node:test";
import { createChangeIndex, type ChangeIndex } from "../../../lib/registry/blocking.ts";
import { createListHandler } from "../../../lib/registry/list.ts";
import { parseServiceList } from "../../../lib/registry/registration.ts";
import { createTable, rowOf, type Table } from "../../../lib/registry/table.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request } from "../../../lib/std/request.ts";
import { createRouter } from "../../../lib/std/router.ts";
import { eventually } from "../../support/wait.ts";

/** The list handler over a fresh table and change index, listening on 127.0.0.1:0. */
async function serve(
  t: TestContext,
): Promise<{ url: string; table: Table; changes: ChangeIndex }> {
  const table = createTable();
  const changes = createChangeIndex();
  const router = createRouter([{ path: "/services",
    methods: { GET: createListHandler(table, changes) } }], { log: () => {} });
  const listening = await listen(router, { host: "127.0.0.1", port: 0 });
  t.after(async () => {
    changes.close();
    await listening.close(0);
  });
  return { url: `${listening.url}/services`, table, changes };
}

const register = (table: Table, changes: ChangeIndex, name: string) => {
  table.apply({ put: rowOf({ ServiceName: name, ServiceURL: `http://127.0.0.1:1/${name}`,
    RequiredServices: [], ServiceUpdateURL: "", HeartbeatURL: "" }, "passing", null) });
  changes.bump();
};

describe("GET /services blocking queries", () => {
  it("carries X-Registry-Index on every answer, HEAD included", async (t) => {
    const { url, table, changes } = await serve(t);
    assert.equal((await request(url)).headers["x-registry-index"], "1");
    register(table, changes, "A");
    const head = await request(url, { method: "HEAD" });
    assert.equal(head.headers["x-registry-index"], "2");
    assert.equal(head.body.length, 0);
  });

  it("waits until the index passes N, then answers with the change", async (t) => {
    const { url, table, changes } = await serve(t);
    let answered = false;
    const blocked = request(`${url}?index=1&wait=60s`).then((response) => {
      answered = true;
      return response;
    });
    await eventually(() => (changes.waiting === 1 ? true : undefined), 5_000, "the wait");
    assert.equal(answered, false);
    register(table, changes, "A");
    const response = await blocked;
    assert.equal(response.status, 200);
    assert.equal(response.headers["x-registry-index"], "2");
    assert.deepEqual(parseServiceList(response.json()).map((row) => row.ServiceName), ["A"]);
  });

  it("answers the unchanged list when the wait ends", async (t) => {
    const { url, table, changes } = await serve(t);
    register(table, changes, "A");
    const response = await request(`${url}?index=2&wait=50ms&name=A`);
    assert.equal(response.headers["x-registry-index"], "2");
    assert.equal(parseServiceList(response.json()).length, 1);
    assert.equal(changes.waiting, 0);
  });

  it("answers at once for an index already passed", async (t) => {
    const { url, table, changes } = await serve(t);
    register(table, changes, "A");
    // A wait of ten minutes would outlast the test: the answer must not wait at all.
    const response = await request(`${url}?index=1&wait=10m`, { timeoutMs: 20_000 });
    assert.equal(response.headers["x-registry-index"], "2");
  });

  it("frees the wait of a client that disconnects at once", async (t) => {
    const { url, changes } = await serve(t);
    const req = http.get(`${url}?index=1&wait=10m`);
    req.on("error", () => {}); // destroyed below on purpose
    await eventually(() => (changes.waiting === 1 ? true : undefined), 5_000, "the wait");
    req.destroy();
    await eventually(() => (changes.waiting === 0 ? true : undefined), 5_000, "the freed wait");
  });

  it("answers a thousand waiters after one change, each with the new list", async (t) => {
    const { url, table, changes } = await serve(t);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1_000 });
    t.after(() => agent.destroy());
    const waits = Array.from({ length: 1_000 }, () =>
      request(`${url}?index=1&wait=60s`, { agent, timeoutMs: 60_000 }));
    await eventually(() => (changes.waiting === 1_000 ? true : undefined), 30_000,
      "every waiter");
    register(table, changes, "A");
    for (const response of await Promise.all(waits)) {
      assert.equal(response.headers["x-registry-index"], "2");
      assert.equal(parseServiceList(response.json()).length, 1);
    }
  });

  it("refuses bad index and wait values with 400", async (t) => {
    const { url } = await serve(t);
    for (const query of ["index=x", "index=1&wait=5", "index=1&wait=11m", "wait=30s"]) {
      const response = await request(`${url}?${query}`);
      assert.equal(response.status, 400, query);
      assert.match((response.json() as { error: string }).error, /^(index|wait): /, query);
    }
  });
});
