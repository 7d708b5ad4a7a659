import { join } from "node:path";
import type { ServiceSpec } from "./launch.ts";

/**
 * The services `make run` starts, in start order (each one's providers before it), with
 * their runtime files in `dir`. The first one must be the registry. Adding a service to the
 * system is one entry here; the launcher's help, its summary and its tests follow this list.
 */
export function systemServices(dir: string): ServiceSpec[] {
  return [
    {
      name: "registry",
      command: "registryservice",
      port: 3_000,
      args: ["--state", join(dir, "registry.json")],
    },
    {
      name: "log",
      command: "logservice",
      port: 4_000,
      serviceName: "LogService",
      args: ["--file", join(dir, "distributed.log")],
    },
    {
      name: "grading",
      command: "gradingservice",
      port: 6_000,
      serviceName: "GradingService",
      args: ["--data", join(dir, "grades.json")],
    },
    {
      name: "portal",
      command: "teacherportal",
      port: 5_000,
      serviceName: "TeacherPortal",
      args: [],
    },
    { name: "hello", command: "helloservice", port: 7_000, serviceName: "HelloService", args: [] },
  ];
}
