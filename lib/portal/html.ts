const safe = Symbol("safe HTML");

/** HTML that is already escaped (or trusted markup): interpolated into `html` as is. */
export interface SafeHTML {
  readonly [safe]: true;
  /** The markup. */
  readonly value: string;
  toString(): string;
}

/** A value `html` can interpolate; `null`, `undefined` and `false` render nothing. */
export type HTMLValue =
  | SafeHTML
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly HTMLValue[];

const entities: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

// Characters that must not act on the page unseen: C0 controls but tab and line feed, DEL, C1
// controls, and the bidirectional marks, embeddings, overrides and isolates (U+202E would
// show "txt.exe" for "exe.txt" and reorder the text around it).
const invisible =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Escapes text for HTML element content: `& < > " '`, and every control or bidi character
 * shown as a visible `U+202E` marker instead of acting on the page.
 */
function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (char) => entities[char] ?? char).replace(invisible, marker);
}

/**
 * Escapes text for a quoted attribute value: `& < > " '`, and control or bidi characters as
 * numeric character references (a value such as a refilled form field keeps them, and an
 * attribute cannot reorder the text around it).
 */
function escapeAttribute(text: string): string {
  return text
    .replace(/[&<>"']/g, (char) => entities[char] ?? char)
    .replace(invisible, (char) => `&#x${codePoint(char)};`);
}

function marker(char: string): string {
  return `<span class="ctl">U+${codePoint(char)}</span>`;
}

function codePoint(char: string): string {
  return (char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
}

/**
 * At most `max` characters of `text` (code points), escaped; a longer text ends with a
 * visible "… N more characters" so a cut entry never passes for a whole one.
 */
export function clip(text: string, max: number): SafeHTML {
  if (text.length <= max) return raw(escapeHTML(text));
  const chars = [...text];
  if (chars.length <= max) return raw(escapeHTML(text));
  const more = (chars.length - max).toLocaleString("en-US");
  return html`${chars.slice(0, max).join("")}<span class="cut">… ${more} more characters</span>`;
}

/**
 * Marks trusted markup so `html` does not escape it. Never pass it anything that came from a
 * request, a file or another service.
 */
export function raw(markup: string): SafeHTML {
  return { [safe]: true, value: markup, toString: () => markup };
}

/**
 * A tagged template that escapes every interpolation unless it is `SafeHTML` (another `html`
 * result or `raw(…)`); arrays are rendered item by item, `null`/`undefined`/`false` as nothing.
 *
 * ```ts
 * html`<td>${student.LastName}</td>` // "<td>&lt;b&gt;</td>" for "<b>"
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: readonly HTMLValue[]): SafeHTML {
  let out = strings[0] ?? "";
  for (const [index, value] of values.entries()) {
    // Inside a tag (an attribute value) no markup may go: there a marker would end the value.
    const escape = out.lastIndexOf("<") > out.lastIndexOf(">") ? escapeAttribute : escapeHTML;
    out += render(value, escape) + (strings[index + 1] ?? "");
  }
  return raw(out);
}

function render(value: HTMLValue, escape: (text: string) => string): string {
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map((item: HTMLValue) => render(item, escape)).join("");
  if (isSafe(value)) return value.value;
  return escape(String(value));
}

function isSafe(value: unknown): value is SafeHTML {
  return typeof value === "object" && value !== null && safe in value;
}
