import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../std/log.ts";
import type { Providers } from "../registry/providers.ts";
import { parsePatch, type Patch } from "../registry/registration.ts";
import { markRoute } from "../std/servermetrics.ts";
import { bearerCheck } from "../std/auth.ts";
import { HttpError, pathOf, readJSON, type Handler } from "../std/http.ts";
import { printable } from "../std/printable.ts";

/** Options of `createServiceEndpoints`. */
export interface ServiceEndpointsOptions {
  /** The table patches are applied to. */
  providers: Providers;
  /** Where applied and rejected patches are reported. */
  log: Logger;
  /** When set, patches must carry `Authorization: Bearer <token>` (docs/protocol.md#security). */
  token?: string;
  /** Called on every heartbeat request (the anti-entropy clock). */
  onHeartbeat?: () => void;
  /** Called with every patch after it has been applied. */
  onPatch?: (patch: Patch) => void;
  /** Answers every other request. */
  app: Handler;
}

/**
 * Builds the endpoints every registered service has (docs/protocol.md#wire-protocol), in front of
 * the app's own handler: `GET /heartbeat` → `200`; `POST /services` + Patch → `200` after
 * applying it with set semantics, `400` for a bad patch, `401` for a missing or wrong token
 * when one is required. Other methods on `/services` go to the app (the portal serves
 * `GET /services`).
 *
 * Errors are thrown, for `listen` to answer with `sendError`.
 */
export function createServiceEndpoints(options: ServiceEndpointsOptions): Handler {
  const { providers, log, token, onHeartbeat, onPatch, app } = options;
  const authorize = bearerCheck(token, "update");

  const update = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Rejections are thrown for `listen` to answer and log once, like every client mistake.
    authorize(req);
    const patch = parsePatch(await readJSON(req));
    providers.apply(patch);
    onPatch?.(patch);
    // The names and URLs came from other services through the registry: escaped for the log.
    log(`update: ${printable(describePatch(patch))}`);
    res.writeHead(200, { "Content-Length": 0 });
    res.end();
  };

  // Not `async`: the app's answer (a promise or none) is passed straight through, so a
  // synchronous app costs no promise here.
  return (req, res) => {
    const path = pathOf(req.url);
    if (path === "/heartbeat") {
      markRoute(req, path);
      if (req.method !== "GET" && req.method !== "HEAD") {
        throw new HttpError(405, `method ${req.method ?? "?"} not allowed on /heartbeat`, {
          headers: { Allow: "GET, HEAD" },
        });
      }
      onHeartbeat?.();
      res.writeHead(200, { "Content-Length": 0 });
      res.end();
      return undefined;
    }
    if (path === "/services" && req.method === "POST") {
      markRoute(req, path);
      return update(req, res);
    }
    return app(req, res);
  };
}

function describePatch(patch: Patch): string {
  const entries = (sign: string, list: Patch["Added"]) =>
    list.map((entry) => `${sign}${entry.Name} ${entry.URL}`);
  const parts = [...entries("+", patch.Added), ...entries("-", patch.Removed)];
  return parts.length === 0 ? "empty patch" : parts.join(", ");
}
