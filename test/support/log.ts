// Posting entries to a log service the way the durability tests do.
import type { Agent } from "node:http";
import { request } from "../../lib/std/request.ts";

/**
 * POSTs `messages` to `<url>/log`: one text entry when there is one message, a JSON batch
 * otherwise. Resolves only when the service acknowledged them (`200`); rejects on any other
 * status or a failed request (e.g. the service was killed mid-request).
 */
export async function postEntries(
  url: string,
  messages: readonly string[],
  options: { agent?: Agent; timeoutMs?: number } = {},
): Promise<void> {
  const batch = messages.length !== 1;
  const response = await request(`${url}/log`, {
    method: "POST",
    headers: { "Content-Type": batch ? "application/json" : "text/plain" },
    body: batch ? JSON.stringify(messages) : (messages[0] ?? ""),
    ...options,
  });
  if (response.status !== 200) throw new Error(`log: status ${response.status}`);
}
