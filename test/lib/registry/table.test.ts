import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createTable, rowOf, type Delivery } from "../../../lib/registry/table.ts";
import type { ServiceStatus, Status } from "../../../lib/registry/registration.ts";

const url = "http://127.0.0.1:5000";
const row = (name: string, status: Status, lastCheck: string | null = null): ServiceStatus =>
  rowOf({ ServiceName: name, ServiceURL: url, RequiredServices: [], ServiceUpdateURL: "",
    HeartbeatURL: `${url}/heartbeat` }, status, lastCheck);
// A dependent of both names, so every announcement is delivered, to it.
const dependentURL = "http://127.0.0.1:6000/services";
const dependent: ServiceStatus = { ServiceName: "D", ServiceURL: "http://127.0.0.1:6000",
  RequiredServices: ["A", "B"], ServiceUpdateURL: dependentURL, HeartbeatURL: "",
  Status: "passing", LastCheck: null };
const added = (name: string): Delivery =>
  ({ patch: { Added: [{ Name: name, URL: url }], Removed: [] }, to: [dependentURL] });
const removed = (name: string): Delivery =>
  ({ patch: { Added: [], Removed: [{ Name: name, URL: url }] }, to: [dependentURL] });

// [what happened, previous row, next row, what dependents are told]
const rows: [string, ServiceStatus | undefined, ServiceStatus | undefined, Delivery[]][] = [
  ["registered", undefined, row("A", "passing"), [added("A")]],
  ["re-registered while passing", row("A", "passing"), row("A", "passing"), []],
  ["re-registered while critical", row("A", "critical"), row("A", "passing"), [added("A")]],
  ["re-registered under another name", row("A", "passing"), row("B", "passing"),
    [removed("A"), added("B")]],
  ["re-registered under another name while critical", row("A", "critical"),
    row("B", "passing"), [added("B")]],
  ["checked, still passing", row("A", "passing"), row("A", "passing", "2026-01-01T00:00:00Z"),
    []],
  ["turned critical", row("A", "passing"), row("A", "critical"), [removed("A")]],
  ["checked, still critical", row("A", "critical"), row("A", "critical"), []],
  ["passing again", row("A", "critical"), row("A", "passing"), [added("A")]],
  ["deregistered", row("A", "passing"), undefined, [removed("A")]],
  ["dropped while critical (told again)", row("A", "critical"), undefined, [removed("A")]],
  ["loaded critical", undefined, row("A", "critical"), []],
  ["removed when unknown", undefined, undefined, []],
];

describe("registry table announcements", () => {
  for (const [what, previous, next, expected] of rows) {
    it(`${what}: ${expected.length === 0 ? "nothing" : "tells the dependents"}`, () => {
      const table = createTable();
      table.apply({ put: dependent });
      if (previous) table.apply({ put: previous });
      assert.deepEqual(table.apply(next ? { put: next } : { remove: url }), expected);
    });
  }
});

describe("registry table apply", () => {
  const dependent = (name: string, port: number, required: string[]): ServiceStatus =>
    rowOf({ ServiceName: name, ServiceURL: `http://127.0.0.1:${port}`, RequiredServices: required,
      ServiceUpdateURL: `http://127.0.0.1:${port}/services`, HeartbeatURL: "" }, "passing", null);

  it("addresses each announcement to the dependents registered now", () => {
    const table = createTable();
    table.apply({ put: dependent("D1", 6001, ["A"]) });
    table.apply({ put: dependent("D2", 6002, ["A", "B"]) });
    // Requires A but cannot be told anything: no ServiceUpdateURL.
    table.apply({ put: { ...dependent("Mute", 6003, ["A"]), ServiceUpdateURL: "" } });
    assert.deepEqual(table.apply({ put: row("A", "passing") }), [{
      patch: { Added: [{ Name: "A", URL: url }], Removed: [] },
      to: ["http://127.0.0.1:6001/services", "http://127.0.0.1:6002/services"],
    }]);
    assert.deepEqual(table.apply({ put: row("B", "passing") }).map((d) => d.to), [
      ["http://127.0.0.1:6001/services", "http://127.0.0.1:6002/services"],
      ["http://127.0.0.1:6002/services"],
    ], "renamed: the Removed goes to A's dependents, the Added to B's");
  });

  it("keeps the indexes and the JSON rows right through every kind of change", () => {
    const table = createTable();
    const json = (name?: string) =>
      (JSON.parse(table.json(name)) as { Services: ServiceStatus[] }).Services;
    table.apply({ put: row("A", "passing") });
    assert.deepEqual(json("A"), [row("A", "passing")]);
    assert.deepEqual(table.providers("A"), [{ Name: "A", URL: url }]);
    table.apply({ put: row("A", "critical", "2026-01-01T00:00:00.000Z") });
    assert.deepEqual(json("A"), [row("A", "critical", "2026-01-01T00:00:00.000Z")]);
    assert.deepEqual(table.providers("A"), [], "critical: not a provider");
    table.apply({ put: row("B", "passing") });
    assert.deepEqual(json("A"), []);
    assert.deepEqual(json("B"), [row("B", "passing")]);
    assert.deepEqual([...table.rows()], [row("B", "passing")]);
    assert.equal(table.size, 1);
    table.apply({ remove: url });
    assert.equal(table.get(url), undefined);
    assert.deepEqual(json(), []);
    assert.deepEqual(table.providers("B"), []);
    assert.deepEqual(table.apply({ remove: url }), [], "removing twice changes nothing");
  });
});

describe("registry table snapshot", () => {
  it("holds every row as it was at the call, however many and whatever changes meanwhile",
    async () => {
      const table = createTable();
      const urls = Array.from({ length: 1_234 }, (_, i) => `http://h:${i + 1}`);
      for (const url of urls) table.apply({ put: { ...row("A", "passing"), ServiceURL: url } });
      table.json(); // caches every row's JSON: the snapshot must not serve a stale one
      table.apply({ put: { ...row("A", "critical"), ServiceURL: urls[0] ?? "" } });
      const expected = table.json();
      const taken = table.snapshot();
      table.apply({ remove: urls[1] ?? "" });
      table.apply({ put: { ...row("A", "passing"), ServiceURL: urls[0] ?? "" } });
      assert.equal(await taken, expected);
      assert.equal((JSON.parse(await table.snapshot()) as { Services: unknown[] }).Services.length,
        urls.length - 1);
    });
});
