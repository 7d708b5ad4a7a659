import { goTimestamp } from "../std/log.ts";
import { printable } from "../std/printable.ts";

/**
 * Makes a message safe to store as the rest of one entry line: trailing CR/LF are trimmed and
 * everything else `printable` escapes is escaped (controls, line separators, bidirectional
 * controls, the backslash: `\n`, `\r`, `\\`, `\u0000`, `\u202e`), so a message can never start a
 * second entry or disguise one (docs/protocol.md#log-service, docs/protocol.md#security).
 */
export function escapeMessage(message: string): string {
  let end = message.length;
  for (;;) {
    const code = message.charCodeAt(end - 1);
    if (code !== 10 && code !== 13) break;
    end--;
  }
  // The common case, plain text, costs one regular-expression scan and no allocation.
  return printable(end === message.length ? message : message.slice(0, end));
}

/**
 * Returns a function that formats the line head (`<prefix><timestamp> `) for the current time,
 * re-rendering the timestamp only when the second changes: at tens of thousands of entries a
 * second, most entries share it.
 */
export function entryHead(prefix: string, now: () => Date): () => string {
  let second = Number.NaN;
  let head = "";
  return () => {
    const date = now();
    const current = Math.floor(date.getTime() / 1_000);
    if (current !== second) {
      second = current;
      head = `${prefix}${goTimestamp(date)} `;
    }
    return head;
  };
}
