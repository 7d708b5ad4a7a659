// The live portal in a real browser: a change made after the page loaded shows up in the
// page's DOM without a reload, and with script disabled the same pages still work.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { request } from "../../lib/std/request.ts";
import { openTab } from "../support/chromium.ts";
import { postEntries } from "../support/log.ts";
import { startFake } from "../lib/registry/helpers.ts";
import { startSystem } from "../lib/portal/system.ts";

const connected = "document.querySelector('#live')?.dataset.live === 'on'";

describe("live portal in headless Chromium", () => {
  it("shows a service that registers, turns critical and goes, without a reload", async (t) => {
    const system = await startSystem(t);
    const tab = await openTab(t);
    await tab.goto(`${system.portal.handle.url}/services`);
    await tab.waitFor(connected);
    await tab.evaluate("window.loadedOnce = true");

    const fake = await startFake(t);
    const registration = fake.registration("LiveService");
    const posted = await request(`${system.registryURL}/services`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(registration),
    });
    assert.equal(posted.status, 200, posted.text());
    const row = `[...document.querySelectorAll('#services tr')]
      .find((tr) => tr.cells[0]?.textContent === 'LiveService')`;
    assert.equal(await tab.waitFor(`${row}?.cells[2].textContent`), "passing");

    fake.health = 500;
    assert.equal(await tab.waitFor(`${row}?.cells[2].textContent === 'critical' && 'critical'`),
      "critical");

    const removed = await request(`${system.registryURL}/services`, {
      method: "DELETE",
      headers: { "Content-Type": "text/plain" },
      body: fake.url,
    });
    assert.equal(removed.status, 200, removed.text());
    await tab.waitFor(`!(${row})`);
    assert.equal(await tab.evaluate("window.loadedOnce"), true, "the page was never reloaded");
  });

  it("shows a grade added elsewhere on the student and students pages", async (t) => {
    const system = await startSystem(t);
    const student = await openTab(t);
    await student.goto(`${system.portal.handle.url}/students/5`);
    await student.waitFor(connected);
    const list = await openTab(t);
    await list.goto(`${system.portal.handle.url}/students`);
    await list.waitFor(connected);

    await system.store.addGrade(5, { Title: "Added <elsewhere>", Type: "Test", Score: 1 });
    const last = "[...document.querySelectorAll('#grades tbody tr')].at(-1)?.innerText";
    assert.equal(await student.waitFor(`(${last})?.startsWith('Added') && ${last}`),
      "Added <elsewhere>\tTest\t1");
    assert.equal(await student.evaluate("document.querySelector('#average').textContent"), "73.3");
    const average = `[...document.querySelectorAll('tbody tr')]
      .find((tr) => tr.cells[0].textContent === 'Attwood, Kylee').cells[1].textContent`;
    assert.equal(await list.waitFor(`${average} === '73.3' && ${average}`), "73.3");
  });

  it("adds an entry logged after the page loaded to the logs page", async (t) => {
    const system = await startSystem(t);
    const tab = await openTab(t);
    await tab.goto(`${system.portal.handle.url}/logs`);
    await tab.waitFor("document.querySelector('#log')?.dataset.live === 'on'");
    await tab.evaluate("window.loadedOnce = true");
    await postEntries(system.log.handle.url, ["logged <later>"]);
    const last = "document.querySelector('#log').lastElementChild?.textContent";
    assert.match(String(await tab.waitFor(`(${last})?.includes('logged <later>') && ${last}`)),
      /^go \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d logged <later>\n$/);
    assert.equal(await tab.evaluate("window.loadedOnce"), true, "the page was never reloaded");
  });

  it("serves the same pages, complete, to a browser without script", async (t) => {
    const system = await startSystem(t);
    const tab = await openTab(t);
    await tab.devtools.send("Emulation.setScriptExecutionDisabled", { value: true }, tab.session);
    for (const [path, selector] of [
      ["/services", "#services tbody tr"],
      ["/students", "tbody tr"],
      ["/students/1", "#grades tbody tr"],
    ] as const) {
      await tab.goto(`${system.portal.handle.url}${path}`);
      const rows = await tab.evaluate(`document.querySelectorAll('${selector}').length`);
      assert.ok(Number(rows) >= 3, `${path}: ${String(rows)} rows`);
      assert.equal(await tab.evaluate("document.querySelector('#live').dataset.live"), undefined);
    }
  });
});
