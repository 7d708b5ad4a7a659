// Fixtures of the health checker tests: a checker whose results are recorded and awaited, and
// a heartbeat server that counts the checks of each path and answers as its path says.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import {
  createHealthChecker,
  type HealthChecker,
  type HealthOptions,
} from "../../../lib/registry/health.ts";
import type { Status } from "../../../lib/registry/registration.ts";
import { createWaiters } from "../../support/wait.ts";

// Tests that mock the clock tick it by seconds at most, so a wait this long in mocked time
// never runs out: the test's own timeout is the deadline there.
const waitMs = 3_600_000;

/** A health checker and what it reported. */
export interface TestChecker {
  checker: HealthChecker;
  /** Every `onCheck`, in order. */
  results: { key: string; status: Status }[];
  expired: string[];
  lines: string[];
  /** The last status reported for `key`. */
  status(key: string): Status | undefined;
  /** Resolves once `onCheck` was called `count` times in all. */
  reported(count: number): Promise<void>;
  /** Resolves once `match()` holds, checked after every report. */
  until(match: () => boolean): Promise<void>;
}

/** Starts a checker with quick test defaults and `options`, closed after the test. */
export function startChecker(t: TestContext, options: Partial<HealthOptions> = {}): TestChecker {
  const waiters = createWaiters();
  const last = new Map<string, Status>();
  const recorded: TestChecker = {
    checker: createHealthChecker({
      intervalMs: 1_000,
      timeoutMs: 500,
      failures: 3,
      retryDelayMs: 100,
      deregisterAfterMs: 60_000,
      concurrency: 16,
      log: (line) => void recorded.lines.push(line),
      now: () => new Date(),
      onCheck: (key, status) => {
        recorded.results.push({ key, status });
        last.set(key, status);
        waiters.wake();
      },
      onExpire: (key) => {
        recorded.expired.push(key);
        waiters.wake();
      },
      ...options,
    }),
    results: [],
    expired: [],
    lines: [],
    status: (key) => last.get(key),
    reported: (count) => recorded.until(() => recorded.results.length >= count),
    until: async (match) => {
      await waiters.until(() => (match() ? true : undefined), waitMs,
        () => new Error(`checker: condition not met; ${recorded.results.length} results`));
    },
  };
  t.after(() => recorded.checker.close());
  return recorded;
}

/** A heartbeat server: `/ok/*` answers 200, `/fail/*` 500, `/hang/*` never. */
export interface HeartbeatServer {
  url: string;
  server: Server;
  /** Checks received, by path. */
  hits: Map<string, number>;
  /** Stops listening and closes every connection, as a killed process would. */
  kill(): Promise<void>;
}

/** Starts a heartbeat server on 127.0.0.1:0, closed after the test. */
export async function startHeartbeats(t: TestContext): Promise<HeartbeatServer> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? "";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path.startsWith("/hang/")) return;
    res.writeHead(path.startsWith("/fail/") ? 500 : 200, { "Content-Length": 0 }).end();
  });
  server.keepAliveTimeout = 600_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const kill = async () => {
    if (!server.listening) return;
    const closed = once(server, "close");
    server.close();
    server.closeAllConnections();
    await closed;
  };
  t.after(kill);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, hits,
    kill };
}
