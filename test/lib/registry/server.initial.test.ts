// The initial patch goes to the registrant before the registry answers its POST, because a Go
// client reads its providers once, right after the POST returns, from what its update URL got.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { parsePatch } from "../../../lib/registry/registration.ts";
import { tempDir } from "../../support/temp.ts";
import { eventually } from "../../support/wait.ts";
import { list, post, startFake, startRegistry } from "./helpers.ts";

/**
 * A service that keeps its providers as the Go client does: its update handler applies each
 * patch before answering it, and the service reads the table once, right after its
 * registration POST returns. The handler holds each answer until that POST has returned, or
 * at most `holdMs`: a registry that answers the POST first is caught red-handed (the table is
 * read while the patch still waits), and one that waits for the patch is not stalled.
 */
async function startGoLikeClient(t: TestContext, holdMs: number) {
  const table = new Map<string, Set<string>>();
  let posted: (() => void) | undefined;
  const returned = new Promise<void>((resolve) => (posted = resolve));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const patch = parsePatch(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([returned, new Promise((resolve) => (timer = setTimeout(resolve,
        holdMs)))]);
      clearTimeout(timer);
      for (const { Name, URL } of patch.Added) {
        const urls = table.get(Name) ?? new Set<string>();
        table.set(Name, urls.add(URL));
      }
      for (const { Name, URL } of patch.Removed) table.get(Name)?.delete(URL);
      res.writeHead(200).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    /** Registers as the Go client does and returns its providers of `name` read right after. */
    async register(registryURL: string, name: string): Promise<string[]> {
      const response = await post(registryURL, {
        ServiceName: "GoClient",
        ServiceURL: url,
        RequiredServices: [name],
        ServiceUpdateURL: `${url}/services`,
        HeartbeatURL: "",
      });
      assert.equal(response.status, 200);
      const seen = [...(table.get(name) ?? [])].sort();
      posted?.();
      return seen;
    },
  };
}

describe("registry POST /services and the initial patch", () => {
  it("delivers the initial patch before answering: a Go client sees its providers",
    async (t) => {
      const dir = await tempDir(t, "registry-initial");
      const { url } = await startRegistry(t, { statePath: join(dir, "state.json"),
        notifyTimeoutMs: 5_000 });
      const logA = await startFake(t);
      const logB = await startFake(t);
      assert.equal((await post(url, logA.registration("LogService"))).status, 200);
      assert.equal((await post(url, logB.registration("LogService"))).status, 200);
      const client = await startGoLikeClient(t, 200);
      assert.deepEqual(await client.register(url, "LogService"), [logA.url, logB.url].sort());
    });

  it("answers within the patch timeout when the update URL never answers, and keeps trying",
    async (t) => {
      const { url } = await startRegistry(t, { notifyTimeoutMs: 200, notifyRetries: 1 });
      const provider = await startFake(t);
      await post(url, provider.registration("LogService"));
      const dependent = await startFake(t);
      dependent.updateStatus = "hang";
      const response = await post(url, dependent.registration("Dependent", ["LogService"]));
      assert.equal(response.status, 200);
      assert.deepEqual(response.json(), { Added: [{ Name: "LogService", URL: provider.url }],
        Removed: [] });
      assert.equal((await list(url, "Dependent")).length, 1);
      // The initial patch is retried as any other.
      await eventually(() => (dependent.patches.length >= 2 ? true : undefined), 5_000,
        "the retry of the initial patch");
    });

  it("answers at once when there is nothing to deliver", async (t) => {
    const { url } = await startRegistry(t, { notifyTimeoutMs: 60_000 });
    const dependent = await startFake(t);
    dependent.updateStatus = "hang";
    // Nothing provides "Missing": the initial patch is empty and not sent at all.
    const response = await post(url, dependent.registration("Dependent", ["Missing"]));
    assert.equal(response.status, 200);
    assert.equal(dependent.patches.length, 0);
  });
});
