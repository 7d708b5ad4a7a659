import type { Student } from "../grades/grades.ts";
import type { ServiceStatus } from "../registry/registration.ts";
import { html, type SafeHTML } from "./html.ts";
import { layout } from "./layout.ts";
import { formatAverage } from "./student.ts";

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
