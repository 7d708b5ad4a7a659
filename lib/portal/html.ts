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

/**
 * Escapes text for HTML element content and quoted attribute values: `& < > " '`.
 */
export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (char) => entities[char] ?? char);
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
    out += render(value) + (strings[index + 1] ?? "");
  }
  return raw(out);
}

function render(value: HTMLValue): string {
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map((item: HTMLValue) => render(item)).join("");
  if (isSafe(value)) return value.value;
  return escapeHTML(String(value));
}

function isSafe(value: unknown): value is SafeHTML {
  return typeof value === "object" && value !== null && safe in value;
}
