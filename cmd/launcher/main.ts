// The launcher behind `make run`: every service as its own process, in dependency order.
import { mkdir } from "node:fs/promises";
import { runCommand, UsageError } from "../../lib/std/command.ts";
import { withFileLock } from "../../lib/std/lock.ts";
import { launch, type ServiceSpec } from "../../lib/launcher/launch.ts";

const services = (dir: string): ServiceSpec[] => [
  {
    name: "registry",
    command: "registryservice",
    port: 3_000,
    args: ["--state", `${dir}/registry.json`],
  },
  {
    name: "log",
    command: "logservice",
    port: 4_000,
    serviceName: "LogService",
    args: ["--file", `${dir}/distributed.log`],
  },
  {
    name: "grading",
    command: "gradingservice",
    port: 6_000,
    serviceName: "GradingService",
    args: ["--data", `${dir}/grades.json`],
  },
  { name: "portal", command: "teacherportal", port: 5_000, serviceName: "TeacherPortal", args: [] },
  { name: "hello", command: "helloservice", port: 7_000, serviceName: "HelloService", args: [] },
];

await runCommand(
  process,
  {
    command: "launcher",
    description:
      "Starts the whole system (registry, log, grading, portal, hello), each as its own\n" +
      "process, waits until each is registered, and stops them in reverse order on Ctrl-C or\n" +
      "SIGTERM.",
    defaultPort: 3_000,
    registryFlag: false,
    extra: {
      dir: { kind: "string", default: "run", help: "folder for the log, state and grades" },
      ports: { kind: "string", default: "fixed", help: "'fixed' = default ports, 'any' = free" },
    },
  },
  async (flags, signal) => {
    // A terminal or pipe that goes away (`make run | tee`, then Ctrl-C) must not kill the
    // launcher with EPIPE halfway through stopping the services: its output just stops.
    for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
    if (flags.ports !== "fixed" && flags.ports !== "any") {
      throw new UsageError(`--ports: want fixed or any, got ${JSON.stringify(flags.ports)}`);
    }
    // One system per folder: a second launcher on the same --dir would share its files.
    await mkdir(flags.dir, { recursive: true });
    await withFileLock(flags.dir, () => launch({
      services: services(flags.dir),
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
