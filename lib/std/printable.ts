// What could end a line, move the cursor, recolour or retitle a terminal, or reorder what a
// reader sees: C0 controls (ESC starts every ANSI/OSC sequence; CR returns to the line's start),
// DEL, C1 controls (CSI and NEL among them), the Unicode line and paragraph separators, and the
// bidirectional formatting controls (LRM, RLM, ALM, the embeddings and overrides U+202A–U+202E,
// the isolates U+2066–U+2069), which can make `gnp.exe` read as `exe.png` ("Trojan Source",
// CVE-2021-42574). The backslash is escaped too, so the escaping is reversible: a literal `\n`
// typed by someone stays distinguishable from a newline.
const needsEscape = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\\]/;
const escapable = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\\]/g;

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
 * Escapes text that came from outside (a name, a URL, a request body, an error message quoting
 * one) so that printing it to a terminal or a log line shows it as itself, on one line: every
 * control character, escape sequence introducer, line separator and bidirectional control is
 * written as a visible escape (`\n`, `\r`, `\t`, `\\`, `\u001b`, `\u202e`), the backslash as
 * `\\`. Everything else — letters in any script, emoji, punctuation — is kept as it is.
 * Pure and cheap for plain text (one scan, no copy); never throws.
 */
export function printable(text: string): string {
  return needsEscape.test(text) ? text.replace(escapable, escapeOne) : text;
}
