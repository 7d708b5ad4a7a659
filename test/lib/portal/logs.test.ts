import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  logQuery,
  pageQuery,
  parseLogFilter,
} from "../../../lib/portal/logfilter.ts";
import { request } from "../../../lib/std/request.ts";
import { openStream } from "../../../lib/std/stream.ts";
import { postEntries } from "../../support/log.ts";
import { createWaiters } from "../../support/wait.ts";
import { startSystem } from "./system.ts";

describe("log filter", () => {
  it("accepts RFC 3339 and a form's local time, refuses anything else naming the field", () => {
    // What the log service is asked for `since`, or undefined when the form refuses it.
    const since = (text: string) => {
      const { filter, errors } = parseLogFilter(new URLSearchParams({ since: text }));
      const asked = new URLSearchParams(logQuery(filter)).get("since") ?? undefined;
      assert.equal(errors.since === undefined, asked !== undefined, text);
      return asked;
    };
    assert.equal(since("2026-11-25T14:00:00Z"), "2026-11-25T14:00:00.000Z");
    assert.equal(since("2026-11-25T14:00:00+01:00"), "2026-11-25T13:00:00.000Z");
    assert.equal(since("2026-11-25T14:00"), new Date(2026, 10, 25, 14, 0).toISOString());
    for (const bad of ["yesterday", "2026-11-25", "2026-13-45T99:00:00Z", "1700000000"]) {
      assert.equal(since(bad), undefined, bad);
    }
    const { errors } = parseLogFilter(
      new URLSearchParams({ since: "yesterday", until: "2026-11-25T15:00:00Z", lines: "0" }),
    );
    assert.deepEqual(errors, {
      since: "since: a time such as 2026-11-25T14:00:00Z",
      lines: "lines: a whole number from 1 to 10,000",
    });
    const long = parseLogFilter(new URLSearchParams({ contains: "x".repeat(300) })).errors;
    assert.deepEqual(Object.keys(long), ["contains"]);
  });

  it("asks the log service for what the page shows, and follows with the same filter", () => {
    const { filter } = parseLogFilter(
      new URLSearchParams({
        service: "GradingService",
        contains: "a&b",
        since: "2026-11-25T14:00:00Z",
      }),
    );
    assert.equal(
      logQuery(filter),
      "?service=GradingService&contains=a%26b&since=2026-11-25T14%3A00%3A00.000Z&lines=100",
    );
    assert.equal(
      logQuery(filter, true),
      "?follow=1&service=GradingService&contains=a%26b&since=2026-11-25T14%3A00%3A00.000Z" +
        "&lines=100",
    );
    assert.equal(
      pageQuery(filter),
      "?service=GradingService&contains=a%26b&since=2026-11-25T14%3A00%3A00Z",
    );
    assert.equal(pageQuery(parseLogFilter(new URLSearchParams()).filter), "");
  });
});

/** Reads an event stream, collecting its events as [name, data]. */
function events(body: NodeJS.ReadableStream) {
  const seen: Array<[string, string]> = [];
  const waiters = createWaiters();
  let buffer = "";
  body.setEncoding("utf8");
  body.on("data", (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end).split("\n");
      buffer = buffer.slice(end + 2);
      const name = block.find((line) => line.startsWith("event: "))?.slice(7);
      const data = block.filter((line) => line.startsWith("data: ")).map((l) => l.slice(6));
      if (name !== undefined) seen.push([name, data.join("\n")]);
    }
    waiters.wake();
  });
  const count = (n: number) =>
    waiters.until(() => (seen.length >= n ? seen : undefined), 10_000, () =>
      new Error(`only ${JSON.stringify(seen)}`));
  return { seen, count };
}

describe("portal /logs", () => {
  it("filters with the log service, refills the form, refuses a bad filter by field", async (t) => {
    const system = await startSystem(t);
    await postEntries(system.log.handle.url, [
      "[GradingService] - added grade mark-1",
      "[HelloService] - said hello mark-2",
      "[GradingService] - refused a grade mark-3",
    ]);
    const portal = system.portal.handle.url;
    const page = await request(`${portal}/logs?service=GradingService&contains=mark&lines=5`);
    assert.equal(page.status, 200);
    const text = page.text();
    const shown = [...text.matchAll(/<span>go [\d/: ]+(\[\w+\] - [^\n]*)\n<\/span>/g)];
    assert.deepEqual(shown.map((match) => match[1]), [
      "[GradingService] - added grade mark-1",
      "[GradingService] - refused a grade mark-3",
    ]);
    assert.match(text, /id="filter-service" name="service" value="GradingService"/);
    assert.match(text, /The latest entries that match from the log service/);
    assert.match(text, /<pre id="log" data-events="\/events\/logs\?service=GradingService&amp;/);

    const bad = await request(`${portal}/logs?since=yesterday&lines=5`);
    assert.equal(bad.status, 400);
    assert.match(bad.text(), /id="filter-since" name="since" value="yesterday"[^>]* aria-invalid/);
    assert.match(bad.text(), /id="filter-since-error">a time such as 2026-11-25T14:00:00Z</);
  });

  it("streams the latest matching entries, then each new one once", async (t) => {
    const system = await startSystem(t);
    const log = system.log.handle.url;
    await postEntries(log, ["old mark-a", "not this one", "old mark-b"]);
    const stream = await openStream(`${system.portal.handle.url}/events/logs?contains=mark`);
    t.after(() => stream.body.destroy());
    const { count } = events(stream.body);
    const [first] = await count(1);
    assert.equal(first?.[0], "replace");
    const old = /^<span>go [^<]* old mark-a\n<\/span><span>go [^<]* old mark-b\n<\/span>$/;
    assert.match(first?.[1] ?? "", old);
    await postEntries(log, ["new <mark-c>", "skipped"]);
    const [, second] = await count(2);
    assert.equal(second?.[0], "append");
    assert.match(second?.[1] ?? "", /^<span>go [^<]* new &lt;mark-c&gt;\n<\/span>$/);

    // The log service goes: the page is told why, and the stream keeps trying.
    await system.log.stop();
    const failed = await count(3);
    assert.match(failed.at(-1)?.[1] ?? "", /^<span class="error">.*LogService/);
  });
});
