// registryservice --etcd: the flags, and a start while etcd cannot be reached.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { request } from "../../lib/std/request.ts";
import { runCommand, startCommand } from "../support/process.ts";
import { deadURL } from "../support/temp.ts";

describe("registryservice --etcd", () => {
  const refused: [string[], RegExp][] = [
    [["--state", "r.json", "--etcd", "http://127.0.0.1:2379"],
      /^registryservice: --state cannot be used with --etcd \(see --help\)\n$/],
    [["--etcd", "127.0.0.1:2379"], /^registryservice: --etcd: etcd: "127.0.0.1:2379" is not/],
    [["--etcd", "http://e:1", "--election-ttl", "0"], /--election-ttl: want an integer from 1/],
  ];
  for (const [args, message] of refused) {
    it(`refuses ${args.join(" ")} with exit code 2`, async () => {
      const outcome = await runCommand("registryservice", ["--port", "0", ...args]);
      assert.equal(outcome.code, 2, outcome.stderr);
      assert.match(outcome.stderr, message);
    });
  }

  it("says once that etcd cannot be reached, answers 503 meanwhile, and stops on SIGTERM",
    async (t) => {
      const etcd = await deadURL();
      const registry = startCommand(t, "registryservice",
        ["--host", "127.0.0.1", "--port", "0", "--etcd", etcd]);
      await registry.waitOutput(new RegExp(`cannot read etcd at ${etcd} .*retrying until it ` +
        "answers"));
      const [, url] = await registry.waitOutput(/ at (http:\/\/127\.0\.0\.1:\d+) \(503 while/);
      const answer = await request(`${url}/services`);
      assert.equal(answer.status, 503);
      assert.match(answer.text(), /registry: starting/);
      registry.child.kill("SIGTERM");
      const exit = await registry.exited;
      assert.equal(exit.code, 0);
      assert.equal(registry.stderr().match(/cannot read etcd/g)?.length, 1, "said once");
    });
});
