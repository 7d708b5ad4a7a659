import { ValidationError } from "../std/errors.ts";

/**
 * A service's registration, exactly as the Go original sends it (docs/protocol.md#wire-protocol).
 *
 * `ServiceUpdateURL` and `HeartbeatURL` are `""` when the service has none, as in Go.
 */
export interface Registration {
  ServiceName: string;
  ServiceURL: string;
  RequiredServices: string[];
  ServiceUpdateURL: string;
  HeartbeatURL: string;
}

/** One provider in a patch: a service name and the URL of one instance. */
export interface PatchEntry {
  Name: string;
  URL: string;
}

/** A change in the providers a service requires, pushed to its `ServiceUpdateURL`. */
export interface Patch {
  Added: PatchEntry[];
  Removed: PatchEntry[];
}

/** Health of a registration as the registry sees it. */
export type Status = "passing" | "critical";

/** One row of `GET /services`: the registration plus its health. */
export interface ServiceStatus extends Registration {
  Status: Status;
  /** ISO-8601 time of the last completed check, `null` before the first. */
  LastCheck: string | null;
}

const maxNameLength = 128;
const maxURLLength = 2_048;

/**
 * Accepts a Registration from decoded JSON, or throws `ValidationError` naming the field.
 *
 * Unknown fields are ignored, `null` is accepted for the list, duplicate required names are
 * collapsed, and missing optional URLs become `""`.
 */
export function parseRegistration(value: unknown): Registration {
  const body = asObject(value, "registration");
  const required = body["RequiredServices"] ?? [];
  if (!Array.isArray(required)) {
    throw new ValidationError("registration: RequiredServices must be an array of service names");
  }
  const names = required.map((name: unknown, index) =>
    parseServiceName(name, `RequiredServices[${index}]`),
  );
  return {
    ServiceName: parseServiceName(body["ServiceName"], "ServiceName"),
    ServiceURL: parseURL(body["ServiceURL"], "ServiceURL", false),
    RequiredServices: [...new Set(names)],
    ServiceUpdateURL: parseURL(body["ServiceUpdateURL"], "ServiceUpdateURL", true),
    HeartbeatURL: parseURL(body["HeartbeatURL"], "HeartbeatURL", true),
  };
}

/**
 * Checks that the URLs the registry will call for `reg` — its HeartbeatURL and its
 * ServiceUpdateURL — are on the host of its ServiceURL (any port), so a registration cannot
 * point the registry at somebody else's server. Host names are compared as the URL parser
 * normalises them (lowercase; `localhost` and `127.0.0.1` are different hosts). Throws
 * `ValidationError` naming the field.
 */
export function checkSameHost(reg: Registration): void {
  const host = new URL(reg.ServiceURL).hostname;
  for (const field of ["HeartbeatURL", "ServiceUpdateURL"] as const) {
    const url = reg[field];
    if (url !== "" && new URL(url).hostname !== host) {
      throw new ValidationError(`${field}: must be on the ServiceURL's host (${host}), any port`);
    }
  }
}

/** Accepts a Patch from decoded JSON (`null` lists mean empty), or throws `ValidationError`. */
export function parsePatch(value: unknown): Patch {
  const body = asObject(value, "patch");
  return {
    Added: parseEntries(body["Added"], "Added"),
    Removed: parseEntries(body["Removed"], "Removed"),
  };
}

/** Accepts a `GET /services` answer from decoded JSON, or throws `ValidationError`. */
export function parseServiceList(value: unknown): ServiceStatus[] {
  const body = asObject(value, "service list");
  const services = body["Services"] ?? [];
  if (!Array.isArray(services)) {
    throw new ValidationError("service list: Services must be an array");
  }
  return services.map(parseServiceStatus);
}

/** Accepts one row of a service list from decoded JSON, or throws `ValidationError`. */
export function parseServiceStatus(value: unknown): ServiceStatus {
  const row = asObject(value, "service list entry");
  const status = row["Status"];
  const lastCheck = row["LastCheck"] ?? null;
  if (status !== "passing" && status !== "critical") {
    throw new ValidationError("service list entry: Status must be passing or critical");
  }
  if (lastCheck !== null && typeof lastCheck !== "string") {
    throw new ValidationError("service list entry: LastCheck must be a string or null");
  }
  return { ...parseRegistration(row), Status: status, LastCheck: lastCheck };
}

/** One replica of a registry cluster, as `GET /cluster` lists it. */
export interface ReplicaInfo {
  URL: string;
  Leader: boolean;
}

/** Accepts a `GET /cluster` answer from decoded JSON, or throws `ValidationError`. */
export function parseReplicaList(value: unknown): ReplicaInfo[] {
  const replicas = asObject(value, "replica list")["Replicas"] ?? [];
  if (!Array.isArray(replicas)) {
    throw new ValidationError("replica list: Replicas must be an array");
  }
  return replicas.map((item: unknown) => {
    const replica = asObject(item, "replica");
    const leader = replica["Leader"];
    if (typeof leader !== "boolean") throw new ValidationError("replica: Leader must be a boolean");
    return { URL: parseURL(replica["URL"], "URL", false), Leader: leader };
  });
}

/**
 * Accepts the body of `DELETE /services`: one absolute http(s) URL, surrounding whitespace
 * ignored. Throws `ValidationError` otherwise.
 */
export function parseServiceURL(text: string): string {
  return parseURL(text.trim(), "ServiceURL", false);
}

/**
 * Validates a ServiceName: 1–128 printable characters, none of them HTML markup (`<>&"'`).
 * Throws `ValidationError`.
 */
function parseServiceName(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > maxNameLength) {
    throw new ValidationError(`${field}: must be a string of 1 to ${maxNameLength} characters`);
  }
  // Names end up in log lines and web pages: no control characters, and no markup, which no
  // real service name needs (docs/protocol.md#bad-input lists HTML in names as bad input).
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(value)) {
    throw new ValidationError(`${field}: must not contain control characters`);
  }
  if (/[<>&"']/.test(value)) {
    throw new ValidationError(`${field}: must not contain HTML markup characters (<>&"')`);
  }
  return value;
}

function parseEntries(value: unknown, field: string): PatchEntry[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ValidationError(`patch: ${field} must be an array or null`);
  return value.map((item: unknown, index) => {
    const entry = asObject(item, `patch: ${field}[${index}]`);
    return {
      Name: parseServiceName(entry["Name"], `patch: ${field}[${index}].Name`),
      URL: parseURL(entry["URL"], `patch: ${field}[${index}].URL`, false),
    };
  });
}

// Raw text checked before parsing: the WHATWG parser forgives what we refuse (`http:///x` and
// `http:/x` become `http://x/`, `@` before the host is dropped).
const authorityPattern = /^https?:\/\/([^/?#\\]*)/i;
const urlControls = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;

/**
 * Validates one URL field: an absolute `http:`/`https:` URL of at most 2 048 characters with
 * a host written out after `//`, no user information (`user:pass@`, which the registry would
 * send as credentials and publish), a port from 1 to 65535 when one is given, and no control
 * or bidirectional formatting characters (the text ends up in log lines and pages).
 */
function parseURL(value: unknown, field: string, optional: boolean): string {
  if (optional && (value === undefined || value === null || value === "")) return "";
  if (typeof value !== "string" || value === "") {
    throw new ValidationError(`${field}: must be an absolute http or https URL`);
  }
  if (value.length > maxURLLength) {
    throw new ValidationError(`${field}: must be at most ${maxURLLength} characters`);
  }
  if (urlControls.test(value)) {
    throw new ValidationError(`${field}: must not contain control characters`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError(`${field}: not a URL: ${JSON.stringify(value.slice(0, 200))}`);
  }
  const authority = authorityPattern.exec(value)?.[1];
  if ((url.protocol !== "http:" && url.protocol !== "https:") || authority === undefined) {
    throw new ValidationError(`${field}: must be an absolute http or https URL`);
  }
  if (authority.includes("@") || url.username !== "" || url.password !== "") {
    throw new ValidationError(`${field}: must not contain user information (user:password@)`);
  }
  if (authority === "" || url.hostname === "") {
    throw new ValidationError(`${field}: must name a host (http://host:port/…)`);
  }
  if (url.port === "0") throw new ValidationError(`${field}: port must be 1 to 65535`);
  // Keep the text as sent: it is the instance's identity, compared byte for byte as in Go.
  return value;
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError(`${what}: must be a JSON object`);
  }
  return value as Record<string, unknown>;
}
