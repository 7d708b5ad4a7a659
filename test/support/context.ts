// Test helper: the context the service runner would hand to an app's handler factory, made by
// hand so a handler can be tested alone on a real server.
import type { TestContext } from "node:test";
import { createProviders, type Providers } from "../../lib/registry/providers.ts";
import type { ServiceContext } from "../../lib/service/start.ts";
import { bearerCheck } from "../../lib/std/auth.ts";
import { createMetrics } from "../../lib/std/metrics.ts";

/** A hand-made service context and the lines logged through it. */
export interface HandContext {
  context: ServiceContext;
  lines: string[];
}

/**
 * Makes a `ServiceContext` with an empty URL, the given (default: empty) providers, a log kept
 * in `lines` and the shared `token` (default none); its signal aborts in `t.after`, as a
 * service's does when it shuts down.
 */
export function handContext(
  t: TestContext,
  providers: Providers = createProviders(),
  token?: string,
): HandContext {
  const lines: string[] = [];
  const controller = new AbortController();
  t.after(() => controller.abort());
  const context = {
    url: "",
    providers,
    log: (line: string) => void lines.push(line),
    signal: controller.signal,
    metrics: createMetrics(),
    authorize: bearerCheck(token, "test"),
    authHeaders: token ? { Authorization: `Bearer ${token}` } : {},
  };
  return { context, lines };
}
