import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  addProcessMetrics,
  createMetrics,
  latencyBuckets,
} from "../../../lib/std/metrics.ts";
import { promtool } from "../../support/promtool.ts";

describe("metrics", () => {
  it("renders counters, gauges and histograms that promtool accepts", async (t) => {
    const metrics = createMetrics();
    const requests = metrics.counter("http_requests_total", "HTTP requests answered.");
    const depth = metrics.gauge("queue_depth", "Patches waiting.");
    const latency = metrics.histogram("request_duration_seconds", "Time to answer.",
      latencyBuckets);
    requests.inc({ route: "/log", method: "POST", status: "200" });
    requests.inc({ status: "200", method: "POST", route: "/log" }, 2);
    requests.inc({ route: "/log", method: "GET", status: "400" });
    depth.set(5);
    depth.dec(undefined, 2);
    latency.observe(0.0004, { route: "/log" });
    latency.observe(0.003, { route: "/log" });
    latency.observe(99, { route: "/log" });
    addProcessMetrics(metrics);
    const text = metrics.render();
    assert.match(text, /^http_requests_total\{method="POST",route="\/log",status="200"\} 3$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="\/log",status="400"\} 1$/m);
    assert.match(text, /^queue_depth 3$/m);
    assert.match(text, /^request_duration_seconds_bucket\{route="\/log",le="0.0005"\} 1$/m);
    assert.match(text, /^request_duration_seconds_bucket\{route="\/log",le="0.005"\} 2$/m);
    assert.match(text, /^request_duration_seconds_bucket\{route="\/log",le="10"\} 2$/m);
    assert.match(text, /^request_duration_seconds_bucket\{route="\/log",le="\+Inf"\} 3$/m);
    assert.match(text, /^request_duration_seconds_count\{route="\/log"\} 3$/m);
    assert.match(text, /^process_resident_memory_bytes \d+$/m);
    const verdict = await promtool(t, text);
    if (verdict !== undefined) assert.equal(verdict.trim(), "");
  });

  it("escapes label values and help text", () => {
    const metrics = createMetrics();
    metrics.counter("odd_total", 'help with \\ and\nnewline').inc({ path: 'a"b\\c\nd' });
    const text = metrics.render();
    assert.match(text, /^# HELP odd_total help with \\\\ and\\nnewline$/m);
    assert.equal(text.split("\n").find((line) => line.startsWith("odd_total{")),
      'odd_total{path="a\\"b\\\\c\\nd"} 1');
  });

  it("refuses bad names, duplicates, bad labels and buckets out of order", () => {
    const metrics = createMetrics();
    metrics.counter("one_total", "x");
    assert.throws(() => metrics.counter("one_total", "x"), /registered twice/);
    assert.throws(() => metrics.gauge("bad-name", "x"), /bad name/);
    assert.throws(() => metrics.counter("two_total", "x").inc({ "bad-label": "x" }), /label/);
    assert.throws(() => metrics.histogram("h", "x", [1, 1]), /ascend/);
  });

  it("never lets a counter go down", () => {
    const metrics = createMetrics();
    const counter = metrics.counter("c_total", "x");
    counter.inc(undefined, 5);
    counter.inc(undefined, -3);
    assert.match(metrics.render(), /^c_total 5$/m);
  });
});
