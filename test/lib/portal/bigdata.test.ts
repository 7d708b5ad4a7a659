import assert from "node:assert/strict";
import { Agent } from "node:http";
import { describe, it } from "node:test";
import { createProviders } from "../../../lib/registry/providers.ts";
import { request } from "../../../lib/std/request.ts";
import { postEntries } from "../../support/log.ts";
import { startRegistry } from "../registry/helpers.ts";
import { startPortal, startSystem } from "./system.ts";

describe("portal on big data", () => {
  it("shows the log after entries larger than a page: newest kept, long ones cut", async (t) => {
    const system = await startSystem(t);
    const logURL = system.log.handle.url;
    // 64 KiB of NULs: each is escaped by the log service into a line of about 393 KB.
    const nuls = "\u0000".repeat(64 * 1024 - 1);
    for (let i = 0; i < 5; i++) await postEntries(logURL, [nuls]);
    await postEntries(logURL, [`long ${"x".repeat(10_000)} end`, "after the big ones"]);

    const logs = await request(`${system.portal.handle.url}/logs`, { timeoutMs: 60_000 });
    assert.equal(logs.status, 200, logs.text().slice(0, 500));
    const text = logs.text();
    assert.ok(text.length < 300_000, `page of ${text.length} characters`);
    assert.match(text, /<span>go [\d/: ]+after the big ones\n<\/span><\/pre>/);
    assert.match(text, /Older ones did not fit in the page's 256 KiB\./);
    // The 10 000-character entry: its start, then a visible cut instead of the rest.
    const cut = /long x{1900,}<span class="cut">… [\d,]+ more characters<\/span>\n<\/span>/;
    assert.match(text, cut);
    assert.doesNotMatch(text, / end\n/);
  });

  it("renders 10 000 registrations a page at a time, with a summary by name", async (t) => {
    const registry = await startRegistry(t);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    t.after(() => agent.destroy());
    const total = 10_000;
    const register = async (i: number) => {
      const response = await request(`${registry.url}/services`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          ServiceName: i % 100 === 0 ? "Rare" : "Many",
          ServiceURL: `http://127.0.0.1:${1_000 + (i % 60_000)}/instance/${i}`,
          RequiredServices: [],
          ServiceUpdateURL: "",
          HeartbeatURL: "",
        }),
        agent,
        timeoutMs: 60_000,
      });
      assert.equal(response.status, 200, response.text());
    };
    for (let start = 0; start < total; start += 64) {
      const batch = Array.from({ length: Math.min(64, total - start) }, (_, k) => start + k);
      await Promise.all(batch.map(register));
    }

    // Generous bounds: a busy machine may take seconds over a 3 MB list; this is no benchmark.
    const slow = { timeoutMs: 60_000, maxResponseBytes: 4 * 1024 * 1024 };
    const portal = await startPortal(t, createProviders(), {
      registryURL: registry.url,
      timeoutMs: slow.timeoutMs,
    });
    const first = await request(`${portal.url}/services`, slow);
    assert.equal(first.status, 200, first.text().slice(0, 500));
    const page = first.text();
    assert.match(page, /10,000 registrations, 10,000 passing,\s*0 critical\./);
    assert.equal(page.match(/<tr>\n<td>/g)?.length, 500, "one page of rows");
    assert.match(page, /<li><a href="\/services\?name=Many">Many<\/a>: 9900 passing<\/li>/);
    assert.match(page, /Page 1 of 20 <a href="\/services\?page=2" rel="next">Next →<\/a>/);

    const last = (await request(`${portal.url}/services?page=20`, slow)).text();
    assert.match(last, /<a href="\/services\?page=19" rel="prev">← Previous<\/a> Page 20 of 20/);
    assert.equal(last.match(/<tr>\n<td>/g)?.length, 500);

    // A name is asked of the registry, not filtered from the whole list.
    const rare = (await request(`${portal.url}/services?name=Rare`, slow)).text();
    assert.match(rare, /100 registrations, 100 passing,\s*0 critical\. Only Rare is shown/);
    assert.equal(rare.match(/<tr>\n<td>Rare<\/td>/g)?.length, 100);
  });
});
