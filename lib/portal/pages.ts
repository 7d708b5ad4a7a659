import { STATUS_CODES } from "node:http";
import { average, gradeTypes, type Student } from "../grades/grades.ts";
import type { ServiceStatus } from "../registry/registration.ts";
import { html, raw, type SafeHTML } from "./html.ts";

/** The sections of the nav bar; `undefined` highlights none. */
export type Section = "students" | "services" | "logs" | undefined;

/** What the add-grade form shows: the values typed so far, as text. */
export interface GradeForm {
  Title: string;
  Type: string;
  Score: string;
}

const style = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
nav{background:#1d2330;padding:.6rem 1.5rem}
nav a{color:#dfe4ee;margin-right:1.2rem;text-decoration:none}
nav a[aria-current=page]{color:#fff;font-weight:600;border-bottom:2px solid #7af}
main{max-width:60rem;margin:0 auto;padding:1rem 1.5rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.4rem .7rem;border-bottom:1px solid #e1e4ea}
td.num,th.num{text-align:right}
form{background:#fff;padding:1rem;margin-top:1.5rem;display:grid;gap:.5rem;max-width:24rem}
.error{color:#a40000;background:#fff0f0;padding:.5rem .7rem;border-left:4px solid #a40000}
.passing{color:#0a6b2d}.critical{color:#a40000;font-weight:600}
pre{background:#fff;padding:1rem;overflow:auto;white-space:pre-wrap}
`;

/** The shared page: doctype, head, the nav bar (Students · Services · Logs) and `body`. */
export function layout(title: string, section: Section, body: SafeHTML): string {
  const link = (href: string, label: string, name: Section) =>
    html`<a href="${href}"${section === name ? html` aria-current="page"` : ""}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Teacher Portal</title>
<style>${raw(style)}</style>
</head>
<body>
<nav aria-label="main">${link("/students", "Students", "students")}${link(
    "/services",
    "Services",
    "services",
  )}${link("/logs", "Logs", "logs")}</nav>
<main>
${body}
</main>
</body>
</html>
`.value;
}

/** `/students`: every student as "Last, First" linking to their page, with their average. */
export function studentsPage(students: readonly Student[]): string {
  const rows = students.map(
    (student) => html`<tr>
<td><a href="/students/${student.ID}">${student.LastName}, ${student.FirstName}</a></td>
<td class="num">${formatAverage(student)}</td>
</tr>`,
  );
  return layout(
    "Students",
    "students",
    html`<h1>Students</h1>
<table>
<thead><tr><th scope="col">Name</th><th scope="col" class="num">Average</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`,
  );
}

/** Options of `studentPage`. */
export interface StudentPageOptions {
  /** Values to refill the form with (after invalid input). */
  form?: GradeForm;
  /** Why the last submission was refused, shown above the form. */
  error?: string;
}

/** `/students/{id}`: the grades table and the labelled "Add a grade" form. */
export function studentPage(student: Student, options: StudentPageOptions = {}): string {
  const form = options.form ?? { Title: "", Type: "Quiz", Score: "" };
  const rows = student.Grades.map(
    (grade) => html`<tr><td>${grade.Title}</td><td>${grade.Type}</td><td class="num">${
      grade.Score
    }</td></tr>
`,
  );
  const table =
    student.Grades.length === 0
      ? html`<p>No grades yet.</p>`
      : html`<table>
<thead><tr>
<th scope="col">Title</th><th scope="col">Type</th><th scope="col" class="num">Score</th>
</tr></thead>
<tbody>
${rows}</tbody>
</table>`;
  const choices = gradeTypes.map(
    (type) =>
      html`<option value="${type}"${type === form.Type ? html` selected` : ""}>${type}</option>`,
  );
  return layout(
    `${student.FirstName} ${student.LastName}`,
    "students",
    html`<p><a href="/students">← All students</a></p>
<h1>${student.FirstName} ${student.LastName}</h1>
<p>Average: <strong id="average">${formatAverage(student)}</strong></p>
${table}
<form method="post" action="/students/${student.ID}/grades">
<h2>Add a grade</h2>
${options.error === undefined ? "" : html`<p class="error" role="alert">${options.error}</p>`}
<label for="grade-title">Title</label>
<input id="grade-title" name="Title" maxlength="200" required value="${form.Title}">
<label for="grade-type">Type</label>
<select id="grade-type" name="Type">${choices}</select>
<label for="grade-score">Score</label>
<input id="grade-score" name="Score" type="number" min="0" max="100" step="any" required
  value="${form.Score}">
<button type="submit">Add grade</button>
</form>`,
  );
}

/** `/services`: every registration the registry knows, its status and last check. */
export function servicesPage(services: readonly ServiceStatus[], registryURL: string): string {
  const sorted = [...services].sort(
    (a, b) =>
      a.ServiceName.localeCompare(b.ServiceName) || a.ServiceURL.localeCompare(b.ServiceURL),
  );
  const rows = sorted.map(
    (service) => html`<tr>
<td>${service.ServiceName}</td>
<td><code>${service.ServiceURL}</code></td>
<td class="${service.Status}">${service.Status}</td>
<td>${lastCheck(service.LastCheck)}</td>
<td>${service.RequiredServices.length === 0 ? "—" : service.RequiredServices.join(", ")}</td>
</tr>`,
  );
  const body =
    sorted.length === 0
      ? html`<p>No services are registered.</p>`
      : html`<table>
<thead><tr>
<th scope="col">Service</th><th scope="col">URL</th><th scope="col">Status</th>
<th scope="col">Last check</th><th scope="col">Requires</th>
</tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  return layout(
    "Services",
    "services",
    html`<h1>Services</h1>
<p>As the registry at <code>${registryURL}</code> sees them.</p>
${body}`,
  );
}

function lastCheck(iso: string | null): SafeHTML {
  if (iso === null) return html`never`;
  const shown = iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
  return html`<time datetime="${iso}">${shown}</time>`;
}

/** `/logs`: the latest entries of a log service, oldest first. */
export function logsPage(text: string, source: string): string {
  const body =
    text.trim() === "" ? html`<p>The log is empty.</p>` : html`<pre id="log">${text}</pre>`;
  return layout(
    "Logs",
    "logs",
    html`<h1>Logs</h1>
<p>The latest entries from the log service at <code>${source}</code>.</p>
${body}`,
  );
}

/** An error page with `status` in the title and `message` (shown escaped) as its text. */
export function errorPage(status: number, message: string, section?: Section): string {
  const title = STATUS_CODES[status] ?? "Error";
  return layout(
    title,
    section,
    html`<h1>${status} ${title}</h1>
<p class="error" role="alert">${message}</p>
<p><a href="/students">Back to the students</a></p>`,
  );
}

/** A student's average to one decimal, or "—" when they have no grades. */
export function formatAverage(student: Pick<Student, "Grades">): string {
  const value = average(student);
  return value === undefined ? "—" : value.toFixed(1);
}
