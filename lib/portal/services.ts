import type { ReplicaInfo, ServiceStatus } from "../registry/registration.ts";
import { clip, html, type SafeHTML } from "./html.ts";
import { layout } from "./layout.ts";

/** Rows on one page of `/services`: a page stays quick to render and to read. */
const servicesPerPage = 500;

/** What `/services` shows: the registry's list (only `name`'s when given) and which page. */
export interface ServicesView {
  services: readonly ServiceStatus[];
  registryURL: string;
  /** 1-based; past the last page shows the last. */
  page: number;
  /** Only registrations of this ServiceName were asked for. */
  name?: string;
  /** The replicas of a registry cluster and which one leads; absent for a single registry. */
  replicas?: readonly ReplicaInfo[];
}

/** `/services`: the registry's registrations with their status and last check, paged. */
export function servicesPage(view: ServicesView): string {
  return layout(
    "Services",
    "services",
    html`<h1>Services</h1>
${view.replicas ? replicasSection(view.replicas) : ""}
<div id="live" data-events="/events/services${viewQuery(view)}">${servicesSection(view)}</div>`,
  );
}

/** The replicas of a registry cluster, the leader marked (README "Running a registry cluster"). */
function replicasSection(replicas: readonly ReplicaInfo[]): SafeHTML {
  const items = replicas.map((replica) => html`<li><code>${clip(replica.URL, 200)}</code>${
    replica.Leader ? html` <strong>leader</strong>: checks heartbeats, sends patches` : ""}</li>`);
  return html`<p>The registry is a cluster of ${count(replicas.length, "replica")} on etcd;
any of them answers. As of this page's load:</p>
<ul id="replicas">${items}</ul>`;
}

/**
 * The changing part of `/services` (what a live update replaces): the summary, the table of
 * this page's registrations sorted by name then URL, and the links to the other pages.
 */
export function servicesSection(view: ServicesView): SafeHTML {
  const { services, registryURL, name } = view;
  const pages = Math.max(1, Math.ceil(services.length / servicesPerPage));
  const page = Math.min(Math.max(1, view.page), pages);
  const sorted = [...services].sort(byNameThenURL);
  const shown = sorted.slice((page - 1) * servicesPerPage, page * servicesPerPage);
  const critical = services.filter((service) => service.Status === "critical").length;
  const only =
    name === undefined ? "" : html` Only ${name} is shown; <a href="/services">show all</a>.`;
  const summary = html`<p>As the registry at <code>${registryURL}</code> sees them:
${count(services.length, "registration")}, ${count(services.length - critical, "passing", "")},
${count(critical, "critical", "")}.${only}</p>`;
  if (services.length === 0) {
    return html`${summary}
<p>No services are registered.</p>`;
  }
  const rows = shown.map(
    (service) => html`<tr>
<td>${service.ServiceName}</td>
<td><code>${clip(service.ServiceURL, 200)}</code></td>
<td class="${service.Status}">${service.Status}</td>
<td>${lastCheck(service.LastCheck)}</td>
<td>${requires(service)}</td>
</tr>`,
  );
  return html`${summary}
${pages > 1 ? byName(services) : ""}
<table id="services">
<thead><tr>
<th scope="col">Service</th><th scope="col">URL</th><th scope="col">Status</th>
<th scope="col">Last check</th><th scope="col">Requires</th>
</tr></thead>
<tbody>
${rows}
</tbody>
</table>
${pages > 1 ? pager(page, pages, name) : ""}`;
}

function byNameThenURL(a: ServiceStatus, b: ServiceStatus): number {
  if (a.ServiceName !== b.ServiceName) return a.ServiceName < b.ServiceName ? -1 : 1;
  if (a.ServiceURL === b.ServiceURL) return 0;
  return a.ServiceURL < b.ServiceURL ? -1 : 1;
}

// With more than a page, a line per ServiceName says where each one's instances stand.
function byName(services: readonly ServiceStatus[]): SafeHTML {
  const counts = new Map<string, { passing: number; critical: number }>();
  for (const service of services) {
    const entry = counts.get(service.ServiceName) ?? { passing: 0, critical: 0 };
    entry[service.Status] += 1;
    counts.set(service.ServiceName, entry);
  }
  const sorted = [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).slice(0, 100);
  const items = sorted.map(([name, { passing, critical }]) => {
    const link = html`<a href="/services?name=${encodeURIComponent(name)}">${name}</a>`;
    const failing =
      critical === 0 ? "" : html`, <span class="critical">${critical} critical</span>`;
    return html`<li>${link}: ${passing} passing${failing}</li>`;
  });
  const more = counts.size > 100 ? html`<li>… and ${counts.size - 100} more names</li>` : "";
  return html`<ul id="by-name">${items}${more}</ul>`;
}

/** A `?page=` number; anything but a positive integer is the first page. */
export function pageNumber(text: string | null): number {
  return text !== null && /^[1-9][0-9]{0,6}$/.test(text) ? Number(text) : 1;
}

/** `?name=…&page=…` of a view ("" for the first page of everything). */
function viewQuery(view: Pick<ServicesView, "name" | "page">): string {
  const query = new URLSearchParams(view.name === undefined ? {} : { name: view.name });
  if (view.page > 1) query.set("page", String(view.page));
  const text = query.toString();
  return text === "" ? "" : `?${text}`;
}

function pager(page: number, pages: number, name: string | undefined): SafeHTML {
  const href = (to: number) => {
    const query = new URLSearchParams(name === undefined ? {} : { name });
    query.set("page", String(to));
    return `/services?${query.toString()}`;
  };
  return html`<nav aria-label="pages" class="pager">${
    page > 1 ? html`<a href="${href(page - 1)}" rel="prev">← Previous</a> ` : ""
  }Page ${page} of ${pages}${
    page < pages ? html` <a href="${href(page + 1)}" rel="next">Next →</a>` : ""
  }</nav>`;
}

function requires(service: ServiceStatus): SafeHTML | string {
  const names = service.RequiredServices;
  return names.length === 0 ? "—" : clip(names.join(", "), 300);
}

function count(n: number, noun: string, plural = "s"): string {
  return `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : plural}`;
}

function lastCheck(iso: string | null): SafeHTML {
  if (iso === null) return html`never`;
  const shown = iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
  return html`<time datetime="${iso}">${shown}</time>`;
}
