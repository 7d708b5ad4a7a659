// The registry's behaviour suites again, against the other store: every registry they start
// is a replica of a registry cluster on a real 3-member etcd cluster (README "Running a
// registry cluster"), which must keep every promise the single registry keeps.
import { describe, it } from "node:test";
import { etcdForSuite, skipWithoutEtcd } from "../../support/etcd.ts";
import { runBehaviourOnEtcd } from "./helpers.ts";

const skip = skipWithoutEtcd();
if (skip) {
  describe("the registry's behaviour with its state in etcd", { skip }, () => {
    it("runs the registry suites against etcd", () => {});
  });
} else {
  const etcd = etcdForSuite();
  runBehaviourOnEtcd(() => etcd.cluster.endpoints);
  await import("./server.test.ts");
  await import("./server.initial.test.ts");
  await import("./server.blocking.test.ts");
  await import("./server.callbacks.test.ts");
  await import("./health.test.ts");
  await import("./metrics.test.ts");
}
