import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  criticalState,
  decide,
  passingState,
  type Decision,
  type HealthState,
  type Outcome,
} from "../../../lib/registry/health-policy.ts";

const policy = { intervalMs: 3_000, failures: 3, retryDelayMs: 1_000, deregisterAfterMs: 60_000 };

const passing = (failures = 0, quickRetry = false): HealthState =>
  ({ status: "passing", failures, criticalSince: 0, quickRetry });
const critical = (since: number, failures = 3): HealthState =>
  ({ status: "critical", failures, criticalSince: since, quickRetry: false });

// [what, state before, outcome, now, due, decision]: the clock is whatever the row says.
const rows: [string, HealthState, Outcome, number, number, Decision][] = [
  ["a pass keeps it passing, next check an interval after this one was due",
    passing(), "pass", 10_050, 10_000, { state: passing(), event: "none", delayMs: 2_950 }],
  ["a pass clears earlier failures",
    passing(2), "pass", 10_000, 10_000, { state: passing(), event: "none", delayMs: 3_000 }],
  ["a check that ran a whole interval late is followed by one at once",
    passing(), "pass", 14_000, 10_000, { state: passing(), event: "none", delayMs: 0 }],
  ["a pass brings a critical entry back",
    critical(5_000, 7), "pass", 20_000, 20_000,
    { state: passing(), event: "recovered", delayMs: 3_000 }],
  ["a first failure is retried after the retry delay",
    passing(), "fail", 10_000, 10_000, { state: passing(1), event: "failed", delayMs: 1_000 }],
  ["the second failure is retried too",
    passing(1), "fail", 11_000, 11_000, { state: passing(2), event: "failed", delayMs: 1_000 }],
  ["the third failure in a row makes it critical, checked again an interval later",
    passing(2), "fail", 12_000, 12_000,
    { state: critical(12_000), event: "critical", delayMs: 3_000 }],
  ["a refused connection makes it critical at once",
    passing(), "refused", 10_000, 10_000,
    { state: critical(10_000), event: "critical", delayMs: 3_000 }],
  ["a reset connection is looked at again almost at once",
    passing(), "reset", 10_000, 10_000,
    { state: passing(1, true), event: "failed", delayMs: 20 }],
  ["a second reset in a row waits the retry delay",
    passing(1, true), "reset", 10_020, 10_020,
    { state: passing(2), event: "failed", delayMs: 1_000 }],
  ["a reset after a quick retry that failed otherwise is quick again",
    passing(1), "reset", 10_000, 10_000,
    { state: passing(2, true), event: "failed", delayMs: 20 }],
  ["a critical entry that fails stays critical, checked every interval",
    critical(10_000), "fail", 20_000, 20_000,
    { state: critical(10_000, 4), event: "none", delayMs: 3_000 }],
  ["the last check before expiry comes at the expiry, not an interval later",
    critical(10_000), "fail", 69_000, 69_000,
    { state: critical(10_000, 4), event: "none", delayMs: 1_000 }],
  ["critical for deregister-after: expired",
    critical(10_000), "refused", 70_000, 70_000,
    { state: critical(10_000, 4), event: "expired", delayMs: 0 }],
];

describe("health policy", () => {
  for (const [what, state, outcome, now, due, expected] of rows) {
    it(what, () => {
      assert.deepEqual(decide(policy, state, outcome, now, due), expected);
    });
  }

  it("expires at once an entry that turns critical with deregister-after 0", () => {
    const decision = decide({ ...policy, deregisterAfterMs: 0 }, passing(), "refused", 5, 5);
    assert.equal(decision.event, "expired");
    assert.equal(decision.state.status, "critical");
  });

  it("starts a new registration passing and a loaded critical one critical from now", () => {
    assert.deepEqual(passingState(), passing());
    assert.deepEqual(criticalState(policy, 42), critical(42));
  });

  it("walks the rule: interval, N failures → critical, deregister-after → expired", () => {
    // One entry whose heartbeat always fails, from its registration at 0.
    let state = passingState();
    let now = 0;
    const events: string[] = [];
    for (let step = 0; step < 100; step++) {
      const decision = decide(policy, state, "fail", now, now);
      events.push(decision.event);
      if (decision.event === "expired") break;
      state = decision.state;
      now += decision.delayMs;
    }
    // Two retries, critical at 2 s, then every 3 s until 62 s.
    assert.deepEqual(events.slice(0, 3), ["failed", "failed", "critical"]);
    assert.equal(events.at(-1), "expired");
    assert.equal(now, 2_000 + 60_000);
  });
});
