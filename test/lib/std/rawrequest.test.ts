import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRawRequest } from "../../../lib/std/rawrequest.ts";

const line = Buffer.from("POST /log HTTP/1.1\r\n");
const head = (headers: string) => `POST /log HTTP/1.1\r\n${headers}\r\n`;
const plain = head("Host: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n");
const parse = (text: string, limit = 100) => parseRawRequest(Buffer.from(text, "latin1"), 0,
  line, limit);

describe("parseRawRequest", () => {
  it("reads a complete request: its headers, where its body is, where the next starts", () => {
    const text = `${plain}hello`;
    assert.deepEqual(parse(text), {
      contentType: "text/plain",
      authorization: undefined,
      bodyStart: plain.length,
      end: text.length,
    });
  });

  it("reads a request at an offset, and names spelled in any case", () => {
    const second = head("hOsT: x\r\ncontent-LENGTH:2\r\nAUTHORIZATION: \tBearer t \r\n" +
      "Connection: Keep-Alive\r\nX-Other: anything, even \u00e9\r\n");
    const data = Buffer.from(`${plain}hello${second}hiPOST`, "latin1");
    const at = plain.length + 5;
    assert.deepEqual(parseRawRequest(data, at, line, 100), {
      contentType: undefined,
      authorization: "Bearer t",
      bodyStart: at + second.length,
      end: at + second.length + 2,
    });
  });

  it("takes an empty body and one of exactly the limit", () => {
    assert.ok(parse(head("Host: x\r\nContent-Length: 0\r\n")));
    assert.ok(parse(`${plain}hello`, 5));
  });

  const leftToNodeHttp: Array<[string, string]> = [
    ["another path", `POST /log?x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`],
    ["another method", `GET /log HTTP/1.1\r\nHost: x\r\n\r\n`],
    ["a lower-case method", `post /log HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`],
    ["HTTP/1.0", `POST /log HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n`],
    ["a head not complete yet", "POST /log HTTP/1.1\r\nHost: x\r\nContent-Le"],
    ["a request line alone", "POST /log HTT"],
    ["a body not complete yet", `${plain}hell`],
    ["a body over the limit", `${head("Host: x\r\nContent-Length: 101\r\n")}${"a".repeat(101)}`],
    ["no Host", `${head("Content-Length: 5\r\n")}hello`],
    ["two Hosts", `${head("Host: x\r\nHost: y\r\nContent-Length: 5\r\n")}hello`],
    ["no Content-Length", head("Host: x\r\n")],
    ["two Content-Lengths", `${head("Host: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n")}` +
      "hello"],
    ["a negative Content-Length", `${head("Host: x\r\nContent-Length: -1\r\n")}hello`],
    ["a signed Content-Length", `${head("Host: x\r\nContent-Length: +5\r\n")}hello`],
    ["Transfer-Encoding", `${head("Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: " +
      "chunked\r\n")}hello`],
    ["Expect", `${head("Host: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n")}hello`],
    ["Upgrade", `${head("Host: x\r\nContent-Length: 5\r\nUpgrade: websocket\r\n")}hello`],
    ["Connection: close", `${head("Host: x\r\nContent-Length: 5\r\nConnection: close\r\n")}hello`],
    ["two Content-Types", `${head("Host: x\r\nContent-Length: 5\r\nContent-Type: a\r\n" +
      "Content-Type: b\r\n")}hello`],
    ["two Authorizations", `${head("Host: x\r\nContent-Length: 5\r\nAuthorization: a\r\n" +
      "Authorization: b\r\n")}hello`],
    ["a space before the colon", `${head("Host : x\r\nContent-Length: 5\r\n")}hello`],
    ["a control character in a value", `${head("Host: x\u0001\r\nContent-Length: 5\r\n")}hello`],
    ["a bare LF in a value", `${head("Host: x\ny: z\r\nContent-Length: 5\r\n")}hello`],
    ["an empty header name", `${head("Host: x\r\n: y\r\nContent-Length: 5\r\n")}hello`],
    ["a CR alone in a value", `${head("Host: x\ry\r\nContent-Length: 5\r\n")}hello`],
    ["a Content-Length of ten digits", `${head("Host: x\r\nContent-Length: 0000000005\r\n")}` +
      "hello"],
    ["an empty Content-Length", `${head("Host: x\r\nContent-Length: \r\n")}hello`],
    ["a folded header line", `${head("Host: x\r\n folded\r\nContent-Length: 5\r\n")}hello`],
    ["a header name with a control", `${head("Host: x\r\nX\u0001: y\r\nContent-Length: 5\r\n")}` +
      "hello"],
    ["a head over the size bound", `${head(`Host: x\r\nX: ${"h".repeat(8 * 1024)}\r\n` +
      "Content-Length: 5\r\n")}hello`],
  ];
  for (const [what, text] of leftToNodeHttp) {
    it(`leaves ${what} to node:http`, () => {
      assert.equal(parse(text), undefined);
    });
  }
});
