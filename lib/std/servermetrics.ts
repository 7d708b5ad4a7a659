import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Server as NetServer } from "node:net";
import { latencyBuckets, metricsContentType, type Metrics } from "./metrics.ts";

const routeKey = Symbol("route");

interface Routed {
  [routeKey]?: string;
}

/**
 * Records that `req` is answered by the route `pattern` (`/students/:id`), so its metrics are
 * counted under the pattern rather than the path (whose ids would make a series each). The
 * router calls it; a handler outside a router may too.
 */
export function markRoute(req: IncomingMessage, pattern: string): void {
  (req as IncomingMessage & Routed)[routeKey] = pattern;
}

/** The per-request figures of one HTTP server, and its `GET /metrics`. */
export interface ServedMetrics {
  /**
   * Answers `GET /metrics` (returns true), or starts timing `req` and counts it when its
   * answer is finished (returns false).
   */
  begin(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * The counting of answers a server gives outside `node:http` (a fast path) on `route` and
   * `method`: `count(status, started)` with `started` from `performance.now()`.
   */
  record(route: string, method: string): (status: number, started: number) => void;
}

/**
 * Registers the HTTP figures of `server` in `metrics` — requests by route, method and status,
 * their latency, and the open connections (those `accepting` accepted, when another server
 * stands in front) — and returns the hook `listen` calls per request. Requests no route
 * claimed count under the route `unmatched`.
 */
export function serveMetrics(server: Server, metrics: Metrics,
  accepting: NetServer = server): ServedMetrics {
  const requests = metrics.counter("http_requests_total",
    "HTTP requests answered, by route pattern, method and status.");
  const latency = metrics.histogram("http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, in seconds.", latencyBuckets);
  // One bound series per route, method and status seen: no label text built per request.
  const bound = new Map<string, { inc(): void; observe(value: number): void }>();
  const seriesOf = (route: string, method: string, status: number) => {
    const key = `${route} ${method} ${status}`;
    let found = bound.get(key);
    if (!found) {
      const counted = requests.with({ route, method, status: String(status) });
      const timed = latency.with({ route, method });
      found = { inc: () => counted.inc(), observe: (value) => timed.observe(value) };
      bound.set(key, found);
    }
    return found;
  };
  let open = 0;
  accepting.on("connection", (socket) => {
    open += 1;
    socket.once("close", () => (open -= 1));
  });
  metrics.collect("http_open_connections", "Client connections open now.", "gauge", () => open);

  return {
    begin(req, res) {
      const started = performance.now();
      res.once("finish", () => {
        const route = (req as IncomingMessage & Routed)[routeKey] ?? "unmatched";
        const series = seriesOf(route, req.method ?? "?", res.statusCode);
        series.inc();
        series.observe((performance.now() - started) / 1_000);
      });
      if (req.url !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) return false;
      markRoute(req, "/metrics");
      const body = metrics.render();
      res.writeHead(200, {
        "Content-Type": metricsContentType,
        "Content-Length": Buffer.byteLength(body),
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return true;
    },
    record(route, method) {
      // Bound on first use of each status: nothing looked up per answer.
      const statuses = new Map<number, { inc(): void; observe(value: number): void }>();
      return (status, started) => {
        let series = statuses.get(status);
        if (!series) statuses.set(status, (series = seriesOf(route, method, status)));
        series.inc();
        series.observe((performance.now() - started) / 1_000);
      };
    },
  };
}
