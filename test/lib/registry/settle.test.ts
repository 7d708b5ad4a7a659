import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Patch, PatchEntry, Registration } from "../../../lib/registry/registration.ts";
import { settleInitial } from "../../../lib/registry/settle.ts";

const reg: Registration = {
  ServiceName: "Portal", ServiceURL: "http://p:1", RequiredServices: ["Log"],
  ServiceUpdateURL: "http://p:1/services", HeartbeatURL: "",
};
const log = (port: number): PatchEntry => ({ Name: "Log", URL: `http://l:${port}` });

/** Runs `settleInitial` with the tables the table holds on each look; returns what it sent. */
async function run(sent: PatchEntry[], looks: PatchEntry[][], options: {
  registration?: Registration; stale?: boolean;
} = {}): Promise<Patch[]> {
  const patches: Patch[] = [];
  let look = -1;
  await settleInitial(options.registration ?? reg, { Added: sent, Removed: [] }, {
    sync: async () => {
      look += 1;
      return options.stale ? "etcd is unavailable" : undefined;
    },
    providers: () => looks[Math.min(look, looks.length - 1)] ?? [],
    send: async (patch) => void patches.push(patch),
    stopped: () => false,
  });
  return patches;
}

describe("settling a registration's initial patch in a cluster", () => {
  it("sends nothing when the providers are still those it was told", async () => {
    assert.deepEqual(await run([log(1)], [[log(1)]]), []);
  });

  it("sends the difference when a change overtook the initial patch, then stops", async () => {
    assert.deepEqual(await run([log(1)], [[log(2)], [log(2)]]), [
      { Added: [log(2)], Removed: [log(1)] },
    ]);
  });

  it("looks again while changes keep coming, three times at most", async () => {
    const patches = await run([log(1)], [[log(2)], [log(3)], [log(4)], [log(5)]]);
    assert.equal(patches.length, 3);
    assert.deepEqual(patches[2], { Added: [log(4)], Removed: [log(3)] });
  });

  it("gives up when etcd cannot be read, and ignores registrants it cannot tell", async () => {
    assert.deepEqual(await run([log(1)], [[log(2)]], { stale: true }), []);
    const silent = { ...reg, ServiceUpdateURL: "" };
    assert.deepEqual(await run([log(1)], [[log(2)]], { registration: silent }), []);
  });
});
