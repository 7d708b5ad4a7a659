import { setTimeout as sleep } from "node:timers/promises";
import { RegistryError, registryURLs } from "../registry/client.ts";
import { parseServiceList, type ServiceStatus } from "../registry/registration.ts";
import { backoffDelay } from "../std/backoff.ts";
import { describeError } from "../std/errors.ts";
import { HttpError } from "../std/http.ts";
import { request } from "../std/request.ts";
import { errorText, registryUnavailable, type Upstream } from "./upstream.ts";

/** What a live page shows: the latest value, or why there is none right now. */
export type Watched<T> = { value: T; error?: never } | { value?: never; error: string };

/** Options of `watchServices`. */
export interface WatchServicesOptions {
  /** How long one blocking query may wait for a change (sent as `wait=…s`). */
  waitSeconds: number;
  /** Between two plain reads, when the registry does not answer blocking queries. */
  pollMs: number;
  /** Largest list accepted. */
  maxListBytes: number;
}

/**
 * Follows the registry's list of services with blocking queries (docs/protocol.md#registry):
 * `GET /services?index=N&wait=…` answers as soon as the list changed past index `N`, so a
 * change reaches the portal at once and an idle system costs one request per wait. A registry
 * that sends no `X-Registry-Index` is read every `pollMs` instead. Emits each new list, or the
 * message of the page that explains why it cannot be read; runs until `signal` aborts.
 */
export async function watchServices(
  upstream: Upstream,
  options: WatchServicesOptions,
  emit: (state: Watched<ServiceStatus[]>) => void,
  signal: AbortSignal,
): Promise<void> {
  const headers: Record<string, string> = upstream.token
    ? { Authorization: `Bearer ${upstream.token}` }
    : {};
  // Until the registry shows it cannot (it sends no index, or refuses the parameters).
  let blocking = true;
  let index: string | undefined;
  let last: string | undefined;
  let failures = 0;
  let replica = 0;
  while (!signal.aborted) {
    const urls = registryURLs(upstream.registryURL);
    const base = urls[replica % Math.max(1, urls.length)] ?? upstream.registryURL;
    const ask = blocking && index !== undefined;
    const query = ask ? `?index=${index}&wait=${options.waitSeconds}s` : "";
    try {
      const response = await request(`${base}/services${query}`, {
        headers,
        // A blocking query may take the whole wait; the bound covers the wait and an answer.
        timeoutMs: (ask ? options.waitSeconds * 1_000 : 0) + upstream.timeoutMs,
        signal,
        maxResponseBytes: options.maxListBytes,
      });
      if (ask && response.status === 400) {
        blocking = false;
        continue;
      }
      if (response.status !== 200) {
        const what = `registry: list services at ${base}: status ${response.status}`;
        throw new RegistryError(`${what}: ${errorText(response.text())}`, response.status);
      }
      const text = response.text();
      if (text !== last) emit({ value: parseServiceList(JSON.parse(text)) });
      last = text;
      failures = 0;
      const next = response.headers["x-registry-index"];
      if (blocking && typeof next === "string" && /^\d{1,15}$/.test(next)) {
        index = next;
        continue;
      }
      index = undefined;
      await sleep(options.pollMs, undefined, { signal });
    } catch (error) {
      if (signal.aborted) return;
      failures += 1;
      replica += 1;
      index = undefined;
      last = undefined;
      emit({ error: registryUnavailable(upstream, error).message });
      await sleep(backoffDelay(failures, 250, 5_000), undefined, { signal }).catch(() => {});
    }
  }
}

/**
 * Reads `read` every `pollMs` and emits what changed — the value, or the message of the page
 * that explains why it cannot be read — until `signal` aborts. For sources that cannot say
 * when they change (the grading service); one poll serves every page watching the source.
 */
export async function poll<T>(
  read: (signal: AbortSignal) => Promise<T>,
  pollMs: number,
  emit: (state: Watched<T>) => void,
  signal: AbortSignal,
): Promise<void> {
  let last: string | undefined;
  while (!signal.aborted) {
    try {
      const value = await read(signal);
      const text = JSON.stringify(value);
      if (text !== last) emit({ value });
      last = text;
    } catch (error) {
      if (signal.aborted) return;
      const message = error instanceof HttpError ? error.message : describeError(error);
      if (`error: ${message}` !== last) emit({ error: message });
      last = `error: ${message}`;
    }
    await sleep(pollMs, undefined, { signal }).catch(() => undefined);
  }
}
