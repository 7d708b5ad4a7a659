// Bad input (docs/protocol.md#bad-input): the table of client mistakes against every endpoint of
// every service, then a seeded random fuzz over raw sockets. No process crashes, no 5xx, every
// piece of state unchanged (registrations, students, data file, log file apart from the lines
// that report bad requests and greetings).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { request } from "../../lib/std/request.ts";
import {
  counts,
  listed,
  report,
  serviceNames,
  startSystem,
  type System,
} from "./procs.ts";
import { eventually } from "../support/wait.ts";

type Target = "registry" | keyof typeof serviceNames;

interface Case {
  target: Target;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** The expected status, or a list of acceptable ones. */
  status: number | number[];
}

const big = "x".repeat(70 * 1_024);
const registration = (fields: Record<string, unknown>) =>
  JSON.stringify({
    ServiceName: "Fuzz",
    ServiceURL: "http://127.0.0.1:9",
    RequiredServices: [],
    ...fields,
  });
const json = { "Content-Type": "application/json" };
const form = { "Content-Type": "application/x-www-form-urlencoded" };
const grade = (fields: Record<string, unknown>) =>
  JSON.stringify({ Title: "T", Type: "Quiz", Score: 50, ...fields });

/** docs/protocol.md#bad-input per endpoint. Paths get `?case=N` (or `&case=N`) so each log line can
 * be found. */
const table: Case[] = [
  // Registry.
  { target: "registry", method: "POST", path: "/services", headers: json, body: "{", status: 400 },
  { target: "registry", method: "POST", path: "/services", headers: json, body: "", status: 400 },
  { target: "registry", method: "POST", path: "/services", headers: json, body: "[]", status: 400 },
  { target: "registry", method: "POST", path: "/services", headers: json, body: "null",
    status: 400 },
  { target: "registry", method: "POST", path: "/services", body: registration({ ServiceName: 7 }),
    status: 400 },
  { target: "registry", method: "POST", path: "/services", body: registration({ ServiceName: "" }),
    status: 400 },
  { target: "registry", method: "POST", path: "/services",
    body: registration({ ServiceName: "a\u0000b" }), status: 400 },
  { target: "registry", method: "POST", path: "/services",
    body: registration({ ServiceName: "n".repeat(129) }), status: 400 },
  { target: "registry", method: "POST", path: "/services", body: registration({ ServiceURL: "" }),
    status: 400 },
  { target: "registry", method: "POST", path: "/services",
    body: registration({ ServiceURL: "not a url" }), status: 400 },
  { target: "registry", method: "POST", path: "/services",
    body: registration({ ServiceURL: "ftp://127.0.0.1/x" }), status: 400 },
  { target: "registry", method: "POST", path: "/services",
    body: registration({ HeartbeatURL: "javascript:alert(1)" }), status: 400 },
  { target: "registry", method: "POST", path: "/services",
    body: registration({ RequiredServices: "LogService" }), status: 400 },
  { target: "registry", method: "POST", path: "/services",
    body: registration({ RequiredServices: [1] }), status: 400 },
  { target: "registry", method: "POST", path: "/services", body: big, status: 413 },
  { target: "registry", method: "DELETE", path: "/services", body: "", status: 400 },
  { target: "registry", method: "DELETE", path: "/services", body: "nope", status: 400 },
  { target: "registry", method: "DELETE", path: "/services", body: "http://127.0.0.1:9/nobody",
    status: 404 },
  { target: "registry", method: "DELETE", path: "/services", body: big, status: 413 },
  { target: "registry", method: "PUT", path: "/services", body: "{}", status: 405 },
  { target: "registry", method: "PATCH", path: "/services", status: 405 },
  { target: "registry", method: "GET", path: "/nope", status: 404 },
  { target: "registry", method: "GET", path: "/services/x", status: 404 },
  // Log service.
  { target: "logservice", method: "POST", path: "/log", body: "", status: 400 },
  { target: "logservice", method: "POST", path: "/log", headers: json, body: "[", status: 400 },
  { target: "logservice", method: "POST", path: "/log", headers: json, body: "[]", status: 400 },
  { target: "logservice", method: "POST", path: "/log", headers: json, body: "[1]", status: 400 },
  { target: "logservice", method: "POST", path: "/log", headers: json, body: '[""]', status: 400 },
  { target: "logservice", method: "POST", path: "/log", headers: json, body: '{"a":1}',
    status: 400 },
  { target: "logservice", method: "POST", path: "/log", headers: json, body: '["ok", null]',
    status: 400 },
  { target: "logservice", method: "POST", path: "/log", body: big, status: 413 },
  { target: "logservice", method: "GET", path: "/log?lines=abc", status: 400 },
  { target: "logservice", method: "GET", path: "/log?lines=0", status: 400 },
  { target: "logservice", method: "GET", path: "/log?lines=-5", status: 400 },
  { target: "logservice", method: "GET", path: "/log?lines=10001", status: 400 },
  { target: "logservice", method: "PUT", path: "/log", body: "x", status: 405 },
  { target: "logservice", method: "DELETE", path: "/log", status: 405 },
  { target: "logservice", method: "GET", path: "/nope", status: 404 },
  // Grading.
  { target: "gradingservice", method: "GET", path: "/students/abc", status: [400, 404] },
  { target: "gradingservice", method: "GET", path: "/students/-1", status: [400, 404] },
  { target: "gradingservice", method: "GET", path: "/students/1.5", status: [400, 404] },
  { target: "gradingservice", method: "GET", path: "/students/999", status: 404 },
  { target: "gradingservice", method: "POST", path: "/students/999/grades", headers: json,
    body: grade({}), status: 404 },
  { target: "gradingservice", method: "POST", path: "/students/abc/grades", headers: json,
    body: grade({}), status: [400, 404] },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json, body: "{",
    status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json, body: "",
    status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: "[]", status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: JSON.stringify({ Type: "Quiz", Score: 5 }), status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: grade({ Title: "" }), status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: grade({ Title: "t".repeat(201) }), status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: grade({ Title: 5 }), status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: grade({ Type: "Exam" }), status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: grade({ Score: "85" }), status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: grade({ Score: -1 }), status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: grade({ Score: 100.5 }), status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: '{"Title":"T","Type":"Quiz","Score":NaN}', status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: '{"Title":"T","Type":"Quiz","Score":1e999}', status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: grade({ Score: null }), status: 400 },
  { target: "gradingservice", method: "POST", path: "/students/1/grades", headers: json,
    body: big, status: 413 },
  { target: "gradingservice", method: "PUT", path: "/students/1", status: 405 },
  { target: "gradingservice", method: "DELETE", path: "/students", status: 405 },
  { target: "gradingservice", method: "GET", path: "/students/1/grades", status: 405 },
  { target: "gradingservice", method: "GET", path: "/nope", status: 404 },
  // Teacher portal.
  { target: "teacherportal", method: "GET", path: "/students/abc", status: [400, 404] },
  { target: "teacherportal", method: "GET", path: "/students/999", status: 404 },
  { target: "teacherportal", method: "POST", path: "/students/1/grades", headers: json,
    body: grade({}), status: 415 },
  ...[
    "",
    "Title=&Type=Quiz&Score=5",
    "Title=T&Type=Exam&Score=5",
    "Title=T&Type=Quiz&Score=NaN",
    "Title=T&Type=Quiz&Score=Infinity",
    "Title=T&Type=Quiz&Score=101",
    "Title=T&Type=Quiz&Score=0x10",
    `Title=${encodeURIComponent("<script>alert(1)</script>")}&Type=Quiz&Score=abc`,
  ].map((body): Case => ({
    target: "teacherportal", method: "POST", path: "/students/1/grades", headers: form, body,
    status: 400,
  })),
  { target: "teacherportal", method: "POST", path: "/students/999/grades", headers: form,
    body: "Title=T&Type=Quiz&Score=5", status: 404 },
  { target: "teacherportal", method: "POST", path: "/students/1/grades", headers: form, body: big,
    status: 413 },
  { target: "teacherportal", method: "PUT", path: "/students", status: 405 },
  { target: "teacherportal", method: "DELETE", path: "/logs", status: 405 },
  { target: "teacherportal", method: "GET", path: "/nope", status: 404 },
  // Hello.
  { target: "helloservice", method: "GET", path: `/hello?name=${"n".repeat(101)}`, status: 400 },
  { target: "helloservice", method: "GET", path: "/hello?name=a%00b", status: 400 },
  { target: "helloservice", method: "GET", path: "/hello?name=", status: 400 },
  { target: "helloservice", method: "POST", path: "/hello", body: "x", status: 405 },
  { target: "helloservice", method: "GET", path: "/nope", status: 404 },
];
// The runner's endpoints, on every service.
for (const target of Object.keys(serviceNames) as Array<keyof typeof serviceNames>) {
  table.push(
    { target, method: "POST", path: "/services", headers: json, body: "{", status: 400 },
    { target, method: "POST", path: "/services", headers: json, body: "", status: 400 },
    { target, method: "POST", path: "/services", headers: json, body: '{"Added":"x"}',
      status: 400 },
    { target, method: "POST", path: "/services", headers: json,
      body: '{"Added":[{"Name":5,"URL":"http://127.0.0.1:9"}]}', status: 400 },
    { target, method: "POST", path: "/services", headers: json,
      body: '{"Removed":[{"Name":"LogService","URL":"not a url"}]}', status: 400 },
    { target, method: "POST", path: "/services", headers: json, body: big, status: 413 },
    { target, method: "POST", path: "/heartbeat", body: "x", status: 405 },
  );
}

/** A seeded PRNG (mulberry32), so a failing fuzz run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** What a raw request produced: the final status, or none when the connection ended first. */
interface RawResult {
  status: number | undefined;
  error: string | undefined;
}

/** Sends raw bytes (in pieces, `gapMs` apart) and reads the final status line. */
function raw(
  port: number,
  pieces: Buffer[],
  options: { gapMs?: number; cut?: boolean; timeoutMs?: number } = {},
): Promise<RawResult> {
  const { gapMs = 0, cut = false, timeoutMs = 10_000 } = options;
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = "timeout";
      socket.destroy();
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => (data += chunk.toString("latin1")));
    socket.on("error", (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    socket.on("close", () => {
      clearTimeout(timer);
      const statuses = [...data.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]));
      resolve({ status: statuses.find((status) => status >= 200), error });
    });
    socket.on("connect", async () => {
      for (const [index, piece] of pieces.entries()) {
        // A server that answered early (a bad request line; a 100 Continue is not an answer)
        // has closed: more bytes would only make its kernel reset the connection, and a reset
        // can discard the answer before it is read.
        if (socket.destroyed || /^HTTP\/1\.[01] [2-5]\d\d/m.test(data)) return;
        socket.write(piece);
        if (gapMs > 0 && index < pieces.length - 1) {
          await new Promise((r) => setTimeout(r, gapMs));
          // Timers run before the loop reads sockets: setImmediate lets an answer that came
          // during the gap be read first.
          await new Promise((r) => setImmediate(r));
        }
      }
      if (cut) setTimeout(() => socket.destroy(), 20);
    });
  });
}

/** An HTTP/1.1 request as bytes, `Connection: close`, with a Content-Length unless given. */
function build(method: string, path: string, headers: Record<string, string>, body = ""): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  const names = Object.keys(headers).map((name) => name.toLowerCase());
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (!names.includes("content-length") && !names.includes("transfer-encoding")) {
    if (body !== "" || method === "POST" || method === "PUT") {
      lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    }
  }
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`), Buffer.from(body)]);
}

// Log lines that report a bad request (or greet): allowed to appear, nothing else is. A
// request the client abandoned is logged by the portal as such.
const allowedLine = new RegExp(
  "\\] - (bad request: |refused a grade |said hello to |[A-Z]+ \\S*: 4\\d\\d |" +
    "[A-Z]+ \\S*: client went away before the answer)",
);

interface State {
  services: string;
  students: string;
  data: string;
  log: string[];
}

describe("bad input against every endpoint of every service", () => {
  const count = counts();
  let system: System;
  let initial: State;
  before(async () => {
    system = await startSystem();
    initial = await state();
  });
  after(async () => {
    await system?.close();
    report("bad-input", count);
  });

  const portOf = (target: Target) =>
    target === "registry" ? system.registry.port : system.get(target).port;

  async function state(): Promise<State> {
    const services = (await listed(system.registryURL)).map((s) => ({ ...s, LastCheck: null }));
    const students = await request(`${system.get("gradingservice").url}/students`);
    const log = (await readFile(system.logFile, "utf8")).split("\n");
    return {
      services: JSON.stringify(services.sort((a, b) => a.ServiceURL.localeCompare(b.ServiceURL))),
      students: students.text(),
      data: await readFile(system.dataFile, "utf8"),
      log: log.filter((line) => line !== "" && !allowedLine.test(line)),
    };
  }

  /** Sends one bad request with a marker to each remote logger and waits until it arrives. */
  async function drainRemoteLogs(tag: string): Promise<string> {
    const marks = {
      gradingservice: `/students/${tag}`,
      teacherportal: `/students/${tag}`,
      helloservice: `/hello?name=${tag}`,
    } as const;
    for (const [target, path] of Object.entries(marks)) {
      await request(`${system.get(target as keyof typeof marks).url}${path}`);
    }
    return eventually(async () => {
      const text = await readFile(system.logFile, "utf8");
      const found = ["GradingService", "TeacherPortal", "HelloService"].every((name) =>
        new RegExp(`\\[${name}\\] - .*${tag}`).test(text));
      return found && text;
    }, 5_000, "the marker lines in the log file");
  }

  async function assertUnchanged(): Promise<void> {
    const now = await state();
    assert.equal(now.services, initial.services, "registrations unchanged");
    assert.equal(now.students, initial.students, "students unchanged");
    assert.equal(now.data, initial.data, "grades file unchanged");
    assert.deepEqual(now.log.slice(initial.log.length), [], "no unexpected log lines");
    for (const proc of [system.registry, ...Object.values(system.procs)]) {
      assert.ok(proc.alive(), `${proc.command} alive`);
      assert.doesNotMatch(proc.stderr(), /internal error/, proc.command);
    }
  }

  it("answers every bad-input case with the right 4xx and a JSON or HTML message", async () => {
    const wrong: string[] = [];
    for (const [index, entry] of table.entries()) {
      const path = `${entry.path}${entry.path.includes("?") ? "&" : "?"}case=${index}`;
      const result = await raw(portOf(entry.target),
        [build(entry.method, path, entry.headers ?? {}, entry.body)]);
      count.badRequests += 1;
      const want = Array.isArray(entry.status) ? entry.status : [entry.status];
      if (result.status === undefined || !want.includes(result.status)) {
        wrong.push(`${entry.target} ${entry.method} ${path}: got ${result.status ?? result.error}` +
          `, want ${want.join("/")}`);
      }
    }
    assert.deepEqual(wrong, []);
    await drainRemoteLogs("table-end");
    await assertUnchanged();
  });

  it("logs each bad request of the table once", async () => {
    const text = await drainRemoteLogs("table-logged");
    const notOnce: string[] = [];
    // Lines that do not name the URL are counted per kind instead of per request.
    const unnamed = new Map<string, { lines: string[]; pattern: RegExp; cases: number }>();
    for (const [index, entry] of table.entries()) {
      const { target } = entry;
      // The registry and the log service log to stderr; the others to the log service.
      let sink: string[];
      if (target === "registry" || target === "logservice") {
        sink = (target === "registry" ? system.registry : system.get(target)).stderr().split("\n");
      } else sink = text.split("\n").filter((line) => line.includes(`[${serviceNames[target]}]`));
      const form = entry.path.startsWith("/students");
      if (target === "teacherportal" && entry.status === 400 && form) {
        const key = `${target} form`;
        const pattern = /refused a grade for student 1:/;
        const group = unnamed.get(key) ?? { lines: sink, pattern, cases: 0 };
        group.cases += 1;
        unnamed.set(key, group);
        continue;
      }
      const marker = new RegExp(`[?&]case=${index}(?!\\d)`);
      const times = sink.filter((line) => marker.test(line)).length;
      if (times !== 1) notOnce.push(`${target} ${entry.method} ${entry.path}: ${times}×`);
    }
    for (const [key, { lines, pattern, cases }] of unnamed) {
      const times = lines.filter((line) => pattern.test(line)).length;
      if (times !== cases) notOnce.push(`${key}: ${times} lines for ${cases} requests`);
    }
    assert.deepEqual(notOnce, [], "bad requests not logged exactly once");
  });

  it("survives a seeded random fuzz of 5 000 raw requests with no 5xx and no state change",
    async () => {
      const seed = Number(process.env["FUZZ_SEED"] ?? 20_261_125);
      const next = random(seed);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
      const text = (n: number) =>
        Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(next() * 95))).join("");
      const ids = ["1", "2", "5", "0", "6", "999999", "-1", "abc", "1e3", "%31", "1.5", "%", "",
        "9".repeat(20), "%3Cscript%3E", "..", "%2e%2e%2f"];
      const paths: Record<Target, string[]> = {
        registry: ["/services", "/services?name=LogService", "/services?name=%", "/",
          "/services/x"],
        logservice: ["/log", "/log?lines=3", "/log?lines=x", "/log?lines=99999999999", "/logs"],
        gradingservice: ["/students", "/students/ID", "/students/ID/grades", "/students/ID/x"],
        teacherportal: ["/", "/students", "/students/ID", "/students/ID/grades", "/services",
          "/logs", "/favicon.ico"],
        helloservice: ["/hello", "/hello?name=NAME", "/hello?name=%00", "/hello?x=1"],
      };
      const common = ["/heartbeat", "/services", "/%", "//", "/a/../../etc/passwd", "/\u00e9",
        "/%ZZ", `/${"long/".repeat(400)}`];
      const methods = ["GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
        "BREW", "get"];
      const junk = () => pick(["", "{", "}", "[", "null", "true", "1", "\"x\"", "[1,2]", "{}",
        "{\"a\":", text(40), "\u0000\u0001\u0002", "\ud800", '{"__proto__":{"x":1}}']);
      const badRegistration = () => pick([
        registration({ ServiceName: pick([1, "", null, [], "a\u0007"]) }),
        registration({ ServiceURL: pick(["", "x", "ftp://h", "http://", 5, null]) }),
        registration({ RequiredServices: pick(["x", 5, {}, [null], [""]]) }),
        registration({ HeartbeatURL: pick(["x", "file:///etc/passwd", 3]) }),
        junk(),
      ]);
      const badGrade = () => pick([
        grade({ Score: pick(["85", null, -1, 101, 1e400, [], {}]) }),
        grade({ Type: pick(["", "quiz", "Exam", 1, null]) }),
        grade({ Title: pick(["", 1, null, "t".repeat(201)]) }),
        '{"Title":"T","Type":"Quiz","Score":NaN}',
        junk(),
      ]);
      const badForm = () => {
        const fields = new URLSearchParams({
          Title: pick(["T", "", "<b>x</b>", "t".repeat(201)]),
          Type: pick(["Quiz", "Test", "exam", ""]),
          // The score is always invalid, so no form can add a grade.
          Score: pick(["NaN", "Infinity", "-1", "101", "abc", "", "1e999", "0x10", "5 5"]),
        });
        return pick([fields.toString(), `${fields.toString()}&Score=5`, text(30)]);
      };
      const badPatch = () => pick([
        '{"Added":"x"}', '{"Removed":5}', '{"Added":[{"Name":1,"URL":"http://h"}]}',
        '{"Added":[{"Name":"LogService","URL":"nope"}]}', '{"Removed":[null]}', "[]", junk(),
      ]);

      const generate = () => {
        const target = pick(["registry", ...Object.keys(serviceNames)] as Target[]);
        let method = pick(methods);
        let path = pick([...paths[target], ...paths[target], ...common])
          .replace("ID", pick(ids))
          .replace("NAME", encodeURIComponent(text(Math.floor(next() * 120))));
        const headers: Record<string, string> = {};
        let body = next() < 0.5 ? "" : junk();
        // Requests that would be valid writes are made invalid (state must not change).
        const route = path.split("?")[0] ?? "";
        if (route === "/services" && method === "POST") {
          body = target === "registry" ? badRegistration() : badPatch();
          headers["Content-Type"] = "application/json";
        } else if (route === "/services" && method === "DELETE" && target === "registry") {
          body = pick(["", "nope", "http://127.0.0.1:9/nobody", text(20)]);
        } else if (route === "/log" && method === "POST") {
          headers["Content-Type"] = "application/json";
          body = pick(["", "[]", "[1]", '[""]', "{", junk(), '["a",2]']);
          if (body.trim().startsWith('"') || body === "1" || body === "true") body = "[";
        } else if (/^\/students\/[^/]+\/grades$/.test(route) && method === "POST") {
          if (target === "teacherportal") {
            body = badForm();
            headers["Content-Type"] =
              pick([form["Content-Type"], "text/plain", "application/json"]);
          } else {
            body = badGrade();
            headers["Content-Type"] = "application/json";
          }
        }
        // Random extra headers, some malformed.
        const extras = Math.floor(next() * 3);
        for (let n = 0; n < extras; n++) {
          const kind = pick(["x", "ct", "auth", "expect", "huge", "cl", "bad"]);
          if (kind === "x") headers[`X-Fuzz-${n}`] = text(20);
          else if (kind === "ct" && headers["Content-Type"] === undefined) {
            headers["Content-Type"] = pick(["text/html", "application/json", "", "*/*; x"]);
          } else if (kind === "auth") headers["Authorization"] = `Bearer ${text(10)}`;
          else if (kind === "expect") headers["Expect"] = "100-continue";
          else if (kind === "huge") headers["X-Huge"] = "h".repeat(20_000);
          else if (kind === "cl") headers["Content-Length"] = pick(["-1", "abc", "1, 2", "9e9"]);
          else headers[`X-Bad\u0001${n}`] = "y";
        }
        if (method === "get") method = "get"; // lower-case methods are malformed on purpose
        const mode = pick(["plain", "plain", "plain", "slow", "cut", "oversized", "chunked"]);
        if (mode === "oversized") body = big;
        if (mode === "chunked" && headers["Content-Length"] === undefined && body !== "") {
          headers["Transfer-Encoding"] = "chunked";
          const size = Buffer.byteLength(body).toString(16);
          body = pick([`${size}\r\n${body}\r\n0\r\n\r\n`, `zz\r\n${body}\r\n`, `${size}\r\n`]);
          // An unfinished chunked body waits for more (bounded by the server's requestTimeout):
          // a stalled sender, cut off by the client like the other truncated requests.
          if (body === `${size}\r\n`) return { target, method, path, headers, body, mode: "cut" };
        }
        if (path.length > 3_000 && next() < 0.5) path = path.slice(0, 3_000);
        return { target, method, path, headers, body, mode };
      };

      const total = 5_000;
      const statuses = new Map<number, number>();
      const problems: string[] = [];
      let sent = 0;
      let unanswered = 0;
      const worker = async () => {
        while (sent < total) {
          sent += 1;
          const { target, method, path, headers, body, mode } = generate();
          let bytes = build(method, path, headers, body);
          let pieces = [bytes];
          if (mode === "slow") {
            const cuts = [0.2, 0.5, 0.8].map((f) => Math.floor(bytes.length * f));
            pieces = [0, ...cuts].map((at, i) => bytes.subarray(at, [...cuts, bytes.length][i]));
          }
          if (mode === "cut") {
            bytes = bytes.subarray(0, Math.max(1, Math.floor(bytes.length * next())));
            pieces = [bytes];
          }
          const result = await raw(portOf(target), pieces, {
            gapMs: mode === "slow" ? 15 : 0,
            cut: mode === "cut",
          });
          count.badRequests += 1;
          if (result.status !== undefined) {
            statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
            if (result.status >= 500) {
              problems.push(`${result.status}: ${target} ${method} ${path.slice(0, 80)} ` +
                `${JSON.stringify(headers).slice(0, 200)} ${body.slice(0, 80)}`);
            }
          } else if (mode !== "cut" && mode !== "oversized") {
            unanswered += 1;
            problems.push(`no answer (${result.error}): ${target} ${method} ${path.slice(0, 80)} ` +
              `${JSON.stringify(headers).slice(0, 200)} mode ${mode}`);
          }
        }
      };
      await Promise.all(Array.from({ length: 24 }, () => worker()));
      console.log(`fuzz seed ${seed}: statuses ${JSON.stringify([...statuses].sort())}, ` +
        `unanswered ${unanswered}`);
      assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems (seed ${seed})`);
      await drainRemoteLogs("fuzz-end");
      await assertUnchanged();
      // Still serving normally.
      const portal = await request(`${system.get("teacherportal").url}/students/1`);
      assert.equal(portal.status, 200);
    });
});
