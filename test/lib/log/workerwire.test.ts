import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseFromWorker, parseToWorker } from "../../../lib/log/workerwire.ts";
import { ValidationError } from "../../../lib/std/errors.ts";

describe("log worker messages", () => {
  it("reads every message both ways", () => {
    assert.deepEqual(parseToWorker({ type: "config", prefix: "go ", url: "http://h:1" }),
      { type: "config", prefix: "go ", url: "http://h:1" });
    assert.deepEqual(parseToWorker({ type: "connection", head: "POST /log" }),
      { type: "connection", head: "POST /log" });
    assert.deepEqual(parseToWorker({ type: "stored", id: 3 }), { type: "stored", id: 3 });
    assert.deepEqual(parseToWorker({ type: "stored", id: 3, code: "ENOSPC" }),
      { type: "stored", id: 3, code: "ENOSPC" });
    assert.deepEqual(parseToWorker({ type: "stop", extra: 1 }), { type: "stop" });
    assert.deepEqual(parseFromWorker({ type: "ready" }), { type: "ready" });
    assert.deepEqual(parseFromWorker({ type: "append", id: 1, text: "a\n", count: 1 }),
      { type: "append", id: 1, text: "a\n", count: 1 });
  });

  // [what, parser, message, error]
  const bad: Array<[string, (value: unknown) => unknown, unknown, RegExp]> = [
    ["null", parseToWorker, null, /not an object/],
    ["an unknown type", parseToWorker, { type: "dance" }, /unknown type dance/],
    ["a config without url", parseToWorker, { type: "config", prefix: "" }, /url/],
    ["a fractional id", parseToWorker, { type: "stored", id: 1.5 }, /id must be a number/],
    ["a numeric code", parseToWorker, { type: "stored", id: 1, code: 5 }, /code/],
    ["text that is not text", parseFromWorker, { type: "append", id: 1, text: 1, count: 1 },
      /text/],
    ["an unknown type from a worker", parseFromWorker, { type: "stop" }, /unknown type stop/],
  ];
  for (const [what, parse, message, error] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parse(message), (thrown: unknown) =>
        thrown instanceof ValidationError && error.test(thrown.message));
    });
  }
});
