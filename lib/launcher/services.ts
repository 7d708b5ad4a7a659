import { join } from "node:path";
import type { ServiceSpec } from "./launch.ts";

/** A registry cluster instead of one registry: replicas keeping their state in etcd. */
export interface RegistryCluster {
  replicas: number;
  /** The etcd members' client URLs. */
  etcd: readonly string[];
}

/**
 * The services `make run` starts, in start order (each one's providers before it), with
 * their runtime files in `dir`. The first one must be the registry — or, for a registry
 * `cluster`, its replicas. Adding a service to the system is one entry here; the launcher's
 * help, its summary and its tests follow this list.
 */
export function systemServices(dir: string, cluster?: RegistryCluster): ServiceSpec[] {
  const registries: ServiceSpec[] = cluster
    ? Array.from({ length: cluster.replicas }, (_, i) => ({
      name: `registry${i + 1}`,
      command: "registryservice",
      port: 3_000 + i,
      args: ["--etcd", cluster.etcd.join(",")],
    }))
    : [{
      name: "registry",
      command: "registryservice",
      port: 3_000,
      args: ["--state", join(dir, "registry.json")],
    }];
  return [
    ...registries,
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
