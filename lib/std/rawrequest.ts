/** One complete request found by `parseRawRequest`, as offsets into the buffer it was read from. */
export interface RawRequest {
  /** The `Content-Type` header, when sent. */
  contentType: string | undefined;
  /** The `Authorization` header, when sent. */
  authorization: string | undefined;
  /** Offset of the first body byte. */
  bodyStart: number;
  /** Offset just past the body: where the next request starts. */
  end: number;
}

// Longest request head (request line and headers) read: Node's own limit is 16 KiB.
const maxHeadBytes = 8 * 1024;

const headEnd = Buffer.from("\r\n\r\n");
const cr = 0x0d;
const colon = 0x3a;
const space = 0x20;
const tab = 0x09;

// The bytes of a header name (a token: RFC 9110 section 5.6.2) and of a header value (visible
// characters, space, tab and obs-text, as Node's parser takes them).
const tokenByte = new Uint8Array(256);
for (const char of "!#$%&'*+-.^_`|~") tokenByte[char.charCodeAt(0)] = 1;
for (let code = 0x30; code <= 0x39; code++) tokenByte[code] = 1;
for (let code = 0x41; code <= 0x5a; code++) tokenByte[code] = tokenByte[code + 0x20] = 1;
const valueByte = new Uint8Array(256).fill(1, 0x20);
valueByte[tab] = 1;
valueByte[0x7f] = 0;

// The headers the fast path reads, or that make a request one for node:http.
const named = ["host", "content-length", "content-type", "authorization", "connection",
  "transfer-encoding", "expect", "upgrade"] as const;
type Named = (typeof named)[number];
const namesByLength = new Map<number, Named[]>();
for (const name of named) {
  namesByLength.set(name.length, [...namesByLength.get(name.length) ?? [], name]);
}

// Which of `named` the bytes data[start, end) spell, in any case.
function nameAt(data: Buffer, start: number, end: number): Named | undefined {
  for (const name of namesByLength.get(end - start) ?? []) {
    let index = 0;
    // ORing 0x20 lower-cases letters; the names hold only letters and '-', which it keeps.
    while (index < name.length &&
      ((data[start + index] ?? 0) | 0x20) === name.charCodeAt(index)) index++;
    if (index === name.length) return name;
  }
  return undefined;
}

/**
 * Reads one request at `data[at…]` when it is exactly what a fast path can answer without
 * `node:http`: the request line `requestLine` (e.g. `"POST /log HTTP/1.1\r\n"`), well-formed
 * headers (8 KiB at most, request line included) with exactly one `Host`, a `Content-Length`
 * of at most `limit`, no `Transfer-Encoding`, `Expect` or `Upgrade`, at most
 * `Connection: keep-alive`, no header the fast path reads twice, and the whole body in `data`. Returns `undefined` for anything else —
 * incomplete, unusual or malformed alike — so the caller leaves it to `node:http`, which answers
 * it as it always does. Pure; never throws.
 */
export function parseRawRequest(data: Buffer, at: number, requestLine: Buffer,
  limit: number): RawRequest | undefined {
  const lineEnd = at + requestLine.length;
  if (data.length < lineEnd) return undefined;
  if (data.compare(requestLine, 0, requestLine.length, at, lineEnd) !== 0) return undefined;
  const end = data.indexOf(headEnd, lineEnd - 2);
  if (end === -1 || end - at > maxHeadBytes) return undefined;
  let contentType: string | undefined;
  let authorization: string | undefined;
  let length = -1;
  let hosts = 0;
  // One header line per turn: name, colon, optional white space, value, CRLF.
  for (let start = lineEnd; start < end + 2;) {
    let index = start;
    while (tokenByte[data[index] ?? 0] === 1) index++;
    if (index === start || data[index] !== colon) return undefined;
    const name = nameAt(data, start, index);
    index++;
    while (data[index] === space || data[index] === tab) index++;
    const valueStart = index;
    while (valueByte[data[index] ?? 0] === 1) index++;
    if (data[index] !== cr || data[index + 1] !== 0x0a) return undefined;
    let valueEnd = index;
    while (valueEnd > valueStart && (data[valueEnd - 1] === space || data[valueEnd - 1] === tab)) {
      valueEnd--;
    }
    start = index + 2;
    if (name === undefined) continue;
    switch (name) {
      case "host":
        hosts++;
        break;
      case "content-length":
        if (length !== -1 || valueEnd === valueStart || valueEnd - valueStart > 9) return undefined;
        length = 0;
        for (let digit = valueStart; digit < valueEnd; digit++) {
          const code = (data[digit] ?? 0) - 0x30;
          if (code < 0 || code > 9) return undefined;
          length = length * 10 + code;
        }
        break;
      case "content-type":
        if (contentType !== undefined) return undefined;
        contentType = data.toString("latin1", valueStart, valueEnd);
        break;
      case "authorization":
        if (authorization !== undefined) return undefined;
        authorization = data.toString("latin1", valueStart, valueEnd);
        break;
      case "connection":
        if (data.toString("latin1", valueStart, valueEnd).toLowerCase() !== "keep-alive") {
          return undefined;
        }
        break;
      default:
        // Transfer-Encoding, Expect, Upgrade: node:http's business.
        return undefined;
    }
  }
  if (hosts !== 1 || length === -1) return undefined;
  const bodyStart = end + 4;
  if (length > limit || data.length < bodyStart + length) return undefined;
  return { contentType, authorization, bodyStart, end: bodyStart + length };
}
