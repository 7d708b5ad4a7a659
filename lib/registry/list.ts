import type { Handler } from "../std/http.ts";
import { parseBlockingQuery, type ChangeIndex } from "./blocking.ts";
import type { Table } from "./table.ts";

/** The header that carries the change index on every `GET /services` answer. */
const indexHeader = "X-Registry-Index";

/**
 * Creates the `GET`/`HEAD /services` handler: the list of registrations (only those named
 * `name` with `?name=`), with the change index in `X-Registry-Index`. With `?index=N` (and
 * `&wait=30s`, default 5 minutes, at most 10) it is a blocking query: the answer waits until
 * the index passes N or the wait ends, then sends the list as it is. A client that disconnects
 * while waiting frees its wait at once. Throws `ValidationError` (answered `400`) for a bad
 * `index` or `wait`.
 */
export function createListHandler(table: Table, changes: ChangeIndex): Handler {
  // Every waiter woken by one change asks for the same list in the same turn of the event loop:
  // build each list once per turn (and again after any change), not once per waiter.
  const built = new Map<string, { index: number; body: string }>();
  const listOf = (name: string | null): { index: number; body: string } => {
    const key = name ?? "";
    const cached = built.get(key);
    if (cached && cached.index === changes.current) return cached;
    if (built.size === 0) setImmediate(() => built.clear());
    const body = table.json(name ?? undefined);
    const list = { index: changes.current, body };
    built.set(key, list);
    return list;
  };

  return async (req, res) => {
    const params = new URL(req.url ?? "/", "http://registry").searchParams;
    const query = parseBlockingQuery(params);
    if (query && query.index === changes.current) {
      const gone = new AbortController();
      const onClose = () => gone.abort();
      res.once("close", onClose);
      try {
        await changes.wait(query.index, query.waitMs, gone.signal);
      } finally {
        res.off("close", onClose);
      }
      if (gone.signal.aborted) return;
    }
    const { index, body } = listOf(params.get("name"));
    res.writeHead(200, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(body),
      [indexHeader]: String(index),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };
}
