import { ValidationError } from "../std/errors.ts";
import { splitJournal, type JournalContents } from "../std/journal.ts";
import { parseServiceList, type ServiceStatus } from "./registration.ts";
import type { Change } from "./table.ts";

/** Encodes `change` as one journal line, newline included. */
export function encodeChange(change: Change): string {
  return `${JSON.stringify(change)}\n`;
}

/** Accepts a journal line's decoded JSON as a Change, or throws naming what is wrong. */
function parseChange(value: unknown): Change {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    if ("put" in value) {
      const [row] = parseServiceList({ Services: [value.put] });
      if (row) return { put: row };
    }
    if ("remove" in value && typeof value.remove === "string") return { remove: value.remove };
  }
  throw new ValidationError('journal: a line must be {"put":{…}} or {"remove":"<url>"}');
}

/** Splits a registry journal file's text into its changes; never throws. */
export function parseJournal(text: string): JournalContents<Change> {
  return splitJournal(text, parseChange);
}

/** Applies `change` to `rows` (keyed by ServiceURL). */
export function applyChange(rows: Map<string, ServiceStatus>, change: Change): void {
  if ("put" in change) rows.set(change.put.ServiceURL, change.put);
  else rows.delete(change.remove);
}
