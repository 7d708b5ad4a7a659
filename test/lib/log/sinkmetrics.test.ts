import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createLogServer } from "../../../lib/log/server.ts";
import { listen } from "../../../lib/std/listen.ts";
import { createMetrics } from "../../../lib/std/metrics.ts";
import { request } from "../../../lib/std/request.ts";
import { promtool } from "../../support/promtool.ts";
import { tempDir } from "../../support/temp.ts";

/** The value of the sample `name` (no labels) in the text exposition `text`. */
function sample(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  assert.ok(match, `${name} in ${text}`);
  return Number(match[1]);
}

describe("log service metrics", () => {
  it("count entries, bytes, rounds, fdatasyncs and rotations as the file grows", async (t) => {
    const dir = await tempDir(t, "log-metrics");
    const file = join(dir, "test.log");
    const metrics = createMetrics();
    // Rotates once the file has 150 bytes: about three entries.
    const server = await createLogServer({ file, metrics, maxBytes: 150, keep: 1 });
    const listening = await listen(server.handler, { host: "127.0.0.1", metrics,
      fastPath: server.fastPath });
    t.after(async () => {
      await listening.close(0);
      await server.close();
    });
    const before = metrics.render();
    for (const name of ["log_entries_total", "log_bytes_total", "log_group_commits_total",
      "log_fdatasync_duration_seconds_count", "log_rotations_total"]) {
      assert.equal(sample(before, name), 0, name);
    }

    const post = (body: string, type: string) => request(`${listening.url}/log`,
      { method: "POST", headers: { "Content-Type": type }, body });
    for (let n = 0; n < 5; n++) assert.equal((await post(`entry ${n}`, "text/plain")).status, 200);
    assert.equal((await post(JSON.stringify(["a", "b", "c"]), "application/json")).status, 200);

    const text = metrics.render();
    assert.equal(sample(text, "log_entries_total"), 8);
    // One request at a time: a round each.
    assert.equal(sample(text, "log_group_commits_total"), 6);
    assert.equal(sample(text, "log_fdatasync_duration_seconds_count"), 6);
    assert.ok(sample(text, "log_fdatasync_duration_seconds_sum") > 0);
    const rotated = await readFile(`${file}.1`);
    assert.equal(sample(text, "log_bytes_total"), rotated.length + (await stat(file)).size);
    assert.equal(sample(text, "log_rotations_total"), 1);

    const verdict = await promtool(t, text);
    if (verdict !== undefined) assert.equal(verdict.trim(), "");
  });
});
