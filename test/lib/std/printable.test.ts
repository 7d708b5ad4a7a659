import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { printable } from "../../../lib/std/printable.ts";

// What an attacker puts into a name, a URL or a body to reach a terminal, and how it must print.
const hostile: Array<[what: string, text: string, shown: string]> = [
  ["a clear-screen sequence", "\u001b[2J\u001b[H", "\\u001b[2J\\u001b[H"],
  ["a colour", "\u001b[31mred\u001b[0m", "\\u001b[31mred\\u001b[0m"],
  ["an OSC window title", "\u001b]0;pwned\u0007", "\\u001b]0;pwned\\u0007"],
  ["a forged line after CR LF", "x\r\n2026/11/25 [Registry] registry: deregistered A",
    "x\\r\\n2026/11/25 [Registry] registry: deregistered A"],
  ["a carriage return alone", "ok\rfake", "ok\\rfake"],
  ["a C1 CSI", "\u009b31m", "\\u009b31m"],
  ["NEL", "a\u0085b", "a\\u0085b"],
  ["DEL and NUL", "\u007f\u0000", "\\u007f\\u0000"],
  ["a tab", "a\tb", "a\\tb"],
  ["the line and paragraph separators", "a\u2028b\u2029c", "a\\u2028b\\u2029c"],
  ["a right-to-left override", "gnp\u202eexe.png", "gnp\\u202eexe.png"],
  ["every other bidi control", "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069",
    "\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069"],
  ["a backslash", "C:\\temp\\n", "C:\\\\temp\\\\n"],
];

describe("printable", () => {
  for (const [what, text, shown] of hostile) {
    it(`shows ${what} escaped`, () => {
      const out = printable(text);
      assert.equal(out, shown);
      assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/);
    });
  }

  it("keeps plain and non-ASCII text as it is", () => {
    for (const text of ["", "GradingService at http://127.0.0.1:6000/x?y=1#z",
      "größe 日本 عربي 🙂 ‐–—"]) {
      assert.equal(printable(text), text);
    }
  });
});
