import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, pathOf, sendError } from "./http.ts";
import { markRoute } from "./servermetrics.ts";

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

/** Options of `createRouter`; without either, errors go to the server (see `createRouter`). */
export interface RouterOptions {
  /** Answer errors here with `sendError`, reporting each one to `log`. */
  log?: (message: string) => void;
  /** Answer errors here with this function (the portal's HTML pages). */
  onError?: (req: IncomingMessage, res: ServerResponse, error: unknown) => void;
}

interface CompiledRoute {
  pattern: string;
  segments: string[];
  methods: Partial<Record<Method, RouteHandler>>;
  allow: string;
}

// The params of a route without `:name` segments: one shared, frozen, empty object.
const noParams: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Builds a handler that dispatches on path and method, as Go's `ServeMux` does.
 *
 * An unknown path is answered `404`, a known path with another method `405` with `Allow`.
 * What a route handler throws or rejects with — and the 404 and 405 — is answered through
 * `options.onError`, or `sendError` with `options.log`. With neither option the errors are
 * thrown (or the promise rejects) to the server that runs the router: `listen`, and so every
 * service started by `startService`, answers them with `sendError` and logs them, so an
 * unexpected error never goes unreported. The returned handler is synchronous when the route
 * handler is: it returns a promise only for a route handler that returned one.
 */
export function createRouter(
  routes: readonly Route[],
  options: RouterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void | Promise<void> {
  const compiled: CompiledRoute[] = routes.map((route) => {
    const names = Object.keys(route.methods);
    if (names.includes("GET")) names.push("HEAD");
    return {
      pattern: route.path,
      segments: split(route.path),
      methods: route.methods,
      allow: names.join(", "),
    };
  });
  // A path spelled exactly as a route without `:name` segments (`/log`) is found without
  // splitting it, unless an earlier route would match it first.
  const literal = new Map<string, CompiledRoute>();
  for (const [index, route] of compiled.entries()) {
    if (route.segments.some((segment) => segment.startsWith(":"))) continue;
    const earlier = compiled.slice(0, index).some((other) => match(other.segments, route.segments));
    if (!earlier) literal.set(`/${route.segments.join("/")}`, route);
  }
  const { log } = options;
  type OnError = RouterOptions["onError"];
  const onError: OnError = options.onError ??
    (log ? (_req, res, error) => sendError(res, error, log) : undefined);

  const dispatch = (
    route: CompiledRoute,
    params: Readonly<Record<string, string>>,
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): void | Promise<void> => {
    markRoute(req, route.pattern);
    const method = (req.method === "HEAD" ? "GET" : req.method) as Method;
    const handler = route.methods[method];
    if (!handler) {
      throw new HttpError(405, `method ${req.method ?? "?"} not allowed on ${path}`, {
        headers: { Allow: route.allow },
      });
    }
    const result = handler(req, res, params);
    // Only an asynchronous handler costs a promise hop, and only when errors are answered here.
    if (!result || !onError) return result;
    return result.then(undefined, (error: unknown) => onError(req, res, error));
  };

  return (req, res) => {
    try {
      const path = pathOf(req.url);
      const exact = literal.get(path);
      if (exact) return dispatch(exact, noParams, path, req, res);
      const segments = split(path);
      for (const route of compiled) {
        const params = match(route.segments, segments);
        if (params) return dispatch(route, params, path, req, res);
      }
      throw new HttpError(404, `no such path: ${path}`);
    } catch (error) {
      if (!onError) throw error;
      onError(req, res, error);
      return undefined;
    }
  };
}

function split(path: string): string[] {
  const segments: string[] = [];
  for (const segment of path.split("/")) if (segment !== "") segments.push(segment);
  return segments;
}

function match(pattern: string[], path: string[]): Readonly<Record<string, string>> | undefined {
  if (pattern.length !== path.length) return undefined;
  let params: Record<string, string> | undefined;
  for (let index = 0; index < pattern.length; index++) {
    const want = pattern[index] ?? "";
    const got = path[index] ?? "";
    if (want.startsWith(":")) {
      try {
        (params ??= {})[want.slice(1)] = decodeURIComponent(got);
      } catch {
        return undefined;
      }
    } else if (want !== got) {
      return undefined;
    }
  }
  return params ?? noParams;
}
