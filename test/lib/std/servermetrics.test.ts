import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sendText } from "../../../lib/std/http.ts";
import { listen } from "../../../lib/std/listen.ts";
import { addProcessMetrics, createMetrics } from "../../../lib/std/metrics.ts";
import { request } from "../../../lib/std/request.ts";
import { createRouter } from "../../../lib/std/router.ts";
import { promtool } from "../../support/promtool.ts";

describe("GET /metrics of a server", () => {
  it("counts requests by route pattern and status, times them, and passes promtool", async (t) => {
    const metrics = createMetrics();
    addProcessMetrics(metrics);
    const handler = createRouter([
      { path: "/students/:id", methods: { GET: (_req, res) => sendText(res, 200, "ok") } },
    ]);
    const server = await listen(handler, { host: "127.0.0.1", metrics });
    t.after(() => server.close());
    for (const id of [1, 2, 3]) {
      assert.equal((await request(`${server.url}/students/${id}`)).status, 200);
    }
    assert.equal((await request(`${server.url}/students/1`, { method: "POST" })).status, 405);
    assert.equal((await request(`${server.url}/nowhere`)).status, 404);

    const scrape = await request(`${server.url}/metrics`);
    assert.equal(scrape.status, 200);
    assert.match(String(scrape.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    const text = scrape.text();
    const series = (pattern: RegExp) => Number(pattern.exec(text)?.[1]);
    assert.equal(series(
      /^http_requests_total\{method="GET",route="\/students\/:id",status="200"\} (\d+)$/m), 3);
    assert.equal(series(
      /^http_requests_total\{method="POST",route="\/students\/:id",status="405"\} (\d+)$/m), 1);
    assert.equal(series(
      /^http_requests_total\{method="GET",route="unmatched",status="404"\} (\d+)$/m), 1);
    assert.equal(series(
      /^http_request_duration_seconds_count\{method="GET",route="\/students\/:id"\} (\d+)$/m), 3);
    assert.ok(series(/^http_open_connections (\d+)$/m) >= 1, "the scrape's own connection");
    assert.ok(series(/^process_cpu_seconds_total ([\d.e-]+)$/m) > 0);

    // The scrape itself is counted once it is finished.
    const again = (await request(`${server.url}/metrics`)).text();
    assert.match(again, /^http_requests_total\{method="GET",route="\/metrics",status="200"\} 1$/m);
    const verdict = await promtool(t, again);
    if (verdict !== undefined) assert.equal(verdict.trim(), "");
  });

  it("is not there without metrics: the handler answers /metrics itself", async (t) => {
    const server = await listen(createRouter([]), { host: "127.0.0.1" });
    t.after(() => server.close());
    assert.equal((await request(`${server.url}/metrics`)).status, 404);
  });
});
