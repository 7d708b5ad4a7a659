import http from "node:http";
import { asObject, stringField } from "./codec.ts";

/** Callbacks of `openStream`. */
export interface StreamHandlers {
  /** Each `result` object etcd sends, in order. */
  onMessage(result: Record<string, unknown>): void;
  /**
   * Called once when the stream is over: etcd ended it (with the error it sent last, if any),
   * the connection failed, or `close` was called (`error` undefined then).
   */
  onEnd(error: Error | undefined): void;
}

/** An open bidirectional stream of the gateway. */
export interface EtcdStream {
  /** Sends one request message (one whole JSON object; the gateway stops reading on garbage). */
  write(message: object): void;
  /** Destroys the socket; etcd cancels what the stream held (watches). Calls `onEnd` once. */
  close(): void;
}

/**
 * Opens a bidirectional stream (`/v3/watch`, `/v3/lease/keepalive`, …) at one member and sends
 * `first` on it. The stream gets its own socket with `Connection: close`: on a keep-alive
 * connection etcd's HTTP server drains the request body before it answers, so a stream whose
 * body stays open would never get an answer (README "Running a registry cluster"). Messages
 * are newline-delimited JSON, one `{"result":…}` per line; a line `{"error":…}` ends it.
 * `Grpc-Metadata-Hasleader` makes a member that loses its raft leader end the stream instead of
 * going silent. A `connectTimeoutMs` bounds the wait for the response headers.
 */
export function openStream(
  endpoint: string,
  path: string,
  first: object,
  handlers: StreamHandlers,
  connectTimeoutMs = 2_000,
): EtcdStream {
  let ended = false;
  const end = (error: Error | undefined) => {
    if (ended) return;
    ended = true;
    clearTimeout(connectTimer);
    req.destroy();
    handlers.onEnd(error);
  };
  const req = http.request(`${endpoint}/v3/${path}`, {
    method: "POST",
    agent: false,
    headers: {
      "Content-Type": "application/json",
      "Connection": "close",
      "Grpc-Metadata-Hasleader": "true",
    },
  });
  const connectTimer = setTimeout(
    () => end(new Error(`etcd: ${endpoint} did not answer ${path} within ${connectTimeoutMs} ms`)),
    connectTimeoutMs,
  );
  req.on("error", (error) => end(new Error(`etcd: ${path} at ${endpoint}: ${error.message}`,
    { cause: error })));
  req.on("response", (res) => {
    clearTimeout(connectTimer);
    if (res.statusCode !== 200) {
      end(new Error(`etcd: ${path} at ${endpoint}: status ${res.statusCode}`));
      return;
    }
    let buffer = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line === "" || ended) continue;
        let message: Record<string, unknown>;
        try {
          message = asObject(JSON.parse(line), "stream message");
        } catch (error) {
          end(new Error(`etcd: ${path} at ${endpoint}: malformed message`, { cause: error }));
          return;
        }
        if (message["error"] !== undefined) {
          end(new Error(`etcd: ${path} at ${endpoint}: ${errorText(message["error"])}`));
          return;
        }
        try {
          handlers.onMessage(asObject(message["result"], "result"));
        } catch (error) {
          end(error instanceof Error ? error : new Error(String(error)));
          return;
        }
      }
    });
    res.on("error", (error) => end(new Error(`etcd: ${path} at ${endpoint}: ${error.message}`,
      { cause: error })));
    res.on("close", () => end(new Error(`etcd: ${path} at ${endpoint}: stream ended`)));
  });
  req.flushHeaders();
  req.write(`${JSON.stringify(first)}\n`);
  return {
    write(message) {
      if (!ended) req.write(`${JSON.stringify(message)}\n`);
    },
    close: () => end(undefined),
  };
}

function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  try {
    return stringField(asObject(error, "error"), "message") || JSON.stringify(error);
  } catch {
    return JSON.stringify(error);
  }
}
