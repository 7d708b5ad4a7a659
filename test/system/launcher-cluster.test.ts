// `make run-cluster`: the launcher starts a 3-member etcd cluster, three registry replicas and
// the services pointed at all three; the portal shows the replicas and the leader; a stop
// stops everything, etcd included.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getCluster, listServices } from "../../lib/registry/client.ts";
import { request } from "../../lib/std/request.ts";
import { skipWithoutEtcd } from "../support/etcd.ts";
import { nothingListens, startLauncher } from "../support/launcher.ts";
import { runCommand } from "../support/process.ts";
import { tempDir } from "../support/temp.ts";

describe("launcher --cluster 3 (make run-cluster)", { skip: skipWithoutEtcd() }, () => {
  it("runs the system on three registry replicas and stops it all, etcd too", async (t) => {
    const dir = await tempDir(t, "launcher-cluster");
    const { launcher, lines, portalURL, rows, url } =
      await startLauncher(t, dir, ["--cluster", "3"]);
    const replicas = ["registry1", "registry2", "registry3"].map(url);

    // Every replica lists every service, and names the same leader.
    for (const replica of replicas) {
      const names = (await listServices({ registryURL: replica })).map((row) => row.ServiceName);
      assert.deepEqual(names.sort(),
        ["GradingService", "HelloService", "LogService", "TeacherPortal"], replica);
    }
    const cluster = await getCluster({ registryURL: replicas.join(",") });
    assert.deepEqual(cluster.map((replica) => replica.URL).sort(), [...replicas].sort());
    const leader = cluster.find((replica) => replica.Leader)?.URL;
    assert.ok(leader, "one replica leads");

    // The portal's services page shows the replicas and which one leads.
    const page = (await request(`${portalURL}/services`)).text();
    for (const replica of replicas) assert.ok(page.includes(replica), `${replica} shown`);
    assert.match(page, new RegExp(`${leader}</code> <strong>leader</strong>`));

    await launcher.stop(30_000);
    // The etcd members are rows of the summary too.
    assert.ok(["etcd1", "etcd2", "etcd3"].every((name) => rows.has(name)), lines().join("\n"));
    await nothingListens([...rows.values()].map((row) => row.url));
  });
});

describe("launcher --cluster without etcd", () => {
  it("says how to install etcd, in one line, and starts nothing", async (t) => {
    const dir = await tempDir(t, "launcher-cluster");
    const outcome = await runCommand("launcher", ["--cluster", "3", "--dir", dir],
      { env: { ETCD_BIN: `${dir}/no-etcd-here` } });
    assert.equal(outcome.code, 1);
    assert.equal(outcome.stderr, "launcher: a registry cluster needs etcd, which is not " +
      "installed; install it with: sudo apt-get install -y etcd-server\n");
  });
});
