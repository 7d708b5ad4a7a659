import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { HttpError, sendJSON, sendText } from "../../../lib/std/http.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request } from "../../../lib/std/request.ts";
import { createRouter, type Route, type RouterOptions } from "../../../lib/std/router.ts";

const routes: Route[] = [
  {
    path: "/students",
    methods: { GET: (_req, res) => sendText(res, 200, "list") },
  },
  {
    path: "/students/:id/grades",
    methods: {
      POST: (_req, res, params) => sendJSON(res, 201, params),
      PUT: () => {
        throw new HttpError(409, "conflict here");
      },
      DELETE: async () => {
        await Promise.resolve();
        throw new Error("secret internals");
      },
    },
  },
  {
    path: "/a/:x/:y",
    methods: { GET: (_req, res, params) => sendJSON(res, 200, params) },
  },
];

async function serve(
  t: TestContext,
  options: RouterOptions = {},
  serverLog?: (line: string) => void,
): Promise<string> {
  const listening = await listen(createRouter(routes, options), {
    host: "127.0.0.1",
    ...(serverLog ? { log: serverLog } : {}),
  });
  t.after(() => listening.close(0));
  return listening.url;
}

describe("createRouter", () => {
  it("dispatches on path and method, ignoring the query", async (t) => {
    const url = await serve(t);
    assert.equal((await request(`${url}/students?sort=name`)).text(), "list");
    assert.equal((await request(`${url}/students/`)).text(), "list");
    const head = await request(`${url}/students`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  it("passes decoded :param segments", async (t) => {
    const url = await serve(t);
    const response = await request(`${url}/students/7/grades`, { method: "POST", body: "" });
    assert.equal(response.status, 201);
    assert.deepEqual(response.json(), { id: "7" });
    const decoded = await request(`${url}/a/h%C3%A9llo/x%2Fy`);
    assert.deepEqual(decoded.json(), { x: "héllo", y: "x/y" });
  });

  const notFound = ["/", "/nope", "/students/7", "/students/7/grades/1", "/a/%E0%A4%A/b"];
  for (const path of notFound) {
    it(`answers 404 for ${path}`, async (t) => {
      const url = await serve(t);
      const response = await request(`${url}${path}`);
      assert.equal(response.status, 404);
      assert.match((response.json() as { error: string }).error, /^no such path: /);
    });
  }

  it("answers 405 with Allow for a known path and another method", async (t) => {
    const url = await serve(t);
    const get = await request(`${url}/students/1/grades`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, "POST, PUT, DELETE");
    assert.deepEqual(get.json(), { error: "method GET not allowed on /students/1/grades" });
    const post = await request(`${url}/students`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, "GET, HEAD");
  });

  it("answers an HttpError with its status, anything else 500; logs each once", async (t) => {
    const logged: string[] = [];
    const url = await serve(t, { log: (line) => logged.push(line) });
    const conflict = await request(`${url}/students/1/grades`, { method: "PUT", body: "" });
    assert.equal(conflict.status, 409);
    assert.deepEqual(conflict.json(), { error: "conflict here" });
    const broken = await request(`${url}/students/1/grades`, { method: "DELETE" });
    assert.equal(broken.status, 500);
    assert.deepEqual(broken.json(), { error: "internal server error" });
    assert.deepEqual(logged, [
      "PUT /students/1/grades: 409 conflict here",
      "internal error: secret internals",
    ]);
  });

  it("leaves errors to the server without options: it answers and logs them", async (t) => {
    // What a service's handler gets when it builds its router with no options at all.
    const logged: string[] = [];
    const url = await serve(t, {}, (line) => logged.push(line));
    const broken = await request(`${url}/students/1/grades`, { method: "DELETE" });
    assert.equal(broken.status, 500);
    assert.deepEqual(broken.json(), { error: "internal server error" });
    const thrown = await request(`${url}/students/1/grades`, { method: "PUT", body: "" });
    assert.equal(thrown.status, 409);
    const missing = await request(`${url}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(logged, [
      "internal error: secret internals",
      "PUT /students/1/grades: 409 conflict here",
      "GET /nope: 404 no such path: /nope",
    ]);
  });

  it("uses a custom onError, e.g. for HTML pages", async (t) => {
    const url = await serve(t, {
      onError: (_req, res, error) =>
        sendText(res, error instanceof HttpError ? error.status : 500, "custom page"),
    });
    const response = await request(`${url}/missing`);
    assert.equal(response.status, 404);
    assert.equal(response.text(), "custom page");
  });
});
