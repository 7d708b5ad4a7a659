import { createHash } from "node:crypto";
import { STATUS_CODES } from "node:http";
import { html, raw, type SafeHTML } from "./html.ts";

/** The sections of the nav bar; `undefined` highlights none. */
export type Section = "students" | "services" | "logs" | undefined;

// One look for tables and form controls: the same white panels, borders, padding and font.
const style = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
nav{background:#1d2330;padding:.6rem 1.5rem}
nav a{color:#dfe4ee;margin-right:1.2rem;text-decoration:none}
nav a[aria-current=page]{color:#fff;font-weight:600;border-bottom:2px solid #7af}
main{max-width:60rem;margin:0 auto;padding:1rem 1.5rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.4rem .7rem;border-bottom:1px solid #e1e4ea}
td.num,th.num{text-align:right}
form{background:#fff;padding:1rem 1.2rem;margin-top:1.5rem;max-width:26rem;border:1px solid #e1e4ea}
form h2{margin:0 0 .6rem;font-size:1.25rem}
.field{margin-bottom:.9rem}
label{display:block;font-weight:600;margin-bottom:.2rem}
input,select,button{font:inherit;color:inherit;box-sizing:border-box}
input,select{width:100%;padding:.4rem .7rem;border:1px solid #c5cbd6;border-radius:4px;
background:#fff}
input:focus,select:focus,button:focus{outline:2px solid #7af;outline-offset:1px}
[aria-invalid=true]{border:2px solid #a40000;background:#fff6f6}
.field-error{color:#a40000;font-weight:600;margin:0 0 .2rem}
button{padding:.45rem 1.2rem;border:0;border-radius:4px;background:#1d2330;color:#fff;
cursor:pointer}
button:hover{background:#36425c}
.error{color:#a40000;background:#fff0f0;padding:.5rem .7rem;border-left:4px solid #a40000}
div.error{margin-bottom:1rem}div.error p{margin:0}
.error ul{margin:.3rem 0 0;padding-left:1.2rem}.error a{color:#a40000}
.notice{color:#0a6b2d;background:#edf8f0;padding:.5rem .7rem;border-left:4px solid #0a6b2d}
.passing{color:#0a6b2d}.critical{color:#a40000;font-weight:600}
.ctl{font:.75em monospace;border:1px solid currentColor;border-radius:2px;padding:0 .15em}
pre{background:#fff;padding:1rem;overflow:auto;white-space:pre-wrap}pre:empty{display:none}
.cut{font-style:italic;color:#5a6275}
.pager{margin:1rem 0}.pager a{margin:0 .6rem}
form.filters{max-width:none;display:grid;gap:0 1rem;align-items:end;
grid-template-columns:repeat(auto-fit,minmax(9rem,1fr))}
form.filters{align-items:start}form.filters button{margin-top:1.75rem}
form.filters .field-error{font-size:.85rem;margin:.2rem 0 0}
pre:not(:empty)+#empty{display:none}
`;

// The one script of the portal: every element with `data-events` follows that URL's
// server-sent events — "replace" swaps its content, "append" adds to it (keeping at most
// `data-keep` children). The HTML in the events is rendered and escaped by the portal, as the
// page is. Without script the pages are complete; they just do not change by themselves.
const liveScript = `
for (const region of document.querySelectorAll("[data-events]")) {
  const source = new EventSource(region.dataset.events);
  const keep = Number(region.dataset.keep || 0);
  source.addEventListener("replace", (event) => { region.innerHTML = event.data; });
  source.addEventListener("append", (event) => {
    region.insertAdjacentHTML("beforeend", event.data);
    while (keep > 0 && region.children.length > keep) region.firstElementChild.remove();
  });
  source.addEventListener("open", () => { region.dataset.live = "on"; });
  source.addEventListener("error", () => { region.dataset.live = "off"; });
}
`;

/** The Content-Security-Policy source that allows exactly the portal's own script. */
export const liveScriptHash =
  `'sha256-${createHash("sha256").update(liveScript).digest("base64")}'`;

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
<script>${raw(liveScript)}</script>
</body>
</html>
`.value;
}

/** An error page with `status` in the title and `message` (shown escaped) as its text. */
export function errorPage(status: number, message: string, section?: Section): string {
  const title = STATUS_CODES[status] ?? "Error";
  return layout(
    title,
    section,
    html`<h1>${status} ${title}</h1>
${alert(message)}
<p><a href="/students">Back to the students</a></p>`,
  );
}

/** `message` as the page's alert: what went wrong, announced to assistive technology. */
export function alert(message: string): SafeHTML {
  return html`<p class="error" role="alert">${message}</p>`;
}
