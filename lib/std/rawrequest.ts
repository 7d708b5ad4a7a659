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

/** Longest request head (request line and headers) `parseRawRequest` reads. */
export const maxRawHeadBytes = 8 * 1024;

const headEnd = Buffer.from("\r\n\r\n");
// A header line: a token, a colon, a value of visible characters, spaces and tabs (RFC 9110
// section 5.5; obs-text allowed, as Node's parser does), optional white space around it.
const headerLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*$/;
const digits = /^\d{1,9}$/;

/**
 * Reads one request at `data[at…]` when it is exactly what a fast path can answer without
 * `node:http`: the request line `requestLine` (e.g. `"POST /log HTTP/1.1\r\n"`), well-formed
 * headers with exactly one `Host`, a `Content-Length` of at most `limit`, no
 * `Transfer-Encoding`, `Expect` or `Upgrade`, at most `Connection: keep-alive`, no header the
 * fast path reads twice, and the whole body in `data`. Returns `undefined` for anything else —
 * incomplete, unusual or malformed alike — so the caller leaves it to `node:http`, which answers
 * it as it always does. Pure; never throws.
 */
export function parseRawRequest(data: Buffer, at: number, requestLine: Buffer,
  limit: number): RawRequest | undefined {
  const lineEnd = at + requestLine.length;
  if (data.length < lineEnd) return undefined;
  if (data.compare(requestLine, 0, requestLine.length, at, lineEnd) !== 0) return undefined;
  const end = data.indexOf(headEnd, lineEnd - 2);
  if (end === -1 || end - at > maxRawHeadBytes) return undefined;
  let contentType: string | undefined;
  let authorization: string | undefined;
  let length: string | undefined;
  let hosts = 0;
  // Each header line, without its CRLF; latin1 keeps one character per byte.
  const lines = end === lineEnd - 2 ? [] : data.toString("latin1", lineEnd, end).split("\r\n");
  for (const line of lines) {
    const match = headerLine.exec(line);
    if (!match) return undefined;
    const value = match[2] ?? "";
    switch ((match[1] ?? "").toLowerCase()) {
      case "host":
        hosts++;
        break;
      case "content-length":
        if (length !== undefined || !digits.test(value)) return undefined;
        length = value;
        break;
      case "content-type":
        if (contentType !== undefined) return undefined;
        contentType = value;
        break;
      case "authorization":
        if (authorization !== undefined) return undefined;
        authorization = value;
        break;
      case "connection":
        if (value.toLowerCase() !== "keep-alive") return undefined;
        break;
      case "transfer-encoding":
      case "expect":
      case "upgrade":
        return undefined;
    }
  }
  if (hosts !== 1 || length === undefined) return undefined;
  const size = Number(length);
  const bodyStart = end + 4;
  if (size > limit || data.length < bodyStart + size) return undefined;
  return { contentType, authorization, bodyStart, end: bodyStart + size };
}
