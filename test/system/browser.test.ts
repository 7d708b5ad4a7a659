// A real browser over the real system: Debian's Chromium, headless, driven with --dump-dom and
// the DevTools protocol over --remote-debugging-pipe. No npm packages.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { dumpDOM, openTab } from "../support/chromium.ts";
import { serve } from "../support/serve.ts";
import { countColour, decodePNG, inkRatio } from "../support/png.ts";
import { startSystem } from "../lib/portal/system.ts";

/** Rows of the first `<tbody>`, each as the text of its cells. */
function tableRows(dom: string): string[][] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(dom)?.[1] ?? "";
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...(row[1] ?? "").matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) =>
      decode((cell[1] ?? "").replace(/<[^>]+>/g, "").trim()),
    ),
  );
}

function decode(text: string): string {
  return text
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&amp;", "&");
}

describe("teacher portal in headless Chromium", () => {
  it("renders the students list and a student page as a browser sees them", async (t) => {
    const system = await startSystem(t);
    const portal = system.portal.handle.url;
    await system.store.addGrade(1, { Title: "<script>alert(1)</script>", Type: "Test", Score: 60 });

    const list = await dumpDOM(t, `${portal}/`);
    assert.match(list, /<title>Students · Teacher Portal<\/title>/);
    assert.deepEqual(tableRows(list), [
      ["Simen, Averill", "81.8"],
      ["Garrard, Marge", "96.0"],
      ["Barber, Sydnie", "47.3"],
      ["Easton, Louie", "88.3"],
      ["Attwood, Kylee", "97.3"],
    ]);
    assert.match(list, /<a href="\/students\/3">Barber, Sydnie<\/a>/);
    assert.match(list, /<nav[^>]*>.*>Students<\/a>.*>Services<\/a>.*>Logs<\/a><\/nav>/s);

    const student = await dumpDOM(t, `${portal}/students/1`);
    assert.match(student, /<h1>Averill Simen<\/h1>/);
    assert.deepEqual(tableRows(student), [
      ["Quiz 1", "Quiz", "85"],
      ["Week 1 Homework", "Homework", "94"],
      ["Quiz 2", "Quiz", "88"],
      ["<script>alert(1)</script>", "Test", "60"],
    ]);
    // The title is text in a cell, not an element: no script made it into the DOM.
    assert.doesNotMatch(student, /<script>alert/);
    assert.equal(student.match(/<script/g)?.length, 1, "only the portal's own script");
    const labels = [["grade-title", "Title"], ["grade-type", "Type"], ["grade-score", "Score"]];
    for (const [id, label] of labels) {
      assert.match(student, new RegExp(`<label for="${id}">${label}</label>`));
      assert.match(student, new RegExp(`id="${id}"`));
    }
    assert.match(student, /<form method="post" action="\/students\/1\/grades" novalidate="">/);
  });

  it("reports every refused field by its field, then adds the grade (DevTools)", async (t) => {
    const system = await startSystem(t);
    const portal = system.portal.handle.url;
    const tab = await openTab(t, 1_000, 900);
    const { evaluate, load } = tab;
    const fill = (title: string, type: string, score: string) => `(() => {
      const select = document.querySelector("#grade-type");
      if (![...select.options].some((option) => option.value === ${JSON.stringify(type)})) {
        select.add(new Option(${JSON.stringify(type)}, ${JSON.stringify(type)}));
      }
      document.querySelector("#grade-title").value = ${JSON.stringify(title)};
      select.value = ${JSON.stringify(type)};
      document.querySelector("#grade-score").value = ${JSON.stringify(score)};
      document.querySelector("form").requestSubmit();
    })()`;

    await tab.goto(`${portal}/students/4`);
    assert.equal(await evaluate("document.querySelector('h1').textContent"), "Louie Easton");
    const label = await evaluate("document.querySelector('label[for=grade-score]').textContent");
    assert.equal(label, "Score");

    // Blank title, a type the form does not offer (a tampered request), a score over 100: the
    // browser lets it through (novalidate) and the portal names all three at once.
    await load(() => evaluate(fill("   ", "Exam", "120")));
    const fields = await evaluate(`[...document.querySelectorAll(".field")].map((field) => {
      const control = field.querySelector("input, select");
      return [control.id, control.getAttribute("aria-invalid"),
        field.querySelector(".field-error")?.textContent, control.value];
    })`);
    assert.deepEqual(fields, [
      ["grade-title", "true", "Must be 1 to 200 characters, not blank", "   "],
      ["grade-type", "true", "Must be one of Quiz, Test, Homework", ""],
      ["grade-score", "true", "Must be a finite number from 0 to 100", "120"],
    ]);
    const summary = await evaluate("document.querySelector('[role=alert]').innerText");
    assert.match(String(summary), /3 fields need fixing/);

    // What a teacher sees: the form with its three marked fields, as pixels.
    const box = (await evaluate(`(() => {
      const form = document.querySelector("form");
      form.scrollIntoView();
      const { x, y, width, height } = form.getBoundingClientRect();
      return { x: x + scrollX, y: y + scrollY, width, height };
    })()`)) as { x: number; y: number; width: number; height: number };
    const shot = await tab.devtools.send(
      "Page.captureScreenshot",
      { format: "png", clip: { ...box, scale: 1 }, captureBeyondViewport: true },
      tab.session,
    );
    const png = Buffer.from(String(shot["data"]), "base64");
    // SCREENSHOT_DIR=/some/dir keeps the picture for a person to look at.
    const keep = process.env["SCREENSHOT_DIR"];
    if (keep !== undefined) await writeFile(join(keep, "grade-form.png"), png);
    const image = decodePNG(png);
    assert.equal(image.width, Math.round(box.width));
    assert.equal(image.height, Math.round(box.height));
    assert.ok(image.width >= 300 && image.height >= 300, `form is ${image.width}x${image.height}`);
    assert.ok(inkRatio(image) > 0.05, `the screenshot is not blank (${inkRatio(image)})`);
    // The red of the marked fields and their messages (#a40000) is visible.
    assert.ok(countColour(image, [0xa4, 0, 0]) > 500, "the invalid fields are marked in red");

    // A valid grade: 303 back to the student page, which says so and lists it.
    await load(() => evaluate(fill("Browser quiz", "Quiz", "99.5")));
    assert.equal(await evaluate("location.pathname"), "/students/4");
    assert.equal(await evaluate("document.querySelector('[role=status]').textContent"),
      "Grade added.");
    assert.equal(await evaluate("document.querySelector('[role=alert]')"), null);
    assert.equal(await evaluate("document.querySelector('[aria-invalid]')"), null);
    const rows = await evaluate(
      "[...document.querySelectorAll('tbody tr')].map((tr) => tr.innerText.split('\\t'))",
    );
    assert.deepEqual((rows as string[][]).at(-1), ["Browser quiz", "Quiz", "99.5"]);
    assert.equal(await evaluate("document.querySelector('#average').textContent"), "91.1");
    assert.deepEqual(system.store.get(4)?.Grades.at(-1), {
      Title: "Browser quiz",
      Type: "Quiz",
      Score: 99.5,
    });
  });

  it("refuses a form another site makes the browser post: 403, nothing stored", async (t) => {
    const system = await startSystem(t);
    const target = `${system.portal.handle.url}/students/1/grades`;
    // Another site: a different host name (localhost, not 127.0.0.1) and port.
    const evil = await serve(t, (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><form method="post" action="${target}">
<input name="Title" value="Forged"><input name="Type" value="Test">
<input name="Score" value="100"></form>`);
    });
    const tab = await openTab(t);
    await tab.goto(evil.replace("127.0.0.1", "localhost"));
    await tab.load(() => tab.evaluate("document.querySelector('form').requestSubmit()"));
    assert.equal(await tab.evaluate("document.querySelector('h1').textContent"), "403 Forbidden");
    const message = await tab.evaluate("document.querySelector('[role=alert]').textContent");
    assert.match(String(message), /^Refused a cross-site request from http:\/\/localhost:\d+/);
    assert.equal(system.store.get(1)?.Grades.length, 3, "nothing stored");
  });
});
