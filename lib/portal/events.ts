import type { ServerResponse } from "node:http";
import { securityHeaders } from "./respond.ts";

/** An open server-sent event stream to one browser. */
export interface EventStream {
  /** Sends one event; `data` may span lines. Does nothing once the stream is closed. */
  send(event: string, data: string): void;
  /** Ends the stream (the browser reconnects after its retry delay, unless it left). */
  close(): void;
  /** Aborts when the stream ended: the browser left, it fell behind, or `close` was called. */
  signal: AbortSignal;
}

/** Options of `openEventStream`. */
export interface EventStreamOptions {
  /** Ends the stream too (e.g. the portal shutting down). */
  signal: AbortSignal;
  /** A comment line this often keeps proxies from timing out and finds dead peers. */
  keepAliveMs?: number;
  /** Unsent bytes beyond this end the stream: a browser that cannot keep up starts again. */
  maxBufferedBytes?: number;
  /** How long the browser waits before reconnecting after the stream ended. */
  retryMs?: number;
}

/**
 * Answers `res` as a `text/event-stream` (the HTML standard's server-sent events) and returns
 * the way to send events on it. The stream ends when the browser leaves, when it does not read
 * fast enough, or when `options.signal` aborts.
 */
export function openEventStream(res: ServerResponse, options: EventStreamOptions): EventStream {
  const { keepAliveMs = 15_000, maxBufferedBytes = 1024 * 1024, retryMs = 2_000 } = options;
  const controller = new AbortController();
  const close = () => {
    if (controller.signal.aborted) return;
    controller.abort();
    clearInterval(timer);
    options.signal.removeEventListener("abort", close);
    res.end();
  };
  res.writeHead(200, {
    ...securityHeaders,
    "Content-Type": "text/event-stream; charset=utf-8",
    // No proxy may hold events back to gather a bigger chunk.
    "X-Accel-Buffering": "no",
  });
  res.write(`retry: ${retryMs}\n\n`);
  const write = (text: string) => {
    if (controller.signal.aborted) return;
    res.write(text);
    if (res.writableLength > maxBufferedBytes) close();
  };
  const timer = setInterval(() => write(": keep-alive\n\n"), keepAliveMs);
  res.once("close", close);
  if (options.signal.aborted) close();
  else options.signal.addEventListener("abort", close, { once: true });
  return {
    send(event, data) {
      const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`);
      write(`event: ${event}\n${lines.join("")}\n`);
    },
    close,
    signal: controller.signal,
  };
}
