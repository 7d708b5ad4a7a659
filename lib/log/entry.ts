import { goTimestamp } from "../std/log.ts";

// Everything that could end a line or hide text in a terminal: C0 controls, DEL, C1 controls
// (NEL is one) and the Unicode line and paragraph separators. The backslash is escaped too, so
// the escaping is reversible and `a\nb` typed literally stays distinguishable from a newline.
const needsEscape = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/;
const escapable = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g;

const named: Readonly<Record<string, string>> = {
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\\": "\\\\",
};

function escapeOne(char: string): string {
  return named[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * Makes a message safe to store as the rest of one entry line: trailing CR/LF are trimmed and
 * every other control character (and the backslash) is escaped (`\n`, `\r`, `\t`, `\\`,
 * `\u0000`), so a message can never start a second entry (docs/protocol.md#log-service,
 * docs/protocol.md#security).
 */
export function escapeMessage(message: string): string {
  let end = message.length;
  for (;;) {
    const code = message.charCodeAt(end - 1);
    if (code !== 10 && code !== 13) break;
    end--;
  }
  const trimmed = end === message.length ? message : message.slice(0, end);
  // The common case, plain text, costs one regular-expression scan and no allocation.
  return needsEscape.test(trimmed) ? trimmed.replace(escapable, escapeOne) : trimmed;
}

/**
 * Formats one entry line, Go `log.LstdFlags` style: `<prefix><YYYY/MM/DD HH:MM:SS> <message>\n`
 * in local time, the message escaped by `escapeMessage`.
 */
export function formatEntry(prefix: string, date: Date, message: string): string {
  return `${prefix}${goTimestamp(date)} ${escapeMessage(message)}\n`;
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
