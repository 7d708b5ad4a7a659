import { setTimeout as sleep } from "node:timers/promises";
import { callProvider } from "../registry/call.ts";
import type { Providers } from "../registry/providers.ts";
import { backoffDelay } from "../std/backoff.ts";
import { describeError } from "../std/errors.ts";
import { HttpError } from "../std/http.ts";
import { openStream, type OpenStream } from "../std/stream.ts";
import { logQuery, type LogFilter } from "./logfilter.ts";
import { readLogTail } from "./logs.ts";
import { badStatus, type Explain } from "./upstream.ts";

/** What `followLog` tells the page. */
export interface LogUpdates {
  /** The latest matching entries, replacing what the page shows. */
  replace(entries: string[]): void;
  /** New entries, to add after what the page shows. */
  append(entries: string[]): void;
  /** Why the log cannot be followed right now (the page's message). */
  failed(message: string): void;
}

/** Options of `followLog`. */
export interface FollowOptions {
  providers: Providers;
  explain: Explain;
  /** Bound on the wait for the log service's answer to begin. */
  timeoutMs: number;
  /** Longest line kept while it is still arriving; the rest of a longer one is dropped. */
  maxLineBytes?: number;
}

/**
 * Follows the entries `filter` selects on a log service until `signal` aborts, with
 * `GET /log?follow=1&…` (docs/protocol.md#log-service): its answer starts with the latest
 * matching entries, sent as `replace`, and goes on with every new one, sent as `append`: none
 * twice, none skipped. An answer that ends or fails (the log service stopped, or ended a
 * follower that fell behind) is asked for again after a backoff, and the page starts over
 * from the latest entries.
 */
export async function followLog(
  filter: LogFilter,
  updates: LogUpdates,
  options: FollowOptions,
  signal: AbortSignal,
): Promise<void> {
  const { providers, explain, timeoutMs, maxLineBytes = 1024 * 1024 } = options;
  for (let attempt = 1; !signal.aborted; attempt++) {
    let stream: OpenStream | undefined;
    try {
      let url: string;
      ({ url, stream } = await callProvider(providers, "LogService", async (url) => ({
        url,
        stream: await openStream(`${url}/log${logQuery(filter, true)}`, { timeoutMs, signal }),
      })).catch(explain("LogService", signal)));
      if (stream.status !== 200) {
        const text = (await readLogTail(stream.body, 4_096)).entries.join("\n");
        throw badStatus("LogService", stream.status, text);
      }
      const started = Date.now();
      let first = true;
      await forEachBatch(stream, maxLineBytes, (batch) => {
        if (first) updates.replace(batch);
        else updates.append(batch);
        first = false;
      }).catch((error: unknown) => {
        if (signal.aborted) throw error;
        // Cut off (the log service stopped or restarted): say so; the next round reconnects.
        throw new HttpError(503, `LogService at ${url} stopped sending entries; reconnecting.`, {
          cause: error,
        });
      });
      // A follow that lasted is not a failing one: the next one starts without a long wait.
      if (Date.now() - started > 10_000) attempt = 0;
    } catch (error) {
      if (signal.aborted) return;
      updates.failed(error instanceof HttpError ? error.message : describeError(error));
    } finally {
      stream?.body.destroy();
    }
    await sleep(backoffDelay(attempt, 250, 5_000), undefined, { signal }).catch(() => undefined);
  }
}

/** Calls `each` with the complete lines of every chunk of the stream; resolves at its end. */
function forEachBatch(
  stream: OpenStream,
  maxLineBytes: number,
  each: (batch: string[]) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let partial = "";
    const body = stream.body;
    body.setEncoding("utf8");
    body.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = (lines.pop() ?? "").slice(0, maxLineBytes);
      if (lines.length > 0) each(lines);
    });
    body.once("end", resolve);
    body.once("error", reject);
    body.once("close", resolve);
  });
}
