import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { entryHead, escapeMessage } from "../../../lib/log/entry.ts";
import { entryLines } from "../../../lib/log/ingest.ts";

// Local time, so the expected text does not depend on the machine's time zone.
const date = new Date(2026, 10, 25, 14, 40, 27);

/** The line a plain-text `POST /log` of `message` appends, as the log server builds it. */
function entryLine(prefix: string, message: string): string {
  return entryLines("text/plain", Buffer.from(message), entryHead(prefix, () => date)()).text;
}

describe("an entry line", () => {
  it("writes Go's LstdFlags format with the prefix", () => {
    assert.equal(entryLine("go ", "hello"), "go 2026/11/25 14:40:27 hello\n");
    assert.equal(entryLine("", "x"), "2026/11/25 14:40:27 x\n");
  });

  it("trims trailing newlines only", () => {
    assert.equal(entryLine("go ", "  hi  \n\r\n\n"), "go 2026/11/25 14:40:27   hi  \n");
  });

  const forgeries: Array<[string, string, string]> = [
    ["LF", "a\ngo 2026/11/25 14:40:27 forged", "a\\ngo 2026/11/25 14:40:27 forged"],
    ["CR", "a\rgo forged", "a\\rgo forged"],
    ["CRLF in the middle", "a\r\nb", "a\\r\\nb"],
    ["NUL", "a\u0000b", "a\\u0000b"],
    ["tab", "a\tb", "a\\tb"],
    ["escape sequence", "\u001b[2Jx", "\\u001b[2Jx"],
    ["DEL and NEL", "a\u007fb\u0085c", "a\\u007fb\\u0085c"],
    ["Unicode line separators", "a\u2028b\u2029c", "a\\u2028b\\u2029c"],
    ["a right-to-left override", "[Grading] - \u202egnp.exe", "[Grading] - \\u202egnp.exe"],
    ["a literal backslash-n", "a\\nb", "a\\\\nb"],
    ["a backslash before a real newline", "a\\\nb", "a\\\\\\nb"],
  ];
  for (const [name, message, escaped] of forgeries) {
    it(`escapes ${name} so the entry stays one line`, () => {
      const line = entryLine("go ", message);
      assert.equal(line, `go 2026/11/25 14:40:27 ${escaped}\n`);
      assert.equal(line.indexOf("\n"), line.length - 1, "exactly one newline, at the end");
      assert.doesNotMatch(line.slice(0, -1), /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    });
  }

  it("keeps non-ASCII text as it is", () => {
    assert.equal(escapeMessage("größe 日本 🙂"), "größe 日本 🙂");
  });

  it("returns plain messages unchanged and an all-newline message empty", () => {
    const message = "plain text";
    assert.equal(escapeMessage(message), message);
    assert.equal(escapeMessage("\n\r\n"), "");
    assert.equal(escapeMessage(""), "");
  });
});

describe("entryHead", () => {
  it("renders the prefix and timestamp, following the clock across seconds", () => {
    let now = date;
    const head = entryHead("svc ", () => now);
    assert.equal(head(), "svc 2026/11/25 14:40:27 ");
    now = new Date(date.getTime() + 999);
    assert.equal(head(), "svc 2026/11/25 14:40:27 ");
    now = new Date(date.getTime() + 1_000);
    assert.equal(head(), "svc 2026/11/25 14:40:28 ");
  });
});
