import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bearerCheck } from "../../../lib/std/auth.ts";
import { sendText } from "../../../lib/std/http.ts";
import { listen } from "../../../lib/std/listen.ts";
import { request } from "../../../lib/std/request.ts";

describe("bearerCheck", () => {
  it("passes the token with the scheme in any case and refuses everything else", async (t) => {
    const check = bearerCheck("s3cret", "test");
    const server = await listen((req, res) => {
      check(req);
      sendText(res, 200, "ok");
    }, { host: "127.0.0.1" });
    t.after(() => server.close());
    const status = async (authorization: string | undefined) => {
      const headers: Record<string, string> = authorization === undefined ? {} : {
        Authorization: authorization,
      };
      const response = await request(server.url, { headers });
      if (response.status === 401) {
        assert.equal(response.headers["www-authenticate"], 'Bearer realm="test"');
        assert.match(response.text(), /test: missing or wrong bearer token/);
      }
      return response.status;
    };
    for (const good of ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "Bearer  s3cret"]) {
      assert.equal(await status(good), 200, good);
    }
    for (const bad of [undefined, "", "Bearer", "Bearer ", "Bearers3cret", "Basic s3cret",
      "Bearer s3cre", "Bearer s3crets", "s3cret"]) {
      assert.equal(await status(bad), 401, String(bad));
    }
  });

  it("lets everything through when no token is set", async () => {
    const server = await listen((req, res) => {
      bearerCheck(undefined, "test")(req);
      bearerCheck("", "test")(req);
      sendText(res, 200, "ok");
    }, { host: "127.0.0.1" });
    try {
      assert.equal((await request(server.url)).status, 200);
    } finally {
      await server.close();
    }
  });
});
