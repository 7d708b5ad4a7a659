import { Agent } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { UnavailableError, ValidationError } from "../std/errors.ts";
import { request, RequestError, type HttpResponse } from "../std/request.ts";
import { asObject, stringField } from "./codec.ts";

/** Options of `createEtcdClient`. */
export interface EtcdClientOptions {
  /** Client URLs of the members, e.g. `http://127.0.0.1:2379`. */
  endpoints: readonly string[];
  /**
   * Bound on one attempt at one member. Far below etcd's own 7 s request timeout, so a call
   * caught in an election moves on to another member instead of hanging. Default 1 s.
   */
  attemptTimeoutMs?: number;
  /** Bound on a whole call over every member. Default 3 s. */
  callTimeoutMs?: number;
}

/** Options of one call. */
export interface CallOptions {
  /** Aborting it abandons the call with the signal's reason. */
  signal?: AbortSignal;
  /** Overrides the client's `callTimeoutMs`. */
  timeoutMs?: number;
  /** Overrides the client's `attemptTimeoutMs`. */
  attemptTimeoutMs?: number;
  /**
   * Ask the member to fail at once when it has no raft leader (`Grpc-Metadata-Hasleader`).
   * Default true; serializable reads, which a member answers alone, turn it off.
   */
  requireLeader?: boolean;
}

/** A connection to an etcd cluster through its v3 JSON gateway. */
export interface EtcdClient {
  /** The members' client URLs. */
  readonly endpoints: readonly string[];
  /**
   * POSTs `body` to `/v3/<path>` at one member after another until one answers, and resolves
   * with the parsed JSON answer. Rejects with `EtcdError` when etcd refused the request for
   * good, with `EtcdUnavailableError` when no member answered within the call's deadline.
   */
  call(path: string, body: object, options?: CallOptions): Promise<Record<string, unknown>>;
  /** Closes the pooled connections; calls after it fail. */
  close(): void;
}

/** etcd refused a request for good (bad argument, unknown lease, compacted revision, …). */
export class EtcdError extends Error {
  override name = "EtcdError";
  /** The gRPC status code etcd reported (3 invalid argument, 5 not found, 11 out of range). */
  readonly code: number;
  /** The HTTP status of the answer. */
  readonly status: number;

  constructor(message: string, code: number, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/**
 * No member answered in time: quorum lost, members down, or an election in progress.
 * `unknownOutcome` is true when a write may have reached etcd and may still be applied (etcd
 * applies a timed-out write once quorum returns), so only idempotent or guarded writes may be
 * retried.
 */
export class EtcdUnavailableError extends UnavailableError {
  override name = "EtcdUnavailableError";
  readonly unknownOutcome: boolean;

  constructor(message: string, unknownOutcome: boolean, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.unknownOutcome = unknownOutcome;
  }
}

/**
 * Parses a comma-separated list of member URLs (`http://host:port`); throws `ValidationError`
 * naming the bad one. Trailing slashes are dropped.
 */
export function parseEndpoints(list: string): string[] {
  const endpoints = list.split(",").map((part) => part.trim()).filter((part) => part !== "");
  if (endpoints.length === 0) throw new ValidationError("etcd: no endpoint given");
  return endpoints.map((endpoint) => {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new ValidationError(`etcd: ${JSON.stringify(endpoint)} is not a URL`);
    }
    if (url.protocol !== "http:" || url.pathname !== "/" || url.search !== "") {
      throw new ValidationError(`etcd: ${JSON.stringify(endpoint)} is not an http://host:port URL`);
    }
    return url.origin;
  });
}

/** How one attempt at one member ended when it did not answer. */
interface Failure {
  error: unknown;
  /** The member may have applied it. */
  unknown: boolean;
}

// etcd's answers that mean "try another member": no leader, an election, a timeout inside
// etcd. Other 5xx and every 4xx are definite.
const retryable = /no leader|request timed out|leader changed|deadline exceeded/;
// Of those, the ones where the write was certainly not proposed.
const notApplied = /no leader/;

/** Classifies a non-200 answer: a `Failure` to fail over on, or an `EtcdError` to throw. */
function failureOf(response: HttpResponse): Failure | EtcdError {
  let message = response.text().trim();
  let code = 0;
  try {
    const body = asObject(response.json(), "error");
    // Unary calls answer {"error":"…","code":14}; stream calls {"error":{"message","grpc_code"}}.
    const detail = typeof body["error"] === "object" ? asObject(body["error"], "error") : body;
    message = stringField(detail, "message") || stringField(detail, "error") || message;
    const number = detail["code"] ?? detail["grpc_code"];
    code = typeof number === "number" ? number : 0;
  } catch {
    // Not the gateway's JSON (a 404 or 405 text page): keep the text.
  }
  if (response.status >= 500 && retryable.test(message)) {
    const error = new Error(`etcd: ${message} (status ${response.status})`);
    return { error, unknown: !notApplied.test(message) };
  }
  return new EtcdError(`etcd: ${message}`, code, response.status);
}

/**
 * Creates a client of the v3 JSON gateway (README "Running a registry cluster"). Unary calls
 * share a keep-alive connection pool and stick to the last member that answered; a refused
 * connection, a timeout or an "etcd is between leaders" answer moves the call on to the next
 * member, round after round, until the call's deadline.
 */
export function createEtcdClient(options: EtcdClientOptions): EtcdClient {
  const { endpoints, attemptTimeoutMs = 1_000, callTimeoutMs = 3_000 } = options;
  if (endpoints.length === 0) throw new ValidationError("etcd: no endpoint given");
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let preferred = 0;
  let closed = false;

  async function attempt(
    endpoint: string,
    path: string,
    body: string,
    timeoutMs: number,
    options: CallOptions,
  ): Promise<{ answer: Record<string, unknown> } | Failure> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (options.requireLeader !== false) headers["Grpc-Metadata-Hasleader"] = "true";
    let response: HttpResponse;
    try {
      response = await request(`${endpoint}/v3/${path}`, {
        method: "POST",
        headers,
        body,
        timeoutMs,
        agent,
        maxResponseBytes: 256 * 1024 * 1024,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      // A refused connection never carried the request; anything later might have.
      const refused = error instanceof RequestError && error.code === "ECONNREFUSED";
      return { error, unknown: !refused };
    }
    if (response.status !== 200) {
      const failure = failureOf(response);
      if (failure instanceof EtcdError) throw failure;
      return failure;
    }
    return { answer: asObject(response.json(), `${path} answer`) };
  }

  return {
    endpoints,
    async call(path, message, callOptions = {}) {
      if (closed) throw new EtcdUnavailableError("etcd: client is closed", false);
      const body = JSON.stringify(message);
      const deadline = performance.now() + (callOptions.timeoutMs ?? callTimeoutMs);
      const perAttempt = callOptions.attemptTimeoutMs ?? attemptTimeoutMs;
      let unknown = false;
      let last: unknown;
      for (let round = 0; ; round++) {
        for (let tried = 0; tried < endpoints.length; tried++) {
          const remaining = deadline - performance.now();
          if (remaining <= 0) break;
          const index = (preferred + tried) % endpoints.length;
          const endpoint = endpoints[index] ?? "";
          const result = await attempt(
            endpoint, path, body, Math.min(perAttempt, remaining), callOptions);
          if ("answer" in result) {
            preferred = index;
            return result.answer;
          }
          unknown ||= result.unknown;
          last = result.error;
        }
        const remaining = deadline - performance.now();
        if (remaining <= 0 || closed) break;
        // Every member failed this round: pause briefly rather than spin on refusals.
        await sleep(Math.min(100 * (round + 1), remaining), undefined, {
          ...(callOptions.signal ? { signal: callOptions.signal } : {}),
        });
      }
      preferred = (preferred + 1) % endpoints.length;
      throw new EtcdUnavailableError(`etcd: no member answered ${path} in time`, unknown,
        { cause: last });
    },
    close() {
      closed = true;
      agent.destroy();
    },
  };
}
