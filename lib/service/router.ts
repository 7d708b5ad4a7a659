import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, sendError } from "./http.ts";

/** HTTP methods a route may answer. `HEAD` is answered by the `GET` handler. */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A route handler; `params` holds the `:name` segments of the matched pattern, decoded. */
export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: Readonly<Record<string, string>>,
) => void | Promise<void>;

/** One path and the methods it answers. */
export interface Route {
  /** A path such as `/students/:id/grades`; `:name` matches one non-empty segment. */
  path: string;
  methods: Partial<Record<Method, RouteHandler>>;
}

/** Options of `createRouter`. */
export interface RouterOptions {
  /** Where unexpected (500) errors are reported. */
  log?: (message: string) => void;
  /** Answers errors; defaults to the JSON `{"error": …}` of `sendError`. */
  onError?: (req: IncomingMessage, res: ServerResponse, error: unknown) => void;
}

interface CompiledRoute {
  segments: string[];
  methods: Partial<Record<Method, RouteHandler>>;
  allow: string;
}

/**
 * Builds a handler that dispatches on path and method, as Go's `ServeMux` does.
 *
 * An unknown path is answered `404`, a known path with another method `405` with `Allow`.
 * Whatever a route handler throws is answered through `onError` (by default `sendError`).
 */
export function createRouter(
  routes: readonly Route[],
  options: RouterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const compiled: CompiledRoute[] = routes.map((route) => {
    const names = Object.keys(route.methods);
    if (names.includes("GET")) names.push("HEAD");
    return { segments: split(route.path), methods: route.methods, allow: names.join(", ") };
  });
  const onError =
    options.onError ?? ((_req, res, error: unknown) => sendError(res, error, options.log));

  return async (req, res) => {
    try {
      const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
      const segments = split(path);
      for (const route of compiled) {
        const params = match(route.segments, segments);
        if (!params) continue;
        const method = (req.method === "HEAD" ? "GET" : req.method) as Method;
        const handler = route.methods[method];
        if (!handler) {
          throw new HttpError(405, `method ${req.method ?? "?"} not allowed on ${path}`, {
            headers: { Allow: route.allow },
          });
        }
        await handler(req, res, params);
        return;
      }
      throw new HttpError(404, `no such path: ${path}`);
    } catch (error) {
      onError(req, res, error);
    }
  };
}

function split(path: string): string[] {
  return path.split("/").filter((segment) => segment !== "");
}

function match(pattern: string[], path: string[]): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, want] of pattern.entries()) {
    const got = path[index] ?? "";
    if (want.startsWith(":")) {
      try {
        params[want.slice(1)] = decodeURIComponent(got);
      } catch {
        return undefined;
      }
    } else if (want !== got) {
      return undefined;
    }
  }
  return params;
}
