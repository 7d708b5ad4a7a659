import type { Readable } from "node:stream";
import { clip, html, type SafeHTML } from "./html.ts";
import { openStream } from "../std/stream.ts";
import { layout } from "./layout.ts";
import {
  defaultLines,
  filterForm,
  isEmptyFilter,
  logQuery,
  pageQuery,
  type LogFilter,
  type LogFilterErrors,
} from "./logfilter.ts";
import { badStatus, type Explain } from "./upstream.ts";

/** Longest entry shown whole, in characters; a longer one is cut visibly. */
const maxEntryChars = 2_000;

/** The most of a log answer the portal keeps: its last bytes, whatever the log service sent. */
const logBudgetBytes = 256 * 1024;

/** What the portal kept of a log answer. */
export interface LogTail {
  /** Whole entries, oldest first. */
  entries: string[];
  /** True when older entries of the answer were left out to stay within the budget. */
  cut: boolean;
}

/**
 * Reads a log answer to its end, keeping only its last `budgetBytes` — memory stays bounded
 * however large the answer — and returns the whole entries among them. Rejects when the
 * stream fails or is destroyed (abort, timeout).
 */
export async function readLogTail(body: Readable, budgetBytes = logBudgetBytes): Promise<LogTail> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let cut = false;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    kept += chunk.length;
    while (kept - (chunks[0]?.length ?? 0) >= budgetBytes) {
      kept -= chunks.shift()?.length ?? 0;
      cut = true;
    }
  }
  let data = Buffer.concat(chunks, kept);
  if (data.length > budgetBytes) {
    data = data.subarray(data.length - budgetBytes);
    cut = true;
  }
  let text = data.toString("utf8");
  // After a cut the first line is a torn piece of an older entry: leave it out.
  if (cut) text = text.slice(text.indexOf("\n") + 1);
  const entries = text.split("\n");
  if (entries.at(-1) === "") entries.pop();
  return { entries, cut };
}

/**
 * Asks the log service at `url` for the latest entries `filter` selects and reads them within
 * the byte budget. Rejects with the page that explains a failure (see `unavailable`), or with
 * the connection error for `callProvider` to try another provider.
 */
export async function readLatest(
  url: string,
  filter: LogFilter,
  options: { timeoutMs: number; signal: AbortSignal; explain: Explain },
): Promise<LogTail> {
  const { timeoutMs, explain } = options;
  // One bounded read, body included.
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]);
  const stream = await openStream(`${url}/log${logQuery(filter)}`, { timeoutMs, signal });
  if (stream.status !== 200) {
    const text = (await readLogTail(stream.body, 4_096)).entries.join("\n");
    throw badStatus("LogService", stream.status, text);
  }
  return readLogTail(stream.body).catch(explain("LogService", signal));
}

/** What `/logs` shows. */
export interface LogsView {
  /** The entries read; absent when the filter was refused. */
  tail?: LogTail;
  /** The log service they came from. */
  source?: string;
  filter: LogFilter;
  errors?: LogFilterErrors;
}

/**
 * `/logs`: the filter form, then the latest matching entries of a log service, oldest first,
 * each at most `maxEntryChars`; the list follows new entries when script runs.
 */
export function logsPage(view: LogsView): string {
  const { tail, source, filter } = view;
  const errors = view.errors ?? {};
  const which = isEmptyFilter(filter) ? "The latest entries" : "The latest entries that match";
  const keep = Number(filter.lines) || defaultLines;
  const body =
    tail === undefined
      ? ""
      : html`<p>${which} from the log service at <code>${source ?? ""}</code>.${
          tail.cut ? html` Older ones did not fit in the page's ${logBudgetBytes / 1024} KiB.` : ""
        }</p>
<pre id="log" data-events="/events/logs${pageQuery(filter)}" data-keep="${keep}">${
          logLines(tail.entries)
        }</pre>${tail.entries.length === 0 ? html`<p id="empty">No entries yet.</p>` : ""}`;
  return layout("Logs", "logs", html`<h1>Logs</h1>
${filterForm(filter, errors)}
${body}`);
}

/** Entries as the lines of the log's `<pre>`, each cut visibly past `maxEntryChars`. */
export function logLines(entries: readonly string[]): SafeHTML {
  return html`${entries.map((entry) => html`<span>${clip(entry, maxEntryChars)}\n</span>`)}`;
}
