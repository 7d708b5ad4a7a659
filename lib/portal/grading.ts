import type { IncomingMessage, ServerResponse } from "node:http";
import {
  checkGrade,
  parseStudent,
  parseStudents,
  type GradeErrors,
  type Student,
} from "../grades/grades.ts";
import { callProvider } from "../registry/call.ts";
import type { Providers } from "../registry/providers.ts";
import { HttpError, readText } from "../std/http.ts";
import { RequestError, request, type HttpResponse } from "../std/request.ts";
import type { Route } from "../std/router.ts";
import type { ServiceContext } from "../service/start.ts";
import { abandoned, queryOf, redirect, sendPage } from "./respond.ts";
import type { GradeForm } from "./form.ts";
import { studentPage, studentsPage } from "./students.ts";
import { badStatus, errorText, parseAnswer, type Explain, type Upstream } from "./upstream.ts";

/** What the student pages need besides the service context. */
export interface GradingRoutesOptions {
  upstream: Upstream;
  explain: Explain;
  /** Largest accepted form body in bytes; larger is `413`. */
  maxFormBytes: number;
}

/** Reads students from a GradingService provider; failures are the pages that explain them. */
export interface GradingReader {
  /** Every student (`GET /students`). */
  students(signal: AbortSignal): Promise<Student[]>;
  /** One student (`GET /students/{id}`); an unknown one is a `404` page. */
  student(id: number, signal: AbortSignal): Promise<Student>;
}

/** Makes the `GradingReader` of a portal with `providers`. */
export function createGradingReader(
  providers: Providers,
  upstream: Upstream,
  explain: Explain,
): GradingReader {
  const { timeoutMs } = upstream;
  const get = (path: string, signal: AbortSignal): Promise<HttpResponse> =>
    callProvider(providers, "GradingService", (url) =>
      request(`${url}${path}`, { timeoutMs, signal }),
    ).catch(explain("GradingService", signal));
  return {
    students: async (signal) => parseAnswer(await get("/students", signal), parseStudents),
    student: async (id, signal) => {
      const response = await get(`/students/${id}`, signal);
      if (response.status === 404) throw new HttpError(404, `There is no student with ID ${id}.`);
      return parseAnswer(response, parseStudent);
    },
  };
}

/**
 * The routes over the grading service: `/students`, `/students/{id}` and the add-grade form's
 * `POST /students/{id}/grades` (docs/protocol.md#teacher-portal).
 */
export function createGradingRoutes(
  context: ServiceContext,
  reader: GradingReader,
  options: GradingRoutesOptions,
): Route[] {
  const { providers, log } = context;
  const { explain, maxFormBytes } = options;
  const { timeoutMs } = options.upstream;
  const getStudent = reader.student;

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
      const message = errorText(response.text()) || "The grading service refused the grade.";
      // Its messages name the field ("Score: …"): show such a one next to that field.
      const field = /^(Title|Type|Score):/.exec(message)?.[1] as keyof GradeErrors | undefined;
      await (field === undefined ? refuse({}, message) : refuse({ [field]: message }));
      return;
    }
    if (response.status !== 201) {
      throw badStatus("GradingService", response.status, response.text());
    }
    log(
      `added grade ${JSON.stringify(grade.Title)} (${grade.Type}, ${grade.Score}) ` +
        `for student ${id} through the form`,
    );
    redirect(res, 303, `/students/${id}?added=1`);
  };

  return [
    {
      path: "/students",
      methods: {
        GET: async (_req, res) => {
          sendPage(res, 200, studentsPage(await reader.students(abandoned(res))));
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
  ];
}

/** The `{id}` of a page URL; anything but digits names no student, so it is a `404` page. */
export function pageID(text: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) {
    throw new HttpError(404, `There is no student ${JSON.stringify(text.slice(0, 40))}.`);
  }
  return Number(text);
}

/** The form's score text as a number; anything but a plain decimal becomes `NaN` (refused). */
function parseScore(text: string): number {
  const trimmed = text.trim();
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}
