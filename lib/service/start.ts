import type { IncomingMessage } from "node:http";
import { createRemoteLogger, type RemoteLogger, type RemoteLoggerOptions } from "../log/client.ts";
import { streamLogger, type Logger } from "../std/log.ts";
import { deregister } from "../registry/client.ts";
import { createProviders, type Providers } from "../registry/providers.ts";
import { HttpError, type Handler } from "../std/http.ts";
import { describeError } from "../std/errors.ts";
import { bearerCheck } from "../std/auth.ts";
import type { FastRoute } from "../std/fastpath.ts";
import { listen, type Listening } from "../std/listen.ts";
import { addProcessMetrics, createMetrics, type Metrics } from "../std/metrics.ts";
import type { CommonFlags } from "../std/command.ts";
import { createRegistrar, type Registrar } from "./registrar.ts";
import { createServiceEndpoints } from "./endpoints.ts";

/** What a service's handler factory gets from the runner. */
export interface ServiceContext {
  /** The advertised base URL, `http://HOST:PORT`, with the real port. */
  url: string;
  /** The service's providers, kept current by registry patches. */
  providers: Providers;
  /** The service's logger: the remote log service when it requires `LogService`. */
  log: Logger;
  /** Aborts when the service starts shutting down. */
  signal: AbortSignal;
  /**
   * The service's metrics, answered at `GET /metrics`: the runner counts requests and the
   * process figures; a service registers its own counters here.
   */
  metrics: Metrics;
  /**
   * Throws `HttpError(401)` unless `req` carries the shared token (`--token`); without one it
   * lets everything through. Every mutating endpoint of a service calls it.
   */
  authorize: (req: IncomingMessage) => void;
  /** Headers that carry the shared token on calls to other services (`{}` without one). */
  authHeaders: Readonly<Record<string, string>>;
}

/** Options of `startService`. */
export interface ServiceOptions {
  /** The ServiceName it registers as, e.g. `LogService`. */
  name: string;
  /** Interface to bind and host to advertise. Default `localhost`. */
  host?: string;
  /** Port to bind; `0` (the default) picks a free one. */
  port?: number;
  /** Base URL of the registry, e.g. `http://localhost:3000`. */
  registryURL: string;
  /** ServiceNames whose providers it needs; `LogService` also routes `context.log` there. */
  requiredServices?: string[];
  /**
   * Shared bearer token: sent to the registry and with the remote log, required on incoming
   * patches and, through `context.authorize`, on the service's own mutating endpoints.
   */
  token?: string;
  /**
   * One route answered on raw sockets in front of the HTTP server (the log service's
   * `POST /log`; see `listen`).
   */
  fastPath?: FastRoute;
  /** The service's metrics, when the caller registered some before starting; default new. */
  metrics?: Metrics;
  /** Builds the app handler; the runner answers GET /heartbeat and POST /services itself. */
  handler: (context: ServiceContext) => Handler;
  /** Aborting it shuts the service down gracefully; `done` resolves when that is over. */
  signal: AbortSignal;
  /** Lifecycle lines (registered, registration failed, deregistered). Default stderr. */
  log?: Logger;
  /** How long in-flight requests may take to finish at shutdown. Default 5 s. */
  graceMs?: number;
  /** Bound on the `DELETE` at shutdown. Default 2 s. */
  deregisterTimeoutMs?: number;
  /** Bound on each registration attempt. Default 5 s. */
  registerTimeoutMs?: number;
  /** First registration retry delay; it doubles per failure up to `retryMaxMs`. Default 200. */
  retryMinMs?: number;
  /** Longest registration retry delay. Default 5 s. */
  retryMaxMs?: number;
  /**
   * Register again when no heartbeat arrived for this long: the registry lost us, e.g. it
   * restarted without its state. By default 3 × the registry's heartbeat interval, learnt from
   * the gaps between its heartbeats (10 s until three have arrived); `0` turns it off.
   */
  antiEntropyMs?: number;
  /** Bound on flushing the remote log at shutdown. Default 2 s. */
  flushTimeoutMs?: number;
  /** Tuning of the remote logger (tests make it fast). */
  remoteLog?: Omit<RemoteLoggerOptions, "serviceName" | "providers">;
}

/** A running service. */
export interface ServiceHandle {
  url: string;
  providers: Providers;
  log: Logger;
  metrics: Metrics;
  /** Resolves at the first successful registration; rejects if it stops before one. */
  registered: Promise<void>;
  /** Resolves after the full graceful shutdown, remote-log flush included. Never rejects. */
  done: Promise<void>;
}

/**
 * Starts a service (docs/protocol.md#the-service-runner): listens on host:port, answers `GET
 * /heartbeat` and `POST /services` (patches) in front of the app handler, registers with the
 * registry, and resolves once it listens. Registration runs in the background: while the registry
 * is unreachable the service keeps serving and retries with capped exponential backoff, logging
 * each failure; when no heartbeat arrives for `antiEntropyMs` it registers again.
 *
 * When `signal` aborts: stop timers → `DELETE` itself from the registry (bounded; a failure is
 * logged, not fatal) → stop accepting, drain in-flight requests for `graceMs`, close the
 * remaining sockets → flush and close the remote logger → `done` resolves.
 *
 * Rejects when `signal` has already aborted, the address cannot be bound, or the handler
 * factory throws. All state lives in the call, so several services can run in one process.
 */
export async function startService(options: ServiceOptions): Promise<ServiceHandle> {
  const {
    name,
    host = "localhost",
    port = 0,
    registryURL,
    token,
    signal,
    graceMs = 5_000,
    deregisterTimeoutMs = 2_000,
    registerTimeoutMs = 5_000,
    retryMinMs = 200,
    retryMaxMs = 5_000,
    flushTimeoutMs = 2_000,
  } = options;
  signal.throwIfAborted();
  const lifecycle = options.log ?? streamLogger(name);
  const requiredServices = [...new Set(options.requiredServices ?? [])];
  const providers = createProviders();
  const metrics = options.metrics ?? createMetrics();
  addProcessMetrics(metrics);
  // The URL is known only once we listen, and the app and the registrar need it: until both
  // exist (a few lines below, before any request is read) requests are answered 503.
  let handler: Handler = () => {
    throw new HttpError(503, "service is starting");
  };

  let log: Logger = lifecycle;
  let listening: Listening;
  try {
    // Unexpected handler errors belong with the app's own lines (the remote log, if any).
    listening = await listen((req, res) => handler(req, res), {
      host,
      port,
      metrics,
      log: (line) => log(line),
      ...(options.fastPath ? { fastPath: options.fastPath } : {}),
    });
  } catch (error) {
    throw new Error(`service: ${name}: listen on ${host}:${port}: ${describeError(error)}`, {
      cause: error,
    });
  }
  const { url } = listening;

  let remote: RemoteLogger | undefined;
  let app: Handler;
  try {
    if (requiredServices.includes("LogService")) {
      remote = createRemoteLogger({
        ...options.remoteLog,
        ...(token === undefined ? {} : { token }),
        serviceName: name,
        providers,
      });
      log = remote.log;
    }
    app = options.handler({
      url,
      providers,
      log,
      signal,
      metrics,
      authorize: bearerCheck(token, name),
      authHeaders: token ? { Authorization: `Bearer ${token}` } : {},
    });
  } catch (error) {
    await listening.close(0);
    await remote?.close(AbortSignal.timeout(flushTimeoutMs)).catch(() => undefined);
    throw error;
  }

  const client = { registryURL, ...(token === undefined ? {} : { token }) };
  const registrar: Registrar = createRegistrar({
    ...client,
    registration: {
      ServiceName: name,
      ServiceURL: url,
      RequiredServices: requiredServices,
      ServiceUpdateURL: `${url}/services`,
      HeartbeatURL: `${url}/heartbeat`,
    },
    providers,
    log: lifecycle,
    registerTimeoutMs,
    retryMinMs,
    retryMaxMs,
    ...(options.antiEntropyMs === undefined ? {} : { antiEntropyMs: options.antiEntropyMs }),
  });
  handler = createServiceEndpoints({
    providers,
    log: lifecycle,
    ...(token === undefined ? {} : { token }),
    onPatch: (patch) => registrar.patched(patch),
    onHeartbeat: () => registrar.heartbeat(),
    app,
  });

  const shutdown = async (): Promise<void> => {
    // Deregister first, while still serving: dependents get Removed before we stop answering.
    if (await registrar.stop()) {
      try {
        await deregister(url, { ...client, timeoutMs: deregisterTimeoutMs });
        lifecycle(`deregistered from ${registryURL}`);
      } catch (error) {
        lifecycle(`deregistration failed: ${message(error)}`);
      }
    }
    await listening.close(graceMs);
    if (remote) {
      try {
        await remote.close(AbortSignal.timeout(flushTimeoutMs));
      } catch (error) {
        lifecycle(`remote log: flush at shutdown failed: ${message(error)}`);
      }
    }
  };

  const done = new Promise<void>((resolve) => {
    const run = () => {
      shutdown().then(resolve, (error: unknown) => {
        lifecycle(`shutdown: ${message(error)}`);
        resolve();
      });
    };
    if (signal.aborted) run();
    else signal.addEventListener("abort", run, { once: true });
  });
  if (!signal.aborted) registrar.start();
  return { url, providers, log, metrics, registered: registrar.registered, done };
}

/** The message of an error whose message already tells the whole story (registry errors). */
function message(error: unknown): string {
  return error instanceof Error ? error.message : describeError(error);
}

/** The `startService` options that come straight from the common flags. */
export function serviceOptions(flags: CommonFlags): {
  host: string;
  port: number;
  registryURL: string;
  token?: string;
} {
  const { host, port, registry, token } = flags;
  return { host, port, registryURL: registry, ...(token === undefined ? {} : { token }) };
}
