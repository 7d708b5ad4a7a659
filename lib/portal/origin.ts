import type { IncomingHttpHeaders } from "node:http";

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Why a request must be refused as a cross-site write, or `undefined` when it may proceed —
 * the rule of Go's `net/http.CrossOriginProtection` (README "Teacher portal: cross-site
 * writes").
 *
 * Reading is always allowed. A write is allowed when the browser says it comes from the
 * portal's own pages (`Sec-Fetch-Site: same-origin`) or from the person (`none`: typed, a
 * bookmark); any other `Sec-Fetch-Site` is refused. Browsers send that header only to secure
 * origins (HTTPS, localhost), so without it the `Origin` must name the host the request was
 * sent to. A request with neither header does not come from a browser page (curl, a test, a
 * script), which cannot be made to act for someone else, so it is allowed.
 */
export function crossSiteRefusal(method: string, headers: IncomingHttpHeaders): string | undefined {
  if (safeMethods.has(method)) return undefined;
  const site = headers["sec-fetch-site"];
  if (site !== undefined) {
    if (site === "same-origin" || site === "none") return undefined;
    return `a ${site} request${from(headers)}`;
  }
  const origin = headers["origin"];
  if (origin === undefined) return undefined;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    // "null" (a sandboxed page, a redirect from elsewhere) or garbage: not the portal's.
  }
  if (host !== undefined && host === headers["host"]?.toLowerCase()) return undefined;
  return `a request${from(headers)}`;
}

function from(headers: IncomingHttpHeaders): string {
  const origin = headers["origin"];
  return origin === undefined ? "" : ` from ${origin.slice(0, 200)}`;
}
