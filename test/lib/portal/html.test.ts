import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clip, html, raw } from "../../../lib/portal/html.ts";
import { errorPage } from "../../../lib/portal/layout.ts";
import { grades, studentPage, studentsPage } from "../../../lib/portal/students.ts";

describe("html", () => {
  it("escapes & < > \" ' in every interpolation", () => {
    assert.equal(html`<p>${`<a href="x">Tom & 'Jerry'</a>`}</p>`.value,
      "<p>&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;</p>");
    const evil = `"><script>alert(1)</script>`;
    assert.equal(html`<input value="${evil}">`.value,
      `<input value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">`);
  });

  it("keeps nested html and raw markup, renders arrays and skips null/undefined/false", () => {
    const items = ["<1>", "2"].map((x) => html`<li>${x}</li>`);
    const out = html`<ul>${items}</ul>${raw("<hr>")}${null}${undefined}${false}${0}`;
    assert.equal(out.value, "<ul><li>&lt;1&gt;</li><li>2</li></ul><hr>0");
    assert.equal(String(out), out.value);
  });

  it("shows bidi overrides and control characters as visible markers in text", () => {
    const name = "Invoice\u202Eexe.txt\u0007\u0085\u2067";
    assert.equal(
      html`<td>${name}</td>`.value,
      '<td>Invoice<span class="ctl">U+202E</span>exe.txt<span class="ctl">U+0007</span>' +
        '<span class="ctl">U+0085</span><span class="ctl">U+2067</span></td>',
    );
    assert.equal(html`<td>${"a\tb\nc"}</td>`.value, "<td>a\tb\nc</td>", "tab and line feed stay");
  });

  it("keeps them as character references inside attribute values, never as markup", () => {
    const title = "x\u202E\"<y>";
    assert.equal(html`<input value="${title}">`.value, '<input value="x&#x202E;&quot;&lt;y&gt;">');
    // Anywhere inside a tag, even mid-value: a marker's quotes would end the attribute.
    assert.equal(html`<a href="/s/${title}">`.value, '<a href="/s/x&#x202E;&quot;&lt;y&gt;">');
    assert.equal(html`<a href="/s/${title}">${title}</a>`.value,
      '<a href="/s/x&#x202E;&quot;&lt;y&gt;">x<span class="ctl">U+202E</span>&quot;&lt;y&gt;</a>');
  });

  it("clips long text visibly, counting characters, not UTF-16 units", () => {
    assert.equal(clip("<abc>", 5).value, "&lt;abc&gt;");
    assert.equal(clip("😀😀😀", 3).value, "😀😀😀");
    assert.equal(
      clip("<".repeat(2_005), 2).value,
      '&lt;&lt;<span class="cut">… 2,003 more characters</span>',
    );
  });

  it("does not treat look-alike objects or strings as safe", () => {
    const fake = JSON.parse('{"value":"<b>"}') as { value: string };
    assert.equal(html`${String(fake.value)}`.value, "&lt;b&gt;");
  });
});

describe("pages", () => {
  const student = {
    ID: 7,
    FirstName: "<i>Ada</i>",
    LastName: "Love&lace",
    Grades: [
      { Title: "<script>alert(1)</script>", Type: "Quiz" as const, Score: 90 },
      { Title: "B", Type: "Test" as const, Score: 85 },
    ],
  };

  it("formats averages to one decimal and — without grades", () => {
    const average = (of: Pick<typeof student, "Grades">) =>
      /<strong id="average">([^<]*)<\/strong>/.exec(grades({ ...student, ...of }).value)?.[1];
    assert.equal(average(student), "87.5");
    assert.equal(average({ Grades: [{ Title: "x", Type: "Quiz", Score: 1 / 3 }] }), "0.3");
    assert.equal(average({ Grades: [] }), "—");
  });

  it("lists students as escaped 'Last, First' links with their average", () => {
    const page = studentsPage([student, { ...student, ID: 8, Grades: [] }]);
    assert.match(page, /^<!doctype html>/);
    assert.ok(page.includes(`<a href="/students/7">Love&amp;lace, &lt;i&gt;Ada&lt;/i&gt;</a>`));
    assert.ok(page.includes(`<td class="num">87.5</td>`));
    assert.ok(page.includes(`<td class="num">—</td>`));
    assert.ok(!page.includes("<i>Ada"));
    for (const label of ["Students", "Services", "Logs"]) {
      assert.match(page, new RegExp(`>${label}</a>`));
    }
    assert.match(page, /<a href="\/students" aria-current="page">Students<\/a>/);
  });

  it("renders the student page escaped, with a refilled labelled form and its error", () => {
    const page = studentPage(student, {
      form: { Title: `"><b>x`, Type: "Homework", Score: "abc" },
      error: "Score: <bad>",
    });
    assert.ok(!page.includes("<script>alert(1)"));
    assert.ok(page.includes("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
    assert.ok(page.includes(`value="&quot;&gt;&lt;b&gt;x"`));
    assert.ok(page.includes(`<option value="Homework" selected>Homework</option>`));
    assert.ok(page.includes(`value="abc"`));
    assert.ok(page.includes("Score: &lt;bad&gt;"));
    const labels = [["grade-title", "Title"], ["grade-type", "Type"], ["grade-score", "Score"]];
    for (const [id, label] of labels) {
      assert.ok(page.includes(`<label for="${id}">${label}</label>`), label);
      assert.match(page, new RegExp(`id="${id}"`));
    }
    assert.match(studentPage({ ...student, Grades: [] }), /No grades yet/);
  });

  it("renders error pages with the status and the escaped message", () => {
    const page = errorPage(503, "GradingService <down>");
    assert.match(page, /<h1>503 Service Unavailable<\/h1>/);
    assert.ok(page.includes("GradingService &lt;down&gt;"));
  });
});
