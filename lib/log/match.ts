import type { LogQuery } from "./query.ts";

/** Picks the entries of a query out of blocks of whole lines. */
export interface LineFilter {
  /**
   * Visits the matching lines of `data` — whole lines, each ending in `\n` — newest first,
   * calling `take(start, end)` with each line's range (`\n` excluded); a `take` that returns
   * false stops the visit. Returns false when nothing older can match (an entry stamped
   * before `since` was reached: the file is in write order), true to go on with older data.
   */
  pick(data: Buffer, take: (start: number, end: number) => boolean): boolean;
}

const newline = 0x0a;
// `YYYY/MM/DD HH:MM:SS `: the separators after the prefix (digits everywhere else).
const stampLength = 19;
// The byte expected at each offset: a separator, or 0 for a digit.
const pattern = Buffer.from("0000/00/00 00:00:00 ").map((code) => (code === 0x30 ? 0 : code));

// Whether `data` holds a stamp and its space at `at`, read byte by byte (no string made).
function isStamp(data: Buffer, at: number, end: number): boolean {
  if (end - at < stampLength + 1) return false;
  for (let offset = 0; offset <= stampLength; offset++) {
    const code = data[at + offset] ?? 0;
    const separator = pattern[offset] ?? 0;
    if (separator === 0 ? code < 0x30 || code > 0x39 : code !== separator) return false;
  }
  return true;
}

// The number written in `data[at, at + length)`, known to be digits.
function digits(data: Buffer, at: number, length: number): number {
  let value = 0;
  for (let offset = 0; offset < length; offset++) {
    value = value * 10 + (data[at + offset] ?? 0x30) - 0x30;
  }
  return value;
}

/**
 * Builds the filter of `query` for entries written with `prefix`
 * (`<prefix><YYYY/MM/DD HH:MM:SS> <message>`, local time). `service` matches a message that
 * starts with `[service] - `; `contains` any message holding the text; `since`/`until` compare
 * the stamp, to the second. Lines without a stamp match only when no time is asked for.
 */
export function lineFilter(query: LogQuery, prefix: string): LineFilter {
  const skip = Buffer.byteLength(prefix);
  const service = query.service === undefined ? undefined : Buffer.from(`[${query.service}] - `);
  const contains = query.contains === undefined ? undefined : Buffer.from(query.contains);
  const { since, until } = query;
  const timed = since !== undefined || until !== undefined;
  // Since is compared to the second the stamp names: an entry of 14:40:27 matches since
  // 14:40:27.5, as it may have been written after it.
  const sinceSecond = since === undefined ? undefined : Math.floor(since / 1_000) * 1_000;
  // Lines of one round share their stamp: the last one read is kept.
  const lastStamp = Buffer.alloc(stampLength);
  let lastTime = Number.NaN;

  // The local time an entry line is stamped with, or NaN when it has no stamp.
  const stampOf = (data: Buffer, start: number, end: number): number => {
    const at = start + skip;
    if (!isStamp(data, at, end)) return Number.NaN;
    let same = !Number.isNaN(lastTime);
    for (let offset = stampLength - 1; same && offset >= 0; offset--) {
      same = data[at + offset] === lastStamp[offset];
    }
    if (same) return lastTime;
    data.copy(lastStamp, 0, at, at + stampLength);
    lastTime = new Date(digits(data, at, 4), digits(data, at + 5, 2) - 1, digits(data, at + 8, 2),
      digits(data, at + 11, 2), digits(data, at + 14, 2), digits(data, at + 17, 2)).getTime();
    return lastTime;
  };

  // Where the message starts: after the stamp, or at the line's start for a foreign line.
  const messageOf = (data: Buffer, start: number, end: number): number =>
    isStamp(data, start + skip, end) ? start + skip + stampLength + 1 : start;

  // Whether one of the hits from `index` down, still inside the line, is exactly at `at`.
  const hitAt = (hits: number[], index: number, at: number, start: number): boolean => {
    for (let i = index; i >= 0 && (hits[i] ?? -1) >= start; i--) if (hits[i] === at) return true;
    return false;
  };

  const hitsOf = (data: Buffer, needle: Buffer | undefined): number[] | undefined => {
    if (!needle) return undefined;
    const hits: number[] = [];
    for (let at = data.indexOf(needle); at !== -1; at = data.indexOf(needle, at + 1)) {
      hits.push(at);
    }
    return hits;
  };

  return {
    pick(data, take) {
      const serviceHits = hitsOf(data, service);
      const containsHits = hitsOf(data, contains);
      // Nothing to find in this block: skip it, unless it may hold the line that stops us.
      if (serviceHits?.length === 0 || containsHits?.length === 0) {
        if (sinceSecond === undefined) return true;
        const firstEnd = data.indexOf(newline);
        const first = stampOf(data, 0, firstEnd);
        if (Number.isNaN(first) || first >= sinceSecond) return true;
      }
      let serviceHit = (serviceHits?.length ?? 0) - 1;
      let containsHit = (containsHits?.length ?? 0) - 1;
      let end = data.length - 1;
      while (end >= 0) {
        const start = end === 0 ? 0 : data.lastIndexOf(newline, end - 1) + 1;
        const lineEnd = end;
        end = start - 1;
        if (timed) {
          const time = stampOf(data, start, lineEnd);
          if (Number.isNaN(time)) continue;
          if (sinceSecond !== undefined && time < sinceSecond) return false;
          if (until !== undefined && time > until) continue;
        }
        // Cheap first: is there a hit inside the line at all? Only then where its message is.
        if (serviceHits) {
          while (serviceHit >= 0 && (serviceHits[serviceHit] ?? 0) > lineEnd) serviceHit--;
          if (serviceHit < 0 || (serviceHits[serviceHit] ?? -1) < start) continue;
        }
        if (containsHits && contains) {
          const last = lineEnd - contains.length;
          while (containsHit >= 0 && (containsHits[containsHit] ?? 0) > last) containsHit--;
          if (containsHit < 0 || (containsHits[containsHit] ?? -1) < start) continue;
        }
        if (serviceHits || containsHits) {
          const message = messageOf(data, start, lineEnd);
          if (serviceHits && !hitAt(serviceHits, serviceHit, message, start)) continue;
          if (containsHits && (containsHits[containsHit] ?? -1) < message) continue;
        }
        if (!take(start, lineEnd)) return true;
      }
      return true;
    },
  };
}
