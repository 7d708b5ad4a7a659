import { callProvider } from "../registry/call.ts";
import type { Providers } from "../registry/providers.ts";
import { request } from "../std/request.ts";
import { goTimestamp, type Logger } from "../std/log.ts";
import { createLineQueue } from "./queue.ts";

/** Options of `createRemoteLogger`. */
export interface RemoteLoggerOptions {
  /** Written as `[ServiceName] - ` before every message. */
  serviceName: string;
  /** Where the LogService providers are looked up, at send time. */
  providers: Providers;
  /** Most lines kept while undeliverable; beyond it the oldest are dropped. Default 10 000. */
  bufferLimit?: number;
  /** How long a first line waits for company before a batch is sent. Default 10 ms. */
  batchDelayMs?: number;
  /** Bound on each POST. Default 5 s. */
  timeoutMs?: number;
  /** Pause before retrying after a failed delivery (a provider change retries at once). */
  retryDelayMs?: number;
  /** Where lines go while no log service takes them; default stderr with a timestamp. */
  echo?: (line: string) => void;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
}

/** A Logger that ships its lines to the log service, and the handles to drain it. */
export interface RemoteLogger {
  /** Queues one line; never blocks, never throws. */
  log: Logger;
  /**
   * Resolves once every line logged before the call is delivered (or dropped), or when
   * `signal` aborts — whichever comes first. Never rejects.
   */
  flush(signal?: AbortSignal): Promise<void>;
  /**
   * Flushes (bounded by `signal`, default 2 s; skipped when no log service is known), then
   * stops: timers cleared, an in-flight POST abandoned, undelivered lines echoed. Later lines
   * are only echoed. Never rejects.
   */
  close(signal?: AbortSignal): Promise<void>;
  /** Lines given up on: dropped from a full buffer, or refused by the log service. */
  readonly dropped: number;
  /** Lines not yet delivered. */
  readonly pending: number;
}

const logServiceName = "LogService";
// A batch stays well under the log service's 64 KiB body limit.
const maxBatchBytes = 60 * 1024;
// One line, even with every character JSON-escaped, fits a batch.
const maxLineChars = 8 * 1024;
const defaultCloseMs = 2_000;

/**
 * Creates the client logger of docs/protocol.md#log-service (Go's `SetClientLogger`, without its
 * flaws).
 *
 * Lines are batched into JSON-array POSTs to `<provider>/log`, the provider picked per send
 * through `callProvider` (so it follows discovery, and a refused provider is dropped locally).
 * While no log service takes them, lines stay in a bounded buffer (oldest dropped and
 * counted), are echoed, and are retried every `retryDelayMs` and at once when the providers
 * change. A `4xx` answer other than 408/429 drops that batch (echoed, counted): repeating it
 * cannot succeed.
 */
export function createRemoteLogger(options: RemoteLoggerOptions): RemoteLogger {
  const {
    serviceName,
    providers,
    bufferLimit = 10_000,
    batchDelayMs = 10,
    timeoutMs = 5_000,
    retryDelayMs = 1_000,
    token,
  } = options;
  const echoLine = options.echo ?? ((line: string) => {
    process.stderr.write(`${goTimestamp(new Date())} ${line}\n`);
  });
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const queue = createLineQueue({
    limit: bufferLimit,
    maxBatchBytes,
    notice: (count) => `[${serviceName}] - remote log: ${count} older lines dropped, ` +
      `the buffer of ${bufferLimit} was full while no log service was reachable`,
  });

  // The delivery loop's state: a pass is either due (timer), running (sending) or not needed.
  let timer: NodeJS.Timeout | undefined;
  let dueAt = Number.POSITIVE_INFINITY;
  let sending = false;
  // Someone asked for a pass now while one was running: if it fails, retry at once.
  let again = false;
  // The last pass failed: lines are echoed as they come and wait for the retry.
  let backingOff = false;
  let closed = false;
  let closing: Promise<void> | undefined;
  const stop = new AbortController();
  const waiters = new Set<{ seq: number; resolve: () => void }>();

  const echo = (lines: readonly string[] | string | undefined) => {
    for (const line of typeof lines === "string" ? [lines] : lines ?? []) {
      try {
        echoLine(line);
      } catch {
        // The echo is best effort; the caller must never see its failure.
      }
    }
  };

  // Resolves the flushes whose lines have all left the queue.
  const settleWaiters = () => {
    for (const waiter of waiters) {
      if (waiter.seq <= queue.start) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  };

  const post = async (body: string): Promise<number | undefined> => {
    try {
      const response = await callProvider(providers, logServiceName, (url) =>
        request(`${url}/log`, { method: "POST", headers, body, timeoutMs, signal: stop.signal }),
      );
      return response.status;
    } catch {
      // No provider left, a timeout or an abort: the lines stay for a later pass.
      return undefined;
    }
  };

  // One delivery pass: batches until the queue is empty, or until a send fails — then the
  // pending lines are echoed and the next pass is due after the retry delay.
  const deliver = async (): Promise<void> => {
    sending = true;
    let failed = false;
    try {
      for (let batch = queue.take(); batch && !stop.signal.aborted; batch = queue.take()) {
        again = false;
        const outcome = classify(await post(batch.body));
        if (outcome === "delivered") {
          backingOff = false;
          queue.acknowledge(batch);
        } else if (outcome === "refused") {
          echo(queue.giveUp(batch));
        } else {
          failed = true;
          break;
        }
        settleWaiters();
      }
    } finally {
      sending = false;
    }
    if (failed && !stop.signal.aborted) {
      backingOff = true;
      echo(queue.unechoed());
      wake(again ? 0 : retryDelayMs);
    }
  };

  /**
   * The one way to start delivery: a pass runs within `delayMs` (at once for 0), unless one
   * is due sooner. A running pass takes every line pushed meanwhile, so it needs no timer.
   */
  const wake = (delayMs: number): void => {
    if (stop.signal.aborted) return;
    if (sending) {
      if (delayMs === 0) again = true;
      return;
    }
    const at = performance.now() + delayMs;
    if (timer !== undefined && dueAt <= at) return;
    clearTimeout(timer);
    timer = undefined;
    if (delayMs <= 0) {
      void deliver();
      return;
    }
    dueAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      void deliver();
    }, delayMs);
    timer.unref();
  };

  // A log service may have appeared: retry now instead of at the end of the delay.
  const unsubscribe = providers.onChange(() => {
    if (queue.pending > 0) wake(0);
  });

  const log: Logger = (message) => {
    try {
      let line = `[${serviceName}] - ${String(message)}`;
      if (line.length > maxLineChars) line = `${line.slice(0, maxLineChars)}… (truncated)`;
      if (closed) {
        echo(line);
        return;
      }
      echo(queue.push(line));
      settleWaiters();
      // While backing off the line waits for the retry like the others, echoed at once.
      if (backingOff) echo(queue.unechoed());
      else wake(batchDelayMs);
    } catch {
      // A Logger never throws into its caller.
    }
  };

  const flush = (signal?: AbortSignal): Promise<void> => {
    if (queue.pending === 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // Timers here are unref'd (and so are AbortSignal.timeout's): hold the process open
      // while someone waits for delivery, so it cannot exit with the lines unsent.
      const keepAlive = setInterval(() => {}, 60_000);
      const waiter = {
        seq: queue.end,
        resolve: () => {
          clearInterval(keepAlive);
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        clearInterval(keepAlive);
        waiters.delete(waiter);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      waiters.add(waiter);
      wake(0);
    });
  };

  const close = (signal?: AbortSignal): Promise<void> => {
    closing ??= (async () => {
      // With no log service known there is nothing to wait for: echo the rest at once.
      if (providers.list(logServiceName).length > 0) {
        await flush(signal ?? AbortSignal.timeout(defaultCloseMs));
      }
      closed = true;
      unsubscribe();
      stop.abort();
      clearTimeout(timer);
      // Nothing is lost silently: what the log service did not get goes to the echo.
      echo(queue.unechoed());
      for (const waiter of waiters) waiter.resolve();
      waiters.clear();
    })();
    return closing;
  };

  return {
    log,
    flush,
    close,
    get dropped() {
      return queue.dropped;
    },
    get pending() {
      return queue.pending;
    },
  };
}

// What a POST's status means for its batch: no status is a failed send (no provider, timeout).
// Below 500, other than 408/429, the same batch would be refused again; 5xx may succeed later.
function classify(status: number | undefined): "delivered" | "refused" | "retry" {
  if (status === undefined) return "retry";
  if (status >= 200 && status < 300) return "delivered";
  return status < 500 && status !== 408 && status !== 429 ? "refused" : "retry";
}
