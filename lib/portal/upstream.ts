import { listServices, RegistryError, registryURLs } from "../registry/client.ts";
import { NoProviderError } from "../registry/providers.ts";
import type { ServiceStatus } from "../registry/registration.ts";
import { HttpError } from "../std/http.ts";
import { describeError } from "../std/errors.ts";
import { RequestError, type HttpResponse } from "../std/request.ts";

/** How the portal reaches the registry, and the bound on each of its calls. */
export interface Upstream {
  registryURL: string;
  token?: string;
  /** Bound on every call to another service, named in "did not answer within 3 s". */
  timeoutMs: number;
}

/**
 * Turns a failed call to another service into the `503` page a person can act on: which
 * service, at which address, and why in plain words. When the portal knows no instance at all,
 * it asks the registry why (none registered, or registered but failing its health checks, or
 * the registry itself is not reachable). Other errors are returned unchanged.
 */
async function unavailable(
  service: string,
  error: unknown,
  upstream: Upstream,
  signal: AbortSignal,
): Promise<unknown> {
  if (error instanceof HttpError) return error;
  const { timeoutMs } = upstream;
  if (error instanceof NoProviderError && error.cause instanceof RequestError) {
    return page(`${service} at ${origin(error.cause.url)} ${failed(error.cause, timeoutMs)}.`);
  }
  if (error instanceof NoProviderError) return page(await whyNone(service, upstream, signal));
  if (error instanceof RequestError && error.code !== "EABORTED") {
    return page(`${service} at ${origin(error.url)} ${failed(error, timeoutMs)}.`);
  }
  return error;
}

/** Rethrows a failed call to a service as the page that explains it (see `unavailable`). */
export type Explain = (service: string, signal: AbortSignal) => (error: unknown) => Promise<never>;

/** Makes the `Explain` of a portal that reaches the registry through `upstream`. */
export function explainer(upstream: Upstream): Explain {
  return (service, signal) => async (error) => {
    throw await unavailable(service, error, upstream, signal);
  };
}

/** The `503` page for a registry that could not be asked (`listServices` failed). */
export function registryUnavailable(upstream: Upstream, error: unknown): HttpError {
  const problem = registryProblem(upstream, error);
  return new HttpError(503, `${problem.charAt(0).toUpperCase()}${problem.slice(1)}.`, {
    cause: error,
  });
}

async function whyNone(
  service: string,
  upstream: Upstream,
  signal: AbortSignal,
): Promise<string> {
  let instances: ServiceStatus[];
  try {
    instances = await listServices({ ...upstream, name: service, signal });
  } catch (error) {
    return `No ${service} is known to the portal, and ${registryProblem(upstream, error)}.`;
  }
  if (instances.length === 0) {
    const at = registryURLs(upstream.registryURL).join(", ");
    return `No ${service} is registered with the registry at ${at}.`;
  }
  if (instances.every((instance) => instance.Status === "critical")) {
    const count = instances.length === 1 ? "" : ` (all ${instances.length} instances)`;
    return `${service} is registered but failing its health checks${count}. ` +
      "The portal will use it again as soon as it passes.";
  }
  // The registry still sees one passing: it has just stopped (the portal found it refusing
  // before the registry's next check) or just started (its patch is on its way).
  return `${service} is registered and passed its last health check, but the portal cannot ` +
    "reach it right now: it may have just stopped or just started. Try again in a moment.";
}

function page(message: string): HttpError {
  return new HttpError(503, message);
}

/** "the registry at … is not reachable: …" or "… answered 503: closing", without a period. */
function registryProblem(upstream: Upstream, error: unknown): string {
  const urls = registryURLs(upstream.registryURL);
  const at =
    urls.length > 1
      ? `none of the registry's replicas (${urls.join(", ")}) answered; the last`
      : `the registry at ${urls[0] ?? upstream.registryURL}`;
  const request = findCause(error, RequestError);
  if (request !== undefined) return `${at} ${failed(request, upstream.timeoutMs)}`;
  if (error instanceof RegistryError && error.status !== undefined && error.status !== 200) {
    // "registry: list services at …: status 503: closing" → "answered 503: closing"
    return `${at} answered ${error.status}${error.message.replace(/^[^]*: status \d+/, "")}`;
  }
  return `${at} sent an answer the portal cannot read (${describeError(error)})`;
}

/** What happened to a call that got no answer, after "<service> at <url> ". */
function failed(error: RequestError, timeoutMs: number): string {
  if (error.code === "ETIMEDOUT") return `did not answer within ${seconds(timeoutMs)}`;
  if (error.code === "ETOOLARGE") return "sent an answer larger than the portal accepts";
  return `is not reachable: ${reason(error)}`;
}

/** Why a connection failed, in words a person can act on. */
function reason(error: RequestError): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return "nothing is listening there (connection refused)";
    case "ECONNRESET":
    case "EPIPE":
      return "it closed the connection without answering";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "its host name does not resolve";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "its host cannot be reached from here";
    default:
      return `the connection failed (${error.code})`;
  }
}

function seconds(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000} s` : `${ms} ms`;
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function findCause<T>(error: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof type) return current;
    current = current.cause;
  }
  return undefined;
}

/** The page for an answer of another service that is not what the portal asked for. */
export function badStatus(service: string, status: number, body: string): HttpError {
  const detail = errorText(body);
  return new HttpError(
    status >= 500 ? 503 : 502,
    `${service} is unavailable: it answered ${status}${detail ? ` (${detail})` : ""}.`,
  );
}

/** Parses another service's JSON answer; anything unexpected is that service's fault (`502`). */
export function parseAnswer<T>(response: HttpResponse, parse: (value: unknown) => T): T {
  if (response.status !== 200) {
    throw badStatus("GradingService", response.status, response.text());
  }
  try {
    return parse(response.json());
  } catch (error) {
    throw new HttpError(502, `GradingService sent a malformed answer: ${describeError(error)}`, {
      cause: error,
    });
  }
}

/** The `error` of a JSON error body, or "" when there is none. */
export function errorText(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === "object" && body !== null && "error" in body) {
      const message = (body as { error: unknown }).error;
      if (typeof message === "string") return message.slice(0, 300);
    }
  } catch {
    // Not JSON: no detail to show.
  }
  return "";
}
