import { NoProviderError } from "../registry/providers.ts";
import { HttpError } from "../std/http.ts";
import { describeError } from "../std/errors.ts";
import { RequestError, type HttpResponse } from "../std/request.ts";

/** Turns a failed call to another service into the `503` page the user should see. */
export function unavailable(service: string, error: unknown): unknown {
  if (error instanceof HttpError) return error;
  if (error instanceof NoProviderError) {
    const why =
      error.cause === undefined ? "no instance is registered" : "no registered instance answered";
    return new HttpError(503, `${service} is unavailable: ${why}. Try again in a moment.`, {
      cause: error,
    });
  }
  if (error instanceof RequestError) {
    const why = error.code === "ETIMEDOUT" ? "it did not answer in time" : `${error.code}`;
    return new HttpError(503, `${service} is unavailable: ${why}. Try again in a moment.`, {
      cause: error,
    });
  }
  return error;
}

/** The page for an answer of another service that is not what the portal asked for. */
export function badStatus(service: string, response: HttpResponse): HttpError {
  const detail = errorText(response);
  const status = response.status >= 500 ? 503 : 502;
  return new HttpError(
    status,
    `${service} is unavailable: it answered ${response.status}${detail ? ` (${detail})` : ""}.`,
  );
}

/** Parses another service's JSON answer; anything unexpected is that service's fault (`502`). */
export function parseAnswer<T>(response: HttpResponse, parse: (value: unknown) => T): T {
  if (response.status !== 200) throw badStatus("GradingService", response);
  try {
    return parse(response.json());
  } catch (error) {
    throw new HttpError(502, `GradingService sent a malformed answer: ${describeError(error)}`, {
      cause: error,
    });
  }
}

/** The `error` of a JSON error body, or "" when there is none. */
export function errorText(response: HttpResponse): string {
  try {
    const body = response.json();
    if (typeof body === "object" && body !== null && "error" in body) {
      const message = (body as { error: unknown }).error;
      if (typeof message === "string") return message.slice(0, 300);
    }
  } catch {
    // Not JSON: no detail to show.
  }
  return "";
}
