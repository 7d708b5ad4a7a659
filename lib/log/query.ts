import { ValidationError } from "../std/errors.ts";

/** What `GET /log` asks for (docs/protocol.md#log-service). */
export interface LogQuery {
  /** How many matching entries, the newest ones: 1 to 10 000, default 100. */
  lines: number;
  /** Only entries a remote logger of this ServiceName wrote (`[Name] - …`). */
  service?: string;
  /** Only entries whose message contains this text (case-sensitive, as stored). */
  contains?: string;
  /** Only entries stamped at or after this time (ms since the epoch; the stamp has seconds). */
  since?: number;
  /** Only entries stamped at or before this time (ms since the epoch). */
  until?: number;
  /** Keep the answer open and send new matching entries as they are written. */
  follow: boolean;
}

/** How many entries `GET /log` answers without `?lines=`. */
const defaultTailLines = 100;
/** The largest `lines` `GET /log` accepts. */
const maxTailLines = 10_000;
const maxFilterChars = 1_024;

// date, time, fraction, then Z or an offset.
const rfc3339 = new RegExp("^(\\d{4})-(\\d{2})-(\\d{2})[Tt ]" +
  "(\\d{2}):(\\d{2}):(\\d{2})(\\.\\d{1,9})?" +
  "(?:([Zz])|([+-])(\\d{2}):(\\d{2}))$");

/**
 * Parses an RFC 3339 date-time (`2026-11-25T14:40:27Z`, `2026-11-25T15:40:27.5+01:00`) into ms
 * since the epoch. Throws `ValidationError` naming `field` for anything else, including dates
 * that do not exist (February 30th).
 */
function parseRFC3339(field: string, raw: string): number {
  const match = rfc3339.exec(raw);
  const bad = () => new ValidationError(`log: ${field}: want an RFC 3339 date-time such as ` +
    `2026-11-25T14:40:27Z, got ${JSON.stringify(raw.slice(0, 64))}`);
  if (!match) throw bad();
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as
    [number, number, number, number, number, number];
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(local);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 ||
    minute > 59 || second > 60) {
    throw bad();
  }
  const fraction = match[7] ? Math.floor(Number(match[7]) * 1_000) : 0;
  const offsetHours = Number(match[10] ?? 0);
  const offsetMinutes = Number(match[11] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) throw bad();
  const sign = match[9] === "-" ? -1 : 1;
  return local + fraction - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
}

function text(field: string, raw: string): string {
  if (raw === "" || raw.length > maxFilterChars) {
    throw new ValidationError(`log: ${field}: want 1 to ${maxFilterChars} characters`);
  }
  // Entries are stored with control characters escaped: such a filter could never match.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(raw)) {
    throw new ValidationError(`log: ${field}: control characters never appear in entries`);
  }
  return raw;
}

function flag(field: string, raw: string): boolean {
  if (raw === "1" || raw === "true") return true;
  if (raw === "0" || raw === "false") return false;
  throw new ValidationError(`log: ${field}: want 1, 0, true or false, got ${JSON.stringify(raw)}`);
}

/**
 * Parses the query string of `GET /log` (the part after `?`). Unknown parameters are ignored;
 * a parameter given twice counts once, the last. Throws `ValidationError` with a message
 * naming the parameter for a bad value, or for `since` after `until`.
 */
export function parseLogQuery(search: string): LogQuery {
  const params = new URLSearchParams(search);
  const query: LogQuery = { lines: defaultTailLines, follow: false };
  const last = (name: string) => params.getAll(name).at(-1);
  const lines = last("lines");
  if (lines !== undefined) {
    const value = Number(lines);
    if (!/^\d{1,6}$/.test(lines) || value < 1 || value > maxTailLines) {
      throw new ValidationError(
        `log: lines: want an integer from 1 to ${maxTailLines}, got ${JSON.stringify(lines)}`);
    }
    query.lines = value;
  }
  const service = last("service");
  if (service !== undefined) query.service = text("service", service);
  const contains = last("contains");
  if (contains !== undefined) query.contains = text("contains", contains);
  const since = last("since");
  if (since !== undefined) query.since = parseRFC3339("since", since);
  const until = last("until");
  if (until !== undefined) query.until = parseRFC3339("until", until);
  if (query.since !== undefined && query.until !== undefined && query.since > query.until) {
    throw new ValidationError("log: since: must not be after until");
  }
  const follow = last("follow");
  if (follow !== undefined) query.follow = flag("follow", follow);
  return query;
}

/** Whether the query picks entries by anything but position. */
export function filters(query: LogQuery): boolean {
  return query.service !== undefined || query.contains !== undefined ||
    query.since !== undefined || query.until !== undefined;
}
