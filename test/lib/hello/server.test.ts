import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { createHelloHandler } from "../../../lib/hello/server.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request } from "../../../lib/std/request.ts";
import { handContext } from "../../support/context.ts";

async function startHello(t: TestContext) {
  const { context, lines } = handContext(t);
  // Served as startService serves it: the server reports errors to the service's log.
  const server = await listen(createHelloHandler(context), { host: "127.0.0.1", log: context.log });
  t.after(() => server.close(0));
  return { url: server.url, get: (path: string) => request(`${server.url}${path}`), lines };
}

describe("hello GET /hello", () => {
  it("greets the name as text/plain and logs one line", async (t) => {
    const hello = await startHello(t);
    const response = await hello.get("/hello?name=Ada%20%3Cb%3E%20%E2%9C%93");
    assert.equal(response.status, 200);
    assert.match(String(response.headers["content-type"]), /^text\/plain; charset=utf-8/);
    assert.equal(response.text(), "Hello, Ada <b> ✓!\n");
    assert.deepEqual(hello.lines, [`said hello to "Ada <b> ✓"`]);
  });

  it("greets the world without a name", async (t) => {
    const hello = await startHello(t);
    assert.equal((await hello.get("/hello")).text(), "Hello, world!\n");
  });

  const bad: Array<[string, number, RegExp]> = [
    ["/hello?name=", 400, /name: must be 1 to 100 characters/],
    [`/hello?name=${"x".repeat(101)}`, 400, /name: must be 1 to 100 characters/],
    ["/hello?name=a%0Ab", 400, /control characters/],
    ["/goodbye", 404, /no such path/],
  ];
  for (const [path, status, message] of bad) {
    it(`answers ${status} to ${path.slice(0, 30)} and logs it once`, async (t) => {
      const hello = await startHello(t);
      const response = await hello.get(path);
      assert.equal(response.status, status);
      assert.match(String((response.json() as { error: unknown }).error), message);
      assert.equal(hello.lines.length, 1, "one line per bad request, no greeting");
      assert.match(hello.lines[0] ?? "", new RegExp(`^GET /.*: ${status} .*${message.source}`));
    });
  }

  it("answers 405 with Allow to other methods", async (t) => {
    const hello = await startHello(t);
    const response = await request(`${hello.url}/hello`, { method: "POST", body: "x" });
    assert.equal(response.status, 405);
    assert.equal(response.headers["allow"], "GET, HEAD");
  });
});
