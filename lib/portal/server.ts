import { callProvider } from "../registry/call.ts";
import { getCluster, listServices } from "../registry/client.ts";
import { HttpError, type Handler } from "../std/http.ts";
import { createRouter } from "../std/router.ts";
import type { ServiceContext } from "../service/start.ts";
import { createGradingReader, createGradingRoutes } from "./grading.ts";
import { parseLogFilter } from "./logfilter.ts";
import { logsPage, readLatest } from "./logs.ts";
import { createLiveRoutes } from "./live.ts";
import { pageNumber, servicesPage } from "./services.ts";
import { crossSiteRefusal } from "./origin.ts";
import { abandoned, answerError, noContent, queryOf, redirect, sendPage } from "./respond.ts";
import { explainer, registryUnavailable, type Upstream } from "./upstream.ts";

/** Options of `createPortalHandler`. */
export interface PortalHandlerOptions {
  /** The registry whose view `/services` shows. */
  registryURL: string;
  /** Bearer token for the registry (docs/protocol.md#security), if it requires one. */
  token?: string;
  /** Bound on each call to another service. Default 3 s. */
  timeoutMs?: number;
  /** Largest accepted form body in bytes; larger is `413`. Default 16 KiB. */
  maxFormBytes?: number;
  /** Between two reads of the grading service while a students page is open. Default 2 s. */
  pollMs?: number;
  /** How long one blocking query to the registry may wait. Default 30 s. */
  waitSeconds?: number;
}

// A list of 10 000 registrations is about 3 MB of JSON; this leaves room for long URLs.
const maxListBytes = 32 * 1024 * 1024;

/**
 * The teacher portal (docs/protocol.md#teacher-portal): server-rendered pages over the grading
 * service, the log service and the registry. `/` redirects to `/students`; the add-grade form
 * answers `303` on success, a `400` page with the refilled form on invalid input, `404` for an
 * unknown student; an unreachable GradingService, LogService or registry is a `503` page saying so.
 *
 * Providers are called through `callProvider`, so a dead instance is dropped and another one
 * tried. Every call has a timeout and is abandoned when the browser goes away.
 */
export function createPortalHandler(
  context: ServiceContext,
  options: PortalHandlerOptions,
): Handler {
  const { registryURL, token, timeoutMs = 3_000, maxFormBytes = 16 * 1024 } = options;
  const { pollMs = 2_000, waitSeconds = 30 } = options;
  const { providers, log } = context;
  const upstream: Upstream = { registryURL, timeoutMs, ...(token === undefined ? {} : { token }) };
  const explain = explainer(upstream);
  const grading = createGradingReader(providers, upstream, explain);
  const live = { upstream, explain, pollMs, waitSeconds, maxListBytes };

  const router = createRouter(
    [
      { path: "/", methods: { GET: (_req, res) => redirect(res, 302, "/students") } },
      ...createGradingRoutes(context, grading, { upstream, explain, maxFormBytes }),
      {
        path: "/services",
        methods: {
          GET: async (req, res) => {
            const query = queryOf(req);
            const name = query.get("name") ?? undefined;
            let services;
            // A single registry has no replicas to show (it answers 404).
            const cluster = getCluster({ ...upstream, signal: abandoned(res) }).catch(() => []);
            try {
              services = await listServices({
                ...upstream,
                ...(name === undefined ? {} : { name }),
                signal: abandoned(res),
                maxResponseBytes: maxListBytes,
              });
            } catch (error) {
              throw registryUnavailable(upstream, error);
            }
            const page = pageNumber(query.get("page"));
            const replicas = await cluster;
            const view = {
              services, registryURL, page,
              ...(name === undefined ? {} : { name }),
              ...(replicas.length > 0 ? { replicas } : {}),
            };
            sendPage(res, 200, servicesPage(view));
          },
        },
      },
      {
        path: "/logs",
        methods: {
          GET: async (req, res) => {
            const { filter, errors } = parseLogFilter(queryOf(req));
            if (Object.keys(errors).length > 0) {
              sendPage(res, 400, logsPage({ filter, errors }));
              return;
            }
            const signal = abandoned(res);
            const read = { timeoutMs, signal, explain };
            const { url, tail } = await callProvider(providers, "LogService", async (url) => ({
              url,
              tail: await readLatest(url, filter, read),
            })).catch(explain("LogService", signal));
            sendPage(res, 200, logsPage({ tail, source: url, filter }));
          },
        },
      },
      ...createLiveRoutes(context, grading, live),
      // Browsers ask for it on every page; answering keeps 404s out of the log.
      { path: "/favicon.ico", methods: { GET: (_req, res) => noContent(res) } },
    ],
    { onError: (req, res, error) => answerError(req, res, error, log) },
  );
  return (req, res) => {
    const refusal = crossSiteRefusal(req.method ?? "GET", req.headers);
    if (refusal === undefined) return router(req, res);
    const message =
      `Refused ${refusal}: the portal accepts forms only from its own pages. ` +
      "Open the page in the portal and send the form from there.";
    answerError(req, res, new HttpError(403, message), log);
    return undefined;
  };
}
