// Test helpers for `GET /metrics`: scrape a service and read one metric out of the text.
import assert from "node:assert/strict";
import { request } from "../../lib/std/request.ts";

/** `GET <url>/metrics`; asserts a 200 in the text exposition format and returns the text. */
export async function scrape(url: string): Promise<string> {
  const response = await request(`${url}/metrics`, { timeoutMs: 10_000 });
  assert.equal(response.status, 200, `GET ${url}/metrics: ${response.text()}`);
  assert.match(String(response.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  return response.text();
}

/**
 * The sum of every sample of `series` in the exposition `text`: `name` sums all its series,
 * `name{a="b"}` only the series whose labels include `a="b"` (each pair given must be there, in
 * any order). `0` when there is none.
 */
export function metricValue(text: string, series: string): number {
  const brace = series.indexOf("{");
  const name = brace < 0 ? series : series.slice(0, brace);
  const wanted = brace < 0 ? [] : labelPairs(series.slice(brace + 1, -1));
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = labelPairs(match[2] ?? "");
    if (wanted.every((pair) => labels.includes(pair))) sum += Number(match[3]);
  }
  return sum;
}

// Label values in these tests hold no `",` sequences: a split on them is enough.
function labelPairs(text: string): string[] {
  return text === "" ? [] : text.split(/(?<="),/u);
}
