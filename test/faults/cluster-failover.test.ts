// A registry cluster losing its leader: kill -9 of the leading replica while services register
// and crash. Another replica takes over, checks everything at once, and every dependent ends
// with exactly the right providers: nothing acknowledged is lost, no patch goes missing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { register, listServices } from "../../lib/registry/client.ts";
import {
  parseRegistration,
  type Patch,
  type Registration,
} from "../../lib/registry/registration.ts";
import { startRegistryCluster } from "../support/cluster.ts";
import { skipWithoutEtcd } from "../support/etcd.ts";
import { startProvider, type ProviderProcess } from "../support/process.ts";
import { eventually } from "../support/wait.ts";
import { startFake } from "../lib/registry/helpers.ts";

/** The provider URLs a dependent holds after applying `patches` in order (set semantics). */
function providerSet(patches: readonly Patch[]): string[] {
  const urls = new Set<string>();
  for (const patch of patches) {
    for (const entry of patch.Added) urls.add(entry.URL);
    for (const entry of patch.Removed) urls.delete(entry.URL);
  }
  return [...urls].sort();
}

const providerRegistration = (provider: ProviderProcess): Registration => ({
  ServiceName: "Provider", ServiceURL: provider.url, RequiredServices: [],
  ServiceUpdateURL: "", HeartbeatURL: `${provider.url}/heartbeat`,
});

describe("registry cluster: the leader dies", { skip: skipWithoutEtcd() }, () => {
  it("hands over, keeps every acknowledged registration and tells dependents every change",
    async (t) => {
      const cluster = await startRegistryCluster(t, {
        args: ["--heartbeat-interval", "300", "--heartbeat-timeout", "200", "--failures", "2"],
      });
      const urls = cluster.replicas.map((replica) => replica.url);
      let turn = 0;
      // Each call starts at another replica; the client moves on past a dead one.
      const nextRegistry = () => [...urls.slice(turn % 3), ...urls.slice(0, turn++ % 3)].join(",");

      const dependent = await startFake(t);
      const own = parseRegistration(dependent.registration("Dependent", ["Provider"]));
      await register(own, { registryURL: nextRegistry() });
      const providers = await Promise.all(Array.from({ length: 5 }, () => startProvider(t)));
      const [p1, p2, p3, p4, p5] = providers as [ProviderProcess, ProviderProcess,
        ProviderProcess, ProviderProcess, ProviderProcess];
      for (const provider of [p1, p2, p3]) {
        await register(providerRegistration(provider), { registryURL: nextRegistry() });
      }
      const holds = (want: ProviderProcess[]) => eventually(() => {
        const expected = want.map((provider) => provider.url).sort();
        const have = providerSet(dependent.patches);
        return JSON.stringify(have) === JSON.stringify(expected) ? have : undefined;
      }, 20_000, `the dependent holding ${want.map((provider) => provider.url)}; it has ` +
        `${JSON.stringify(providerSet(dependent.patches))}`);
      await holds([p1, p2, p3]);

      const old = await cluster.leader();
      await old.kill();
      // While nobody leads: a registration is still committed, and a provider crashes.
      await register(providerRegistration(p4), { registryURL: nextRegistry() });
      p1.child.kill("SIGKILL");
      const successor = await cluster.leader();
      assert.notEqual(successor.url, old.url);

      // After the hand-over: another crash and another registration.
      p2.child.kill("SIGKILL");
      await register(providerRegistration(p5), { registryURL: nextRegistry() });
      await holds([p3, p4, p5]);

      // Every replica lists every acknowledged registration, the crashed ones critical.
      for (const replica of cluster.replicas.filter((candidate) => candidate.alive())) {
        const rows = await listServices({ registryURL: replica.url, name: "Provider" });
        const status = Object.fromEntries(rows.map((row) => [row.ServiceURL, row.Status]));
        assert.deepEqual(status, {
          [p1.url]: "critical", [p2.url]: "critical", [p3.url]: "passing",
          [p4.url]: "passing", [p5.url]: "passing",
        }, `as ${replica.url} lists them`);
      }

      // The old leader comes back as a follower; the leadership stays where it is.
      await old.restart();
      assert.equal((await cluster.leader()).url, successor.url);
    });
});
