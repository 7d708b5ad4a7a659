// Test helper: the portal under test — within the whole system in one process (a real
// registry, log service, grading service and portal, each started by startService on
// 127.0.0.1:0, all in a temp dir), or alone with hand-made providers.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { createGradesHandler } from "../../../lib/grades/server.ts";
import { openGradeStore, type GradeStore } from "../../../lib/grades/store.ts";
import { createLogServer } from "../../../lib/log/server.ts";
import { createPortalHandler, type PortalHandlerOptions } from "../../../lib/portal/server.ts";
import type { Providers } from "../../../lib/registry/providers.ts";
import { createRegistry } from "../../../lib/registry/server.ts";
import { listen } from "../../../lib/std/listen.ts";
import type { RequestOptions } from "../../../lib/std/request.ts";
import { startService, type ServiceHandle } from "../../../lib/service/start.ts";
import { handContext } from "../../support/context.ts";

/** A form POST of `fields`, as a browser sends it. */
export const form = (fields: Record<string, string>): RequestOptions => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

/** Starts a portal alone on 127.0.0.1:0 with `providers` and a hand-made context. */
export async function startPortal(
  t: TestContext,
  providers: Providers,
  options: PortalHandlerOptions,
): Promise<{ url: string; lines: string[] }> {
  const { context, lines } = handContext(t, providers);
  const server = await listen(createPortalHandler(context, { timeoutMs: 1_000, ...options }), {
    host: "127.0.0.1",
  });
  t.after(() => server.close(0));
  return { url: server.url, lines };
}

/** A running service and the way to stop just it. */
export interface Running {
  handle: ServiceHandle;
  stop(): Promise<void>;
}

/** The in-process system. */
export interface System {
  dir: string;
  registryURL: string;
  logFile: string;
  store: GradeStore;
  log: Running;
  grading: Running;
  portal: Running;
  /** Lines the services printed about their lifecycle (kept out of the test output). */
  lifecycle: string[];
  /** The log file's text. */
  logText(): Promise<string>;
}

/** Resolves once `ready(providers)` holds, re-checking on every change; rejects after `ms`. */
export async function until(
  providers: Providers,
  ready: (providers: Providers) => boolean,
  ms = 5_000,
): Promise<void> {
  if (ready(providers)) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`until: condition not met within ${ms} ms`));
    }, ms);
    const unsubscribe = providers.onChange(() => {
      if (!ready(providers)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
  });
}

/**
 * Starts registry → log → grading → portal in this process and waits until the portal knows
 * a GradingService and a LogService provider. Everything is stopped and removed by `t.after`.
 */
export async function startSystem(t: TestContext): Promise<System> {
  const dir = await mkdtemp(join(tmpdir(), "portal-system-"));
  const lifecycle: string[] = [];
  const quiet = (line: string) => void lifecycle.push(line);
  const cleanups: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  const registry = await createRegistry({ log: quiet, heartbeatIntervalMs: 1_000 });
  const registryServer = await listen(registry.handler, { host: "127.0.0.1", log: quiet });
  cleanups.push(() => registry.close(), () => registryServer.close(0));
  const registryURL = registryServer.url;

  const start = async (
    name: string,
    requiredServices: string[],
    handler: Parameters<typeof startService>[0]["handler"],
  ): Promise<Running> => {
    const controller = new AbortController();
    const handle = await startService({
      name,
      host: "127.0.0.1",
      registryURL,
      requiredServices,
      handler,
      signal: controller.signal,
      log: quiet,
      graceMs: 500,
      remoteLog: { batchDelayMs: 1, retryDelayMs: 50, echo: quiet },
    });
    const stop = async () => {
      controller.abort();
      await handle.done;
    };
    cleanups.push(stop);
    await handle.registered;
    return { handle, stop };
  };

  const logFile = join(dir, "distributed.log");
  const logServer = await createLogServer({ file: logFile, log: quiet });
  cleanups.push(() => logServer.close());
  const log = await start("LogService", [], () => logServer.handler);

  const store = await openGradeStore({ file: join(dir, "grades.json") });
  cleanups.push(() => store.close());
  const grading = await start("GradingService", ["LogService"], (context) =>
    createGradesHandler(context, { store }),
  );
  const portal = await start("TeacherPortal", ["GradingService", "LogService"], (context) =>
    // A generous bound on calls between services: a busy machine must not make a page a 503.
    createPortalHandler(context, { registryURL, timeoutMs: 10_000, pollMs: 100, waitSeconds: 5 }),
  );
  await until(
    portal.handle.providers,
    (p) => p.list("GradingService").length > 0 && p.list("LogService").length > 0,
  );
  await until(grading.handle.providers, (p) => p.list("LogService").length > 0);
  return {
    dir,
    registryURL,
    logFile,
    store,
    log,
    grading,
    portal,
    lifecycle,
    logText: () => readFile(logFile, "utf8"),
  };
}
