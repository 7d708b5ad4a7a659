import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { createFastConnections, type FastConnections, type FastRoute } from "./fastpath.ts";
import { HttpError, sendError, type Handler } from "./http.ts";
import type { Metrics } from "./metrics.ts";
import { serveMetrics, type ServedMetrics } from "./servermetrics.ts";

/** Options of `listen`. */
export interface ListenOptions {
  /** Interface to bind and host name to advertise; default `localhost`. */
  host?: string;
  /** Port to bind; `0` picks a free one and the URL shows the real port. Default `0`. */
  port?: number;
  /**
   * How long an idle keep-alive connection stays open. Longer than Node's 5 s default so
   * the registry's heartbeat connection survives between checks and its close means a crash.
   */
  keepAliveTimeoutMs?: number;
  /** Time a client has to send a request's headers. Default 10 s. */
  headersTimeoutMs?: number;
  /** Time a client has to send a whole request, body included. Default 30 s. */
  requestTimeoutMs?: number;
  /** Where unexpected handler errors are reported. */
  log?: (message: string) => void;
  /**
   * The service's metrics: when given, the server counts and times every request in them and
   * answers `GET /metrics` with them (the Prometheus text format) before `handler` sees it.
   */
  metrics?: Metrics;
  /**
   * One route answered on raw sockets before `node:http` parses anything (see
   * `createFastConnections`): same answers, same metrics, less work per request. Connections
   * with anything else on them are handed to the HTTP server.
   */
  fastPath?: FastRoute;
}

/** A listening server and the way to stop it. */
export interface Listening {
  /** The HTTP server; with a `fastPath` a plain TCP server in front of it listens instead. */
  server: Server;
  /** The advertised base URL, `http://HOST:PORT`, with the real port. */
  url: string;
  /**
   * Stops gracefully: stop accepting, let in-flight requests finish for up to `graceMs`,
   * then close every remaining socket. Requests that arrive meanwhile get `503`.
   * Resolves when the server is closed; calling it again returns the same promise.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts an HTTP server for `handler` on host:port and resolves once it listens.
 *
 * Rejects when the address cannot be bound (e.g. `EADDRINUSE`). Errors a handler throws or
 * rejects with are answered by `sendError`, so a handler bug never crashes the process. Every
 * answer carries `X-Content-Type-Options: nosniff`. A client that sends its headers or its
 * whole request too slowly is answered `408` and cut off (see the timeouts in the options).
 */
export async function listen(handler: Handler, options: ListenOptions = {}): Promise<Listening> {
  const { host = "localhost", port = 0, keepAliveTimeoutMs = 65_000, log, fastPath } = options;
  const { headersTimeoutMs = 10_000, requestTimeoutMs = 30_000 } = options;
  let closing: Promise<void> | undefined;
  let served: ServedMetrics | undefined;

  const server = createServer({
    keepAliveTimeout: keepAliveTimeoutMs,
    // Slow senders must not hold a connection; the bounds are checked often (Node's default
    // check runs only every 30 s, so a 1-byte/s sender would keep it for up to 30 s more).
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, Math.max(10, headersTimeoutMs / 4)),
  }, (req, res) => {
    // No answer is ever sniffed into another type (text/plain that echoes input as HTML).
    res.setHeader("X-Content-Type-Options", "nosniff");
    if (closing) {
      res.setHeader("Connection", "close");
      sendError(res, new HttpError(503, "service is shutting down"));
      return;
    }
    if (served?.begin(req, res)) return;
    try {
      const result = handler(req, res);
      if (result) result.catch((error: unknown) => sendError(res, error, log));
    } catch (error) {
      sendError(res, error, log);
    }
  });

  // With a fast path, a plain TCP server accepts and the HTTP server only gets the
  // connections handed to it ("connection" events emitted by hand, as node:http allows).
  let fast: FastConnections | undefined;
  const front = fastPath ? createNetServer({ noDelay: true }) : server;
  if (options.metrics) served = serveMetrics(server, options.metrics, front);
  if (fastPath) {
    const record = served?.record(fastPath.path, fastPath.method);
    const connections = createFastConnections(fastPath, {
      handOff: (socket) => server.emit("connection", socket),
      keepAliveTimeoutMs,
      headersTimeoutMs,
      ...(record ? { record } : {}),
    });
    front.on("connection", connections.accept);
    fast = connections;
  }

  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(port, host, () => {
      front.off("error", reject);
      resolve();
    });
  });
  // node:http starts checking its headers and request timeouts when it hears "listening".
  if (front !== server) server.emit("listening");
  const address = front.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;

  const close = (graceMs = 5_000): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      front.close(() => resolve());
      // Node ≥ 19 closes idle keep-alive sockets in close(); busy ones finish their request.
      if (fast) server.close();
      server.closeIdleConnections();
      fast?.closeIdle();
      const timer = setTimeout(() => {
        server.closeAllConnections();
        fast?.closeAll();
      }, graceMs);
      timer.unref();
      front.once("close", () => clearTimeout(timer));
    });
    return closing;
  };
  return { server, url, close };
}
