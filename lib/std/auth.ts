import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./http.ts";

/**
 * A check of the shared bearer token (docs/protocol.md#security): `check(req)` throws
 * `HttpError(401)` (message `<context>: missing or wrong bearer token`, with
 * `WWW-Authenticate`) unless the request carries `Authorization: Bearer <token>`. The scheme
 * is case-insensitive, as RFC 9110 (section 11.1) says (`bearer T` passes too). Without a
 * token every request passes, so the system stays wire-compatible with Go services.
 */
export function bearerCheck(
  token: string | undefined,
  context: string,
): (req: IncomingMessage) => void {
  if (token === undefined || token === "") return () => {};
  const matches = bearerMatcher(token);
  return (req) => {
    if (matches(req.headers.authorization)) return;
    throw new HttpError(401, `${context}: missing or wrong bearer token`, {
      headers: { "WWW-Authenticate": `Bearer realm="${context}"` },
    });
  };
}

/**
 * Whether an `Authorization` header value carries the shared token, as `bearerCheck` decides
 * it (for code that reads headers without `node:http`); every value matches when there is no
 * token.
 */
export function bearerMatcher(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined || token === "") return () => true;
  const expected = digest(token);
  return (header) => {
    const [, given] = /^bearer +(.*)$/iu.exec(header ?? "") ?? [];
    // Hashing both sides first makes the comparison constant-time whatever the lengths.
    return given !== undefined && timingSafeEqual(digest(given), expected);
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
