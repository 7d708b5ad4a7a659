import { html, type SafeHTML } from "./html.ts";

/** What the logs page asks the log service for, as the person typed it (all text). */
export interface LogFilter {
  /** Entries of this service only: the `[Name]` its remote logger writes. */
  service: string;
  /** Entries containing this text. */
  contains: string;
  /** Entries written at or after this time. */
  since: string;
  /** Entries written before this time. */
  until: string;
  /** How many of the latest matching entries. */
  lines: string;
}

/** Why each refused filter field was refused. */
export type LogFilterErrors = Partial<Record<keyof LogFilter, string>>;

/** The entries `/logs` shows when not told otherwise. */
export const defaultLines = 100;
const maxLines = 10_000;
const fields = ["service", "contains", "since", "until", "lines"] as const;

/**
 * Reads the filter of `/logs?service=…&contains=…&since=…&until=…&lines=…` and checks it:
 * times are RFC 3339 (`2026-11-25T14:00:00Z`) or a form's local date and time
 * (`2026-11-25T14:00`, the portal's time zone); `lines` is 1 to 10 000. The log service checks
 * again; checking here lets the page name the field.
 */
export function parseLogFilter(query: URLSearchParams): {
  filter: LogFilter;
  errors: LogFilterErrors;
} {
  const text = (name: keyof LogFilter) => (query.get(name) ?? "").trim().slice(0, 500);
  const filter: LogFilter = {
    service: text("service"),
    contains: text("contains"),
    since: text("since"),
    until: text("until"),
    lines: text("lines"),
  };
  const errors: LogFilterErrors = {};
  if (filter.service.length > 128) errors.service = "service: at most 128 characters";
  if (filter.contains.length > 200) errors.contains = "contains: at most 200 characters";
  for (const name of ["since", "until"] as const) {
    if (filter[name] !== "" && toRFC3339(filter[name]) === undefined) {
      errors[name] = `${name}: a time such as 2026-11-25T14:00:00Z`;
    }
  }
  const lines = Number(filter.lines);
  if (filter.lines !== "" && !(/^\d+$/.test(filter.lines) && lines >= 1 && lines <= maxLines)) {
    errors.lines = `lines: a whole number from 1 to ${maxLines.toLocaleString("en-US")}`;
  }
  return { filter, errors };
}

/**
 * The query string that asks the log service for what `filter` selects (`?lines=100` for an
 * empty one); with `follow`, the one that also streams the new matching entries after them.
 */
export function logQuery(filter: LogFilter, follow = false): string {
  const query = new URLSearchParams();
  if (follow) query.set("follow", "1");
  if (filter.service !== "") query.set("service", filter.service);
  if (filter.contains !== "") query.set("contains", filter.contains);
  for (const name of ["since", "until"] as const) {
    const time = toRFC3339(filter[name]);
    if (time !== undefined) query.set(name, time);
  }
  query.set("lines", filter.lines === "" ? String(defaultLines) : filter.lines);
  return `?${query.toString()}`;
}

/** `/logs` with the same filter (without the defaults), for links and the event stream. */
export function pageQuery(filter: LogFilter): string {
  const query = new URLSearchParams();
  for (const name of fields) if (filter[name] !== "") query.set(name, filter[name]);
  const text = query.toString();
  return text === "" ? "" : `?${text}`;
}

/** True when the filter selects every entry (the page then says "the latest entries"). */
export function isEmptyFilter(filter: LogFilter): boolean {
  return fields.every((name) => name === "lines" || filter[name] === "");
}

/** The filter form of `/logs`: a GET form, so a filtered view is a link one can share. */
export function filterForm(filter: LogFilter, errors: LogFilterErrors): SafeHTML {
  const field = (name: keyof LogFilter, label: string, attributes: SafeHTML) => {
    const error = errors[name];
    const id = `filter-${name}`;
    // The message goes under the narrow field, without the field's name its label shows.
    const message = error?.replace(/^[a-z]+: /, "");
    return html`<div class="field">
<label for="${id}">${label}</label>
<input id="${id}" name="${name}" value="${filter[name]}"${attributes}${
      error === undefined ? "" : html` aria-invalid="true" aria-describedby="${id}-error"`
    }>
${message === undefined ? "" : html`<p class="field-error" id="${id}-error">${message}</p>`}
</div>`;
  };
  return html`<form method="get" action="/logs" class="filters" aria-label="Filter the log">
${field("service", "Service", html` placeholder="GradingService" maxlength="128"`)}
${field("contains", "Contains", html` maxlength="200"`)}
${field("since", "Since", html` placeholder="2026-11-25T14:00:00Z"`)}
${field("until", "Until", html` placeholder="2026-11-25T15:00:00Z"`)}
${field("lines", "Lines", html` type="number" min="1" max="10000" placeholder="${defaultLines}"`)}
<button type="submit">Show</button>
</form>`;
}

/** An RFC 3339 time for `text`: RFC 3339 itself, or a local `YYYY-MM-DDTHH:MM[:SS]`. */
function toRFC3339(text: string): string | undefined {
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
  const local = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;
  if (!rfc3339.test(text) && !local.test(text)) return undefined;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? undefined : time.toISOString();
}
