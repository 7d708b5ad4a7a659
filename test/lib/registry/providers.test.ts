import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createProviders, NoProviderError } from "../../../lib/registry/providers.ts";

const log1 = { Name: "LogService", URL: "http://localhost:4000" };
const log2 = { Name: "LogService", URL: "http://localhost:4001" };
const grading = { Name: "GradingService", URL: "http://localhost:6000" };

describe("providers", () => {
  it("applies a patch with set semantics: twice changes nothing", () => {
    const providers = createProviders();
    let changes = 0;
    providers.onChange(() => changes++);
    const patch = { Added: [log1, log2, log1], Removed: [] };
    providers.apply(patch);
    providers.apply(patch);
    assert.deepEqual(providers.list("LogService"), [log1.URL, log2.URL]);
    assert.equal(changes, 1);
  });

  it("removes entries, and removing an unknown one changes nothing", () => {
    const providers = createProviders();
    providers.apply({ Added: [log1, log2, grading], Removed: [] });
    let changes = 0;
    providers.onChange(() => changes++);
    providers.apply({ Added: [], Removed: [log1] });
    providers.apply({ Added: [], Removed: [log1, { Name: "Nobody", URL: "http://x:1" }] });
    assert.deepEqual(providers.list("LogService"), [log2.URL]);
    assert.deepEqual(providers.list("GradingService"), [grading.URL]);
    assert.equal(changes, 1);
  });

  it("applies Added before Removed within one patch, as Go does", () => {
    const providers = createProviders();
    providers.apply({ Added: [log1], Removed: [log1] });
    assert.deepEqual(providers.list("LogService"), []);
  });

  it("replaces every set with the registration answer", () => {
    const providers = createProviders();
    providers.apply({ Added: [log1, grading], Removed: [] });
    let changes = 0;
    providers.onChange(() => changes++);
    providers.replace({ Added: [log2], Removed: [] });
    assert.deepEqual(providers.list("LogService"), [log2.URL]);
    assert.deepEqual(providers.list("GradingService"), []);
    assert.equal(changes, 1);
    providers.replace({ Added: [log2], Removed: [] });
    assert.equal(changes, 1, "replacing with the same content is no change");
  });

  it("gets a random provider using the injected randomness", () => {
    let next = 0;
    const providers = createProviders({ random: () => next });
    providers.apply({ Added: [log1, log2], Removed: [] });
    next = 0;
    assert.equal(providers.get("LogService"), log1.URL);
    next = 0.99;
    assert.equal(providers.get("LogService"), log2.URL);
    next = 1; // out of contract, still in range
    assert.equal(providers.get("LogService"), log2.URL);
  });

  it("spreads gets over every provider with Math.random", () => {
    const providers = createProviders();
    providers.apply({ Added: [log1, log2], Removed: [] });
    const seen = new Set<string>();
    for (let i = 0; i < 200 && seen.size < 2; i++) seen.add(providers.get("LogService"));
    assert.deepEqual([...seen].sort(), [log1.URL, log2.URL]);
  });

  it("throws a typed NoProviderError when there is none", () => {
    const providers = createProviders();
    providers.apply({ Added: [log1], Removed: [log1] });
    assert.throws(
      () => providers.get("LogService"),
      (error: unknown) =>
        error instanceof NoProviderError &&
        error.serviceName === "LogService" &&
        error.message ===
          "LogService is unavailable: no instance is registered and passing its health checks",
    );
  });

  it("removes one provider locally", () => {
    const providers = createProviders();
    providers.apply({ Added: [log1, log2], Removed: [] });
    let changes = 0;
    providers.onChange(() => changes++);
    providers.remove("LogService", log1.URL);
    providers.remove("LogService", log1.URL);
    assert.deepEqual(providers.list("LogService"), [log2.URL]);
    assert.equal(changes, 1);
  });

  it("lets listeners unsubscribe and survives a throwing listener", () => {
    const providers = createProviders();
    const calls: string[] = [];
    const off = providers.onChange(() => calls.push("a"));
    providers.onChange(() => {
      throw new Error("listener bug");
    });
    providers.onChange(() => calls.push("c"));
    providers.apply({ Added: [log1], Removed: [] });
    off();
    providers.apply({ Added: [log2], Removed: [] });
    assert.deepEqual(calls, ["a", "c", "c"]);
    assert.deepEqual(providers.list("LogService"), [log1.URL, log2.URL]);
  });

  it("keeps separate tables for separate services", () => {
    const a = createProviders();
    const b = createProviders();
    a.apply({ Added: [log1], Removed: [] });
    assert.deepEqual(b.list("LogService"), []);
  });
});
