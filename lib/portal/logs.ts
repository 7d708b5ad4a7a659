import type { Readable } from "node:stream";
import { clip, html, type SafeHTML } from "./html.ts";
import { layout } from "./layout.ts";

/** Longest entry shown whole, in characters; a longer one is cut visibly. */
export const maxEntryChars = 2_000;

/** The most of a log answer the portal keeps: its last bytes, whatever the log service sent. */
export const logBudgetBytes = 256 * 1024;

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

/** `/logs`: the latest entries of a log service, oldest first, each at most `maxEntryChars`. */
export function logsPage(tail: LogTail, source: string): string {
  return layout(
    "Logs",
    "logs",
    html`<h1>Logs</h1>
<p>The latest entries from the log service at <code>${source}</code>.${
      tail.cut
        ? html` Older ones did not fit in the page's ${logBudgetBytes / 1024} KiB.`
        : ""
    }</p>
${tail.entries.length === 0 ? html`<p id="empty">The log is empty.</p>` : ""}
<pre id="log">${logLines(tail.entries)}</pre>`,
  );
}

/** Entries as the lines of the log's `<pre>`, each cut visibly past `maxEntryChars`. */
export function logLines(entries: readonly string[]): SafeHTML {
  return html`${entries.map((entry) => html`${clip(entry, maxEntryChars)}\n`)}`;
}
