// The service registry: registration, discovery and health checks (docs/protocol.md#wire-protocol,
// docs/protocol.md#registry).
import { once } from "node:events";
import { startReplica } from "../../lib/registry/clusterserver.ts";
import { createRegistry } from "../../lib/registry/server.ts";
import { parseEndpoints } from "../../lib/etcd/client.ts";
import { describeError } from "../../lib/std/errors.ts";
import { streamLogger } from "../../lib/std/log.ts";
import { runCommand, UsageError } from "../../lib/std/command.ts";
import { withFileLock } from "../../lib/std/lock.ts";
import { listen } from "../../lib/std/listen.ts";
import { addProcessMetrics, createMetrics } from "../../lib/std/metrics.ts";

await runCommand(
  process,
  {
    command: "registryservice",
    description:
      "Keeps the registrations POSTed to /services, tells each service when the services it\n" +
      "requires come and go, and checks every registered service's heartbeat.",
    defaultPort: 3_000,
    registryFlag: false,
    extra: {
      state: {
        kind: "string",
        default: "registry.json",
        value: "FILE",
        help: "file the registrations are saved to; '' keeps them in memory only",
        excludes: "etcd",
      },
      etcd: {
        kind: "string",
        default: "",
        env: "REGISTRY_ETCD",
        value: "URL[,URL…]",
        help: "etcd client URLs, comma-separated: keep the registrations there and run as one " +
          "replica of a registry cluster (no state file)",
      },
      "etcd-prefix": {
        kind: "string",
        default: "/distributed/",
        value: "PREFIX",
        help: "key prefix of this registry cluster in etcd",
      },
      "election-ttl": {
        kind: "integer",
        default: 3,
        min: 1,
        value: "SECONDS",
        help: "seconds a dead leader may hold the lead before another replica takes over",
      },
      "heartbeat-interval": {
        kind: "integer",
        default: 3_000,
        min: 1,
        value: "MS",
        help: "milliseconds between two checks of a service",
      },
      "heartbeat-timeout": {
        kind: "integer",
        default: 1_000,
        min: 1,
        value: "MS",
        help: "milliseconds a check may take",
      },
      failures: {
        kind: "integer",
        default: 3,
        min: 1,
        help: "consecutive failed checks that make a service critical",
      },
      "deregister-after": {
        kind: "integer",
        default: 60_000,
        min: 0,
        value: "MS",
        help: "milliseconds a service may stay critical before it is deregistered",
      },
      "callback-hosts": {
        kind: "string",
        default: "same",
        value: "same|any",
        help: "hosts HeartbeatURL/ServiceUpdateURL may name: same (ServiceURL's host) or any",
      },
    },
  },
  async (flags, signal) => {
    const callbackHosts = flags["callback-hosts"];
    if (callbackHosts !== "same" && callbackHosts !== "any") {
      const got = JSON.stringify(callbackHosts);
      throw new UsageError(`--callback-hosts: want same or any, got ${got}`);
    }
    const log = streamLogger("Registry");
    const options = {
      heartbeatIntervalMs: flags["heartbeat-interval"],
      heartbeatTimeoutMs: flags["heartbeat-timeout"],
      failures: flags.failures,
      deregisterAfterMs: flags["deregister-after"],
      callbackHosts,
      ...(flags.token === undefined ? {} : { token: flags.token }),
      log,
    } as const;
    const metrics = createMetrics();
    addProcessMetrics(metrics);
    const { host, port } = flags;
    if (flags.etcd !== "") {
      let endpoints: string[];
      try {
        endpoints = parseEndpoints(flags.etcd);
      } catch (error) {
        throw new UsageError(`--etcd: ${describeError(error)}`);
      }
      const etcd = {
        endpoints,
        prefix: flags["etcd-prefix"],
        electionTTLSeconds: flags["election-ttl"],
      };
      const replica = await startReplica({ ...options, metrics }, etcd,
        { host, port, log, metrics }, signal);
      if (!replica) return; // stopped while waiting for etcd
      process.stdout.write(`Registry listening on ${replica.url} (etcd ${endpoints.join(",")})\n`);
      if (!signal.aborted) await once(signal, "abort");
      log("stopping");
      await replica.close();
      return;
    }
    const serve = async () => {
      const registry = await createRegistry({ ...options, statePath: flags.state, metrics });
      try {
        const server = await listen(registry.handler, { host, port, log, metrics });
        process.stdout.write(`Registry listening on ${server.url}\n`);
        if (!signal.aborted) await once(signal, "abort");
        log("stopping");
        await server.close();
      } finally {
        await registry.close();
      }
    };
    // The lock comes first: a second registry on the same state must not touch it (its
    // journal and snapshots included). A memory-only registry owns no file.
    await (flags.state === "" ? serve() : withFileLock(flags.state, serve));
  },
);
