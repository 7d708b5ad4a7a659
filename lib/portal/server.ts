import type { IncomingMessage, ServerResponse } from "node:http";
import {
  checkGrade,
  parseStudent,
  parseStudents,
  type GradeErrors,
  type Student,
} from "../grades/grades.ts";
import { callProvider } from "../registry/call.ts";
import { listServices } from "../registry/client.ts";
import { HttpError, readText, type Handler } from "../std/http.ts";
import { RequestError, request, type HttpResponse } from "../std/request.ts";
import { createRouter } from "../std/router.ts";
import type { ServiceContext } from "../service/start.ts";
import { logsPage, servicesPage, studentsPage } from "./pages.ts";
import { studentPage, type GradeForm } from "./student.ts";
import { abandoned, answerError, redirect, sendPage } from "./respond.ts";
import {
  badStatus,
  errorText,
  parseAnswer,
  registryUnavailable,
  unavailable,
  type Upstream,
} from "./upstream.ts";

/** Options of `createPortalHandler`. */
export interface PortalHandlerOptions {
  /** The registry whose view `/services` shows. */
  registryURL: string;
  /** Bearer token for the registry (docs/protocol.md#security), if it requires one. */
  token?: string;
  /** Bound on each call to another service. Default 3 s. */
  timeoutMs?: number;
  /** Largest accepted form body in bytes; larger is `413`. Default 16 KiB. */
  maxFormBytes?: number;
}

/**
 * The teacher portal (docs/protocol.md#teacher-portal): server-rendered pages over the grading
 * service, the log service and the registry. `/` redirects to `/students`; the add-grade form
 * answers `303` on success, a `400` page with the refilled form on invalid input, `404` for an
 * unknown student; an unreachable GradingService, LogService or registry is a `503` page saying so.
 *
 * Providers are called through `callProvider`, so a dead instance is dropped and another one
 * tried. Every call has a timeout and is abandoned when the browser goes away.
 */
export function createPortalHandler(
  context: ServiceContext,
  options: PortalHandlerOptions,
): Handler {
  const { registryURL, token, timeoutMs = 3_000, maxFormBytes = 16 * 1024 } = options;
  const { providers, log } = context;
  const upstream: Upstream = { registryURL, timeoutMs, ...(token === undefined ? {} : { token }) };
  /** Rethrows a failed call to `service` as the page that explains it. */
  const explain = (service: string, signal: AbortSignal) => async (error: unknown) => {
    throw await unavailable(service, error, upstream, signal);
  };

  /** GETs `path` from a GradingService provider and returns the response. */
  const fromGrading = (path: string, signal: AbortSignal): Promise<HttpResponse> =>
    callProvider(providers, "GradingService", (url) =>
      request(`${url}${path}`, { timeoutMs, signal }),
    ).catch(explain("GradingService", signal));

  const getStudent = async (id: number, signal: AbortSignal): Promise<Student> => {
    const response = await fromGrading(`/students/${id}`, signal);
    if (response.status === 404) throw new HttpError(404, `There is no student with ID ${id}.`);
    return parseAnswer(response, parseStudent);
  };

  const addGrade = async (req: IncomingMessage, res: ServerResponse, idText: string) => {
    const id = pageID(idText);
    const signal = abandoned(res);
    const contentType = (req.headers["content-type"] ?? "").split(";", 1)[0]?.trim() ?? "";
    if (contentType.toLowerCase() !== "application/x-www-form-urlencoded") {
      throw new HttpError(415, "The form must be sent as application/x-www-form-urlencoded.");
    }
    const fields = new URLSearchParams(await readText(req, { limit: maxFormBytes }));
    const form: GradeForm = {
      Title: fields.get("Title") ?? "",
      Type: fields.get("Type") ?? "",
      Score: fields.get("Score") ?? "",
    };
    const refuse = async (errors: GradeErrors, error?: string) => {
      const why = [error, ...Object.values(errors)].filter((text) => text !== undefined);
      log(`refused a grade for student ${id}: ${why.join("; ")}`);
      const student = await getStudent(id, signal);
      sendPage(
        res,
        400,
        studentPage(student, { form, errors, ...(error === undefined ? {} : { error }) }),
      );
    };

    const checked = checkGrade({
      Title: form.Title,
      Type: form.Type,
      Score: parseScore(form.Score),
    });
    if (checked.errors) {
      await refuse(checked.errors);
      return;
    }
    const grade = checked.grade;
    const body = JSON.stringify(grade);
    const response = await callProvider(providers, "GradingService", async (url) => {
      try {
        return await request(`${url}/students/${id}/grades`, {
          method: "POST",
          headers: { ...context.authHeaders, "Content-Type": "application/json" },
          body,
          timeoutMs,
          signal,
        });
      } catch (error) {
        // Only a refused connection proves the grade was not received; after a reset it may
        // have been stored, so it must not be sent to a second provider (no duplicate).
        if (error instanceof RequestError && error.code !== "ECONNREFUSED") {
          throw new HttpError(
            503,
            "GradingService did not confirm the grade (" + error.code + "); it may or may not " +
              "have been saved, check the student's page.",
            { cause: error },
          );
        }
        throw error;
      }
    }).catch(explain("GradingService", signal));
    if (response.status === 404) throw new HttpError(404, `There is no student with ID ${id}.`);
    if (response.status === 400) {
      const message = errorText(response) || "The grading service refused the grade.";
      // Its messages name the field ("Score: …"): show such a one next to that field.
      const field = /^(Title|Type|Score):/.exec(message)?.[1] as keyof GradeErrors | undefined;
      await (field === undefined ? refuse({}, message) : refuse({ [field]: message }));
      return;
    }
    if (response.status !== 201) throw badStatus("GradingService", response);
    log(
      `added grade ${JSON.stringify(grade.Title)} (${grade.Type}, ${grade.Score}) ` +
        `for student ${id} through the form`,
    );
    redirect(res, 303, `/students/${id}?added=1`);
  };

  return createRouter(
    [
      { path: "/", methods: { GET: (_req, res) => redirect(res, 302, "/students") } },
      {
        path: "/students",
        methods: {
          GET: async (_req, res) => {
            const response = await fromGrading("/students", abandoned(res));
            sendPage(res, 200, studentsPage(parseAnswer(response, parseStudents)));
          },
        },
      },
      {
        path: "/students/:id",
        methods: {
          GET: async (req, res, params) => {
            const student = await getStudent(pageID(params["id"] ?? ""), abandoned(res));
            const added = queryOf(req).get("added") === "1";
            sendPage(res, 200, studentPage(student, { added }));
          },
        },
      },
      {
        path: "/students/:id/grades",
        methods: { POST: (req, res, params) => addGrade(req, res, params["id"] ?? "") },
      },
      {
        path: "/services",
        methods: {
          GET: async (_req, res) => {
            let services;
            try {
              services = await listServices({ ...upstream, signal: abandoned(res) });
            } catch (error) {
              throw registryUnavailable(upstream, error);
            }
            sendPage(res, 200, servicesPage(services, registryURL));
          },
        },
      },
      {
        path: "/logs",
        methods: {
          GET: async (_req, res) => {
            const signal = abandoned(res);
            const { url, response } = await callProvider(providers, "LogService", async (url) => ({
              url,
              response: await request(`${url}/log?lines=100`, { timeoutMs, signal }),
            })).catch(explain("LogService", signal));
            if (response.status !== 200) throw badStatus("LogService", response);
            sendPage(res, 200, logsPage(response.text(), url));
          },
        },
      },
      // Browsers ask for it on every page; answering keeps 404s out of the log.
      { path: "/favicon.ico", methods: { GET: (_req, res) => void res.writeHead(204).end() } },
    ],
    { onError: (req, res, error) => answerError(req, res, error, log) },
  );
}

/** The `{id}` of a page URL; anything but digits names no student, so it is a `404` page. */
function pageID(text: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) {
    throw new HttpError(404, `There is no student ${JSON.stringify(text.slice(0, 40))}.`);
  }
  return Number(text);
}

/** The query parameters of a request URL. */
function queryOf(req: IncomingMessage): URLSearchParams {
  const url = req.url ?? "/";
  const question = url.indexOf("?");
  return new URLSearchParams(question === -1 ? "" : url.slice(question + 1));
}

/** The form's score text as a number; anything but a plain decimal becomes `NaN` (refused). */
function parseScore(text: string): number {
  const trimmed = text.trim();
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}
