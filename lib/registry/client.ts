import { describeError } from "../std/errors.ts";
import { request, RequestError, type HttpResponse } from "../std/request.ts";
import {
  parsePatch,
  parseReplicaList,
  parseServiceList,
  type ReplicaInfo,
  type Patch,
  type Registration,
  type ServiceStatus,
} from "./registration.ts";

/** Where the registry is and how to talk to it. */
export interface RegistryClientOptions {
  /**
   * Base URL of the registry, e.g. `http://localhost:3000` (`/services` is appended), or the
   * URLs of several replicas of a registry cluster separated by commas: each request goes to
   * the first that answers, moving on after a refused connection, a timeout or a 5xx.
   */
  registryURL: string;
  /** Told which replica answered (the first of the list unless it failed). */
  onReplica?: (registryURL: string) => void;
  /** Shared bearer token of docs/protocol.md#security, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Bound on the whole request. Default 5 s. */
  timeoutMs?: number;
  /** Aborting it abandons the request (the error's cause is the `EABORTED` request error). */
  signal?: AbortSignal;
  /** Largest answer read (a long list of services is large). Default 1 MiB. */
  maxResponseBytes?: number;
}

/**
 * A registry request that failed. The message names the operation, the registry URL and —
 * when the registry answered — the status and its error text:
 * `registry: register "LogService" at http://localhost:3000: status 503: closing`.
 */
export class RegistryError extends Error {
  override name = "RegistryError";
  /** The HTTP status the registry answered, or `undefined` when it gave no answer. */
  readonly status: number | undefined;

  constructor(message: string, status: number | undefined, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.status = status;
  }
}

/**
 * Registers `reg` with the registry (`POST /services`) and resolves with the initial patch:
 * the passing providers of its RequiredServices, which replace the caller's provider sets.
 *
 * Resolves with `undefined` when the registry answered `200` without a body: the Go original
 * delivers the initial patch only to the ServiceUpdateURL. Rejects with `RegistryError` on a
 * non-2xx status, a malformed answer, a connection error, the timeout or an abort.
 */
export async function register(
  reg: Registration,
  options: RegistryClientOptions,
): Promise<Patch | undefined> {
  const what = `register ${JSON.stringify(reg.ServiceName)}`;
  const response = await send(what, options, "", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    // Exactly the docs/protocol.md#wire-protocol shape: all five fields, lists always arrays.
    body: JSON.stringify({
      ServiceName: reg.ServiceName,
      ServiceURL: reg.ServiceURL,
      RequiredServices: [...reg.RequiredServices],
      ServiceUpdateURL: reg.ServiceUpdateURL,
      HeartbeatURL: reg.HeartbeatURL,
    }),
  });
  if (response.body.toString("utf8").trim() === "") return undefined;
  return parseAnswer(what, options, response, parsePatch);
}

/**
 * Removes the registration of `serviceURL` (`DELETE /services`, the URL as `text/plain`, as Go
 * services send it). Rejects with `RegistryError` — status `404` when the registry does not
 * know the URL — or on a connection error, the timeout or an abort.
 */
export async function deregister(
  serviceURL: string,
  options: RegistryClientOptions,
): Promise<void> {
  await send(`deregister ${serviceURL}`, options, "", {
    method: "DELETE",
    headers: { "Content-Type": "text/plain; charset=utf-8" },
    body: serviceURL,
  });
}

/**
 * Lists the registry's registrations with their health (`GET /services`), only those named
 * `name` when given. Rejects with `RegistryError` like `register`.
 */
export async function listServices(
  options: RegistryClientOptions & { name?: string },
): Promise<ServiceStatus[]> {
  const query = options.name === undefined ? "" : `?name=${encodeURIComponent(options.name)}`;
  const what =
    options.name === undefined ? "list services" : `list ${JSON.stringify(options.name)}`;
  const response = await send(what, options, query, { method: "GET", headers: {} });
  return parseAnswer(what, options, response, parseServiceList);
}

/**
 * The replicas of a registry cluster and which one leads (`GET /cluster`). Rejects with
 * `RegistryError` like `register` — status `404` from a single registry, which has no cluster.
 */
export async function getCluster(options: RegistryClientOptions): Promise<ReplicaInfo[]> {
  const response = await send("list replicas", options, "", { method: "GET", headers: {} },
    "/cluster");
  return parseAnswer("list replicas", options, response, parseReplicaList);
}

interface Outgoing {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** The replica URLs of a `registryURL` (one, or several separated by commas), in order. */
export function registryURLs(registryURL: string): string[] {
  const urls = registryURL.split(",").map((url) => url.trim().replace(/\/+$/u, ""));
  return urls.filter((url) => url !== "");
}

function base(options: RegistryClientOptions): string {
  return registryURLs(options.registryURL).join(",");
}

/**
 * Sends one request to `<registry>/services<query>` at each replica in turn until one gives an
 * answer that is not a 5xx; resolves only for a 2xx answer. A refused connection, a timeout or
 * a 5xx (a replica without its store) moves on; any other answer is the cluster's word.
 */
async function send(
  what: string,
  options: RegistryClientOptions,
  query: string,
  outgoing: Outgoing,
  path = "/services",
): Promise<HttpResponse> {
  const urls = registryURLs(options.registryURL);
  let last: unknown;
  for (const url of urls.length === 0 ? [""] : urls) {
    try {
      const response = await sendOnce(what, { ...options, registryURL: url }, query, outgoing,
        path);
      options.onReplica?.(url);
      return response;
    } catch (error) {
      last = error;
      const retry = error instanceof RegistryError &&
        (error.status === undefined || error.status >= 500) && !options.signal?.aborted;
      if (!retry) throw error;
    }
  }
  if (urls.length <= 1 || !(last instanceof RegistryError)) throw last;
  throw new RegistryError(`registry: ${what}: no replica of ${urls.join(", ")} answered; ` +
    `the last: ${last.message}`, last.status, { cause: last });
}

/** Sends one request to one replica; resolves only for a 2xx answer. */
async function sendOnce(
  what: string,
  options: RegistryClientOptions,
  query: string,
  outgoing: Outgoing,
  path: string,
): Promise<HttpResponse> {
  const prefix = `registry: ${what} at ${base(options)}`;
  const headers = { ...outgoing.headers };
  if (options.token !== undefined && options.token !== "") {
    headers["Authorization"] = `Bearer ${options.token}`;
  }
  let response: HttpResponse;
  try {
    response = await request(`${base(options)}${path}${query}`, {
      method: outgoing.method,
      headers,
      ...(outgoing.body === undefined ? {} : { body: outgoing.body }),
      timeoutMs: options.timeoutMs ?? 5_000,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.maxResponseBytes ? { maxResponseBytes: options.maxResponseBytes } : {}),
    });
  } catch (error) {
    throw new RegistryError(`${prefix}: ${failure(error)}`, undefined, { cause: error });
  }
  if (response.status < 200 || response.status > 299) {
    const detail = errorText(response);
    throw new RegistryError(
      `${prefix}: status ${response.status}${detail === "" ? "" : `: ${detail}`}`,
      response.status,
    );
  }
  return response;
}

function parseAnswer<T>(
  what: string,
  options: RegistryClientOptions,
  response: HttpResponse,
  parse: (value: unknown) => T,
): T {
  try {
    return parse(response.json());
  } catch (error) {
    throw new RegistryError(
      `registry: ${what} at ${base(options)}: bad answer: ${describeError(error)}`,
      response.status,
      { cause: error },
    );
  }
}

/** Why no answer came, without repeating the URL the message already names. */
function failure(error: unknown): string {
  if (!(error instanceof RequestError)) return describeError(error);
  if (error.cause !== undefined) return describeError(error.cause);
  return error.message.replace(`: ${error.url}`, "");
}

/** The registry's `{"error": …}` text, or the start of whatever else it sent, on one line. */
function errorText(response: HttpResponse): string {
  const text = response.text();
  let message = text;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && "error" in value) {
      const error: unknown = value.error;
      if (typeof error === "string") message = error;
    }
  } catch {
    // Not JSON (e.g. a Go registry's plain-text error): show the text itself.
  }
  const line = message.replace(/[\u0000-\u001f\u007f]+/gu, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
