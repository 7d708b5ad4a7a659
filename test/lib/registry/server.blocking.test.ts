// The registry's change index: it moves with every change to the list of services, and a
// blocking query answers as soon as it does.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { request } from "../../../lib/std/request.ts";
import { parseServiceList } from "../../../lib/registry/registration.ts";
import { post, remove, startFake, startRegistry } from "./helpers.ts";

/** The `X-Registry-Index` of a `GET /services` right now. */
async function indexOf(url: string): Promise<number> {
  const response = await request(`${url}/services`);
  return Number(response.headers["x-registry-index"]);
}

describe("registry change index", () => {
  it("moves with registrations, deregistrations and health changes, not with passing checks",
    async (t) => {
      const { url } = await startRegistry(t, { heartbeatIntervalMs: 20, failures: 1,
        retryDelayMs: 20 });
      const watcher = await startFake(t);
      assert.equal((await post(url, watcher.registration("Watcher", ["Sick"]))).status, 200);
      const afterRegistration = await indexOf(url);
      // Checks keep passing: LastCheck changes, the index does not.
      await watcher.nextHeartbeat();
      await watcher.nextHeartbeat();
      assert.equal(await indexOf(url), afterRegistration);

      const sick = await startFake(t);
      assert.equal((await post(url, sick.registration("Sick"))).status, 200);
      assert.equal(await indexOf(url), afterRegistration + 1);
      sick.health = 503;
      await watcher.waitPatch((patch) => patch.Removed.some((e) => e.URL === sick.url));
      assert.equal(await indexOf(url), afterRegistration + 2, "turned critical");
      assert.equal((await remove(url, sick.url)).status, 200);
      assert.equal(await indexOf(url), afterRegistration + 3, "deregistered");
    });

  it("answers a blocking query with the registration that moved the index", async (t) => {
    const { url } = await startRegistry(t);
    const index = await indexOf(url);
    const blocked = request(`${url}/services?index=${index}&wait=60s&name=LogService`,
      { timeoutMs: 60_000 });
    const provider = await startFake(t);
    assert.equal((await post(url, provider.registration("LogService"))).status, 200);
    const response = await blocked;
    assert.ok(Number(response.headers["x-registry-index"]) > index);
    assert.deepEqual(parseServiceList(response.json()).map((row) => row.ServiceURL),
      [provider.url]);
  });
});
