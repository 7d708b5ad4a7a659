// The launcher behind `make run`: every service as its own process, in dependency order.
import { mkdir } from "node:fs/promises";
import { runCommand, UsageError } from "../../lib/std/command.ts";
import { withFileLock } from "../../lib/std/lock.ts";
import { join } from "node:path";
import { loopbackEtcd } from "../../lib/launcher/etcd.ts";
import { launch } from "../../lib/launcher/launch.ts";
import { systemServices } from "../../lib/launcher/services.ts";

const names = systemServices("").map((spec) => spec.name);

await runCommand(
  process,
  {
    command: "launcher",
    description:
      `Starts the whole system (${names.join(", ")}), each as its own process, waits\n` +
      "until each is registered, and stops them in reverse order on Ctrl-C, SIGTERM or SIGHUP.\n" +
      "The services stop too when the launcher dies for any other reason.",
    defaultPort: 3_000,
    portHelp: "the registry's port (with --ports fixed)",
    registryFlag: false,
    // Enter in the `make run` terminal must not stop the whole system.
    stopOnEnter: false,
    extra: {
      dir: {
        kind: "string",
        default: "run",
        value: "DIR",
        help: "folder for the log, the registry state and the grades",
      },
      ports: {
        kind: "string",
        default: "fixed",
        value: "fixed|any",
        help: "'fixed' = each service's default port, 'any' = free ports",
      },
      cluster: {
        kind: "integer",
        default: 0,
        min: 0,
        value: "N",
        help: "run the registry as N replicas on a 3-member etcd cluster (make run-cluster)",
      },
    },
  },
  async (flags, signal) => {
    if (flags.ports !== "fixed" && flags.ports !== "any") {
      throw new UsageError(`--ports: want fixed or any, got ${JSON.stringify(flags.ports)}`);
    }
    // One system per folder: a second launcher on the same --dir would share its files.
    await mkdir(flags.dir, { recursive: true });
    const etcd = flags.cluster > 0
      ? await loopbackEtcd(process.env, join(flags.dir, "etcd"), flags.ports === "any")
      : undefined;
    const cluster = etcd && {
      replicas: flags.cluster,
      etcd: etcd.members.map((member) => member.clientURL),
    };
    await withFileLock(flags.dir, () => launch({
      services: systemServices(flags.dir, cluster),
      ...(etcd ? { etcd } : {}),
      dir: flags.dir,
      host: flags.host,
      anyPorts: flags.ports === "any",
      registryPort: flags.port,
      token: flags.token,
      env: process.env,
      commandsDir: new URL("../", import.meta.url),
      out: process.stdout,
      signal,
    }));
  },
);
