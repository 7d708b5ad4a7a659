import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { describe, it, type TestContext } from "node:test";
import type { Upstream } from "../../../lib/portal/upstream.ts";
import { poll, watchServices, type Watched } from "../../../lib/portal/watch.ts";
import type { ServiceStatus } from "../../../lib/registry/registration.ts";
import { HttpError } from "../../../lib/std/http.ts";
import { request } from "../../../lib/std/request.ts";
import { serve } from "../../support/serve.ts";
import { deadURL } from "../../support/temp.ts";
import { createWaiters, eventually } from "../../support/wait.ts";
import { startRegistry } from "../registry/helpers.ts";

type Run<T> = (emit: (state: Watched<T>) => void, signal: AbortSignal) => unknown;

/** Runs a watcher, recording what it emits, until the test ends. */
function record<T>(t: TestContext, run: Run<T>) {
  const controller = new AbortController();
  t.after(() => controller.abort());
  const states: Array<Watched<T>> = [];
  const waiters = createWaiters();
  void run((state) => {
    states.push(state);
    waiters.wake();
  }, controller.signal);
  const next = (count: number) =>
    waiters.until(() => states[count - 1], 5_000, () =>
      new Error(`only ${states.length} states: ${JSON.stringify(states)}`));
  return { states, next, stop: () => controller.abort() };
}

const row = (name: string) => ({
  ServiceName: name,
  ServiceURL: `http://127.0.0.1:1/${name}`,
  RequiredServices: [],
  ServiceUpdateURL: "",
  HeartbeatURL: "",
  Status: "passing",
  LastCheck: null,
});

/**
 * A registry as the test needs it, with the requests it saw: one answering blocking queries
 * the documented way, one refusing their parameters, or one that sends no index at all.
 */
async function fakeRegistry(t: TestContext, mode: "blocking" | "refuse" | "plain" = "blocking") {
  let index = 1;
  let names = ["A"];
  const held: Array<{ from: number; res: ServerResponse }> = [];
  const seen: string[] = [];
  const answer = (res: ServerResponse) => {
    const indexed = mode === "plain" ? {} : { "X-Registry-Index": String(index) };
    res.writeHead(200, { "Content-Type": "application/json", ...indexed });
    res.end(JSON.stringify({ Services: names.map(row) }));
  };
  const url = await serve(t, (req, res) => {
    seen.push(req.url ?? "");
    const asked = new URL(req.url ?? "/", "http://x").searchParams.get("index");
    if (mode === "refuse" && asked !== null) {
      return void res.writeHead(400).end('{"error":"index"}');
    }
    const from = Number(asked ?? "0");
    if (from >= index) held.push({ from, res });
    else answer(res);
  });
  return {
    url,
    seen,
    change(next: string[]) {
      names = next;
      index += 1;
      for (const waiting of held.splice(0)) answer(waiting.res);
    },
  };
}

const options = { waitSeconds: 30, pollMs: 50, maxListBytes: 1024 * 1024 };
const watcher = (upstream: Upstream): Run<ServiceStatus[]> => (emit, signal) =>
  watchServices(upstream, options, emit, signal);
const names = (state: Watched<ServiceStatus[]> | undefined) =>
  state?.value?.map((service) => service.ServiceName);

describe("watchServices", () => {
  it("follows the registry with blocking queries: a change arrives without polling", async (t) => {
    const registry = await fakeRegistry(t);
    const upstream = { registryURL: registry.url, timeoutMs: 1_000 };
    const watch = record(t, watcher(upstream));
    assert.deepEqual(names(await watch.next(1)), ["A"]);
    registry.change(["A", "B"]);
    assert.deepEqual(names(await watch.next(2)), ["A", "B"]);
    await eventually(() => (registry.seen.length >= 3 ? true : undefined), 5_000, "a third ask");
    assert.deepEqual(registry.seen.slice(0, 3), [
      "/services",
      "/services?index=1&wait=30s",
      "/services?index=2&wait=30s",
    ]);
  });

  it("falls back to plain reads when the registry refuses the blocking parameters", async (t) => {
    const registry = await fakeRegistry(t, "refuse");
    const watch = record(t, watcher({ registryURL: registry.url, timeoutMs: 1_000 }));
    assert.deepEqual(names(await watch.next(1)), ["A"]);
    await eventually(() => (registry.seen.length >= 4 ? true : undefined), 5_000, "four asks");
    assert.deepEqual(registry.seen.slice(0, 4), [
      "/services",
      "/services?index=1&wait=30s",
      "/services",
      "/services",
    ]);
    registry.change(["B"]);
    assert.deepEqual(names(await watch.next(2)), ["B"]);
  });

  it("reads a registry that sends no index every pollMs", async (t) => {
    const registry = await fakeRegistry(t, "plain");
    const watch = record(t, watcher({ registryURL: registry.url, timeoutMs: 1_000 }));
    assert.deepEqual(names(await watch.next(1)), ["A"]);
    registry.change(["C"]);
    assert.deepEqual(names(await watch.next(2)), ["C"]);
    assert.ok(registry.seen.every((url) => url === "/services"), registry.seen.join(" "));
  });

  it("sees a real registry's change at once, though it would poll only hourly", async (t) => {
    const registry = await startRegistry(t);
    const upstream = { registryURL: registry.url, timeoutMs: 1_000 };
    const hourly = { ...options, pollMs: 3_600_000 };
    const watch = record<ServiceStatus[]>(t, (emit, signal) =>
      watchServices(upstream, hourly, emit, signal));
    assert.deepEqual(names(await watch.next(1)), []);
    const posted = await request(`${registry.url}/services`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...row("Blocked"), Status: undefined, LastCheck: undefined }),
    });
    assert.equal(posted.status, 200, posted.text());
    assert.deepEqual(names(await watch.next(2)), ["Blocked"]);
    await registry.stop();
    const gone = await watch.next(3);
    assert.match(gone.error ?? "", new RegExp(`^The registry at ${registry.url} `));
  });

  it("emits the page's message while no replica answers", async (t) => {
    const dead = await deadURL();
    const upstream = { registryURL: dead, timeoutMs: 1_000 };
    const watch = record(t, watcher(upstream));
    assert.equal(
      (await watch.next(1)).error,
      `The registry at ${dead} is not reachable: nothing is listening there (connection refused).`,
    );
  });
});

describe("poll", () => {
  it("emits each change once, and errors as the page's message", async (t) => {
    const values: Array<number | Error> = [1, 1, 2, new HttpError(503, "gone"), 3];
    let at = 0;
    const read = async () => {
      const value = values[Math.min(at++, values.length - 1)];
      if (value instanceof Error) throw value;
      return value ?? 0;
    };
    const watch = record<number>(t, (emit, s) => poll(read, 1, emit, s));
    await watch.next(4);
    watch.stop();
    assert.deepEqual(watch.states, [{ value: 1 }, { value: 2 }, { error: "gone" }, { value: 3 }]);
  });
});
