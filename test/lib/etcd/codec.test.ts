import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decode,
  encode,
  idField,
  intField,
  parseHeader,
  parseKeyValue,
  prefixEnd,
} from "../../../lib/etcd/codec.ts";

describe("etcd gateway encoding", () => {
  it("encodes keys as padded standard base64 and decodes them back", () => {
    assert.equal(encode("foob"), "Zm9vYg==");
    assert.equal(decode("Zm9vYg=="), "foob");
    assert.equal(decode(encode("/distributed/services/http://a:1/ü")), "/distributed/services/http://a:1/ü");
  });

  const ends: [string, number[]][] = [
    ["/reg/svc/", [...Buffer.from("/reg/svc0")]],
    ["a", [0x62]],
    ["a\u00ff", [0x61, 0xc3, 0xc0]], // U+00FF is the UTF-8 bytes 0xc3 0xbf
  ];
  for (const [prefix, end] of ends) {
    it(`ends the range of prefix ${JSON.stringify(prefix)} right after it`, () => {
      assert.deepEqual([...Buffer.from(prefixEnd(prefix), "base64")], end);
    });
  }

  it("ends the range of an empty prefix at the end of the keyspace", () => {
    assert.equal(prefixEnd(""), "AA==");
  });

  it("reads missing fields as zero values, the way the gateway leaves them out", () => {
    const kv = parseKeyValue({ key: encode("k"), mod_revision: "21" });
    assert.deepEqual(kv, {
      key: "k", value: "", createRevision: 0, modRevision: 21, version: 0, lease: "0",
    });
    assert.deepEqual(parseHeader({}), { revision: 0, memberId: "0", raftTerm: 0 });
  });

  it("keeps IDs beyond 2^53 exact as strings", () => {
    assert.equal(idField({ ID: "2932303169971948606" }, "ID"), "2932303169971948606");
  });

  const badInts: [unknown, RegExp][] = [
    ["twelve", /revision: not an integer/],
    ["9007199254740993", /revision: not an integer/],
    [true, /revision: not an integer/],
  ];
  for (const [value, message] of badInts) {
    it(`refuses ${JSON.stringify(value)} as a revision`, () => {
      assert.throws(() => intField({ revision: value }, "revision"), message);
    });
  }

  it("accepts int64s as strings and as numbers", () => {
    assert.equal(intField({ n: "42" }, "n"), 42);
    assert.equal(intField({ n: 42 }, "n"), 42);
    assert.equal(intField({}, "n"), 0);
  });
});
