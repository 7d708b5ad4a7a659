import { callProvider } from "../registry/call.ts";
import type { Providers } from "../registry/providers.ts";
import { request } from "../std/request.ts";
import { goTimestamp, type Logger } from "../std/log.ts";

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

  // The queue: lines[head..] are pending; lines[head] has sequence number headSeq.
  let lines: string[] = [];
  let head = 0;
  let headSeq = 0;
  // Lines with a sequence number below this have been echoed already.
  let echoedBelow = 0;
  let dropped = 0;
  // Lines dropped from a full buffer that the log service has not been told about yet.
  let overflowed = 0;
  let undeliverable = false;
  let closed = false;
  let pumping = false;
  let closing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const stop = new AbortController();
  const waiters = new Set<{ seq: number; resolve: () => void }>();

  const pending = () => lines.length - head;
  const endSeq = () => headSeq + pending();

  const echo = (line: string) => {
    try {
      echoLine(line);
    } catch {
      // The echo is best effort; the caller must never see its failure.
    }
  };

  // Echoes every pending line not echoed yet, oldest first.
  const echoPending = () => {
    for (let seq = Math.max(echoedBelow, headSeq); seq < endSeq(); seq++) {
      echo(lines[head + seq - headSeq] ?? "");
    }
    echoedBelow = Math.max(echoedBelow, endSeq());
  };

  // Forgets the lines below `seq` (delivered or given up) and wakes the flushes they end.
  const advance = (seq: number) => {
    const count = Math.min(seq - headSeq, pending());
    if (count <= 0) return;
    head += count;
    headSeq += count;
    if (head > 1_024 && head * 2 > lines.length) {
      lines = lines.slice(head);
      head = 0;
    }
    for (const waiter of waiters) {
      if (waiter.seq <= headSeq) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  };

  const giveUp = (seq: number) => {
    const count = Math.min(seq - headSeq, pending());
    for (let index = 0; index < count; index++) {
      if (headSeq + index >= echoedBelow) echo(lines[head + index] ?? "");
    }
    echoedBelow = Math.max(echoedBelow, headSeq + count);
    dropped += Math.max(count, 0);
    advance(seq);
  };

  const takeBatch = (): { body: string; end: number; reported: number } => {
    let body = "[";
    let bytes = 2;
    // The log file says where lines are missing: a notice goes before the survivors.
    const reported = overflowed;
    if (reported > 0) {
      const notice = `[${serviceName}] - remote log: ${reported} older lines dropped, ` +
        `the buffer of ${bufferLimit} was full while no log service was reachable`;
      body += `${JSON.stringify(notice)},`;
      bytes += Buffer.byteLength(notice) + 4;
    }
    let index = head;
    for (; index < lines.length; index++) {
      const encoded = JSON.stringify(lines[index] ?? "");
      const size = Buffer.byteLength(encoded) + 1;
      if (index > head && bytes + size > maxBatchBytes) break;
      body += index > head ? `,${encoded}` : encoded;
      bytes += size;
    }
    return { body: `${body}]`, end: headSeq + (index - head), reported };
  };

  const waitRetry = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(retryTimer);
        wake = undefined;
        resolve();
      };
      const retryTimer = setTimeout(done, retryDelayMs);
      retryTimer.unref();
      wake = done;
    });

  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      while (pending() > 0 && !stop.signal.aborted) {
        const { body, end, reported } = takeBatch();
        let status: number | undefined;
        try {
          const response = await callProvider(providers, logServiceName, (url) =>
            request(`${url}/log`, {
              method: "POST",
              headers,
              body,
              timeoutMs,
              signal: stop.signal,
            }),
          );
          status = response.status;
        } catch {
          // No provider left, a timeout or an abort: keep the lines and try again later.
        }
        if (status !== undefined && status >= 200 && status < 300) {
          undeliverable = false;
          overflowed -= reported;
          advance(end);
        } else if (status !== undefined && status < 500 && status !== 408 && status !== 429) {
          giveUp(end);
        } else if (!stop.signal.aborted) {
          undeliverable = true;
          echoPending();
          await waitRetry();
        }
      }
    } finally {
      pumping = false;
    }
  };

  const kick = () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    void pump();
  };

  const schedule = () => {
    if (pumping || timer || stop.signal.aborted) return;
    timer = setTimeout(() => {
      timer = undefined;
      void pump();
    }, batchDelayMs);
    timer.unref();
  };

  const unsubscribe = providers.onChange(() => {
    // A log service may have appeared: retry now instead of at the end of the delay.
    if (wake) wake();
    else if (pending() > 0) schedule();
  });

  const log: Logger = (message) => {
    try {
      let line = `[${serviceName}] - ${String(message)}`;
      if (line.length > maxLineChars) line = `${line.slice(0, maxLineChars)}… (truncated)`;
      if (closed) {
        echo(line);
        return;
      }
      lines.push(line);
      if (undeliverable) echoPending();
      if (pending() > bufferLimit) {
        giveUp(headSeq + 1);
        overflowed += 1;
      }
      schedule();
    } catch {
      // A Logger never throws into its caller.
    }
  };

  const flush = (signal?: AbortSignal): Promise<void> => {
    if (pending() === 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // Timers here are unref'd (and so are AbortSignal.timeout's): hold the process open
      // while someone waits for delivery, so it cannot exit with the lines unsent.
      const keepAlive = setInterval(() => {}, 60_000);
      const waiter = {
        seq: endSeq(),
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
      if (wake) wake();
      else kick();
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
      if (timer) clearTimeout(timer);
      wake?.();
      // Nothing is lost silently: what the log service did not get goes to the echo.
      echoPending();
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
      return dropped;
    },
    get pending() {
      return pending();
    },
  };
}
