import { HttpError, readJSON, sendJSON, type Handler } from "../std/http.ts";
import { createRouter } from "../std/router.ts";
import type { ServiceContext } from "../service/start.ts";
import { parseGrade, parseStudentID } from "./grades.ts";
import type { GradeStore } from "./store.ts";

/** Options of `createGradesHandler`. */
export interface GradesHandlerOptions {
  /** Where students and grades live (see `openGradeStore`). */
  store: GradeStore;
  /** Largest accepted grade body in bytes; a larger one is refused with `413`. Default 16 KiB. */
  maxBodyBytes?: number;
}

/**
 * The grading service's HTTP API (docs/protocol.md#wire-protocol):
 * `GET /students`, `GET /students/{id}`, `POST /students/{id}/grades` (`201` + the stored
 * grade, answered only after the grade is durable).
 *
 * A non-numeric id is `400`, an unknown student `404`, an invalid grade `400` naming the field,
 * a wrong method `405` with `Allow`, a grade without the shared token (when one is set) `401`;
 * every client mistake is logged once through `context.log` and changes nothing. Each added
 * grade is logged and counted (`grades_added_total` at `GET /metrics`).
 */
export function createGradesHandler(
  context: ServiceContext,
  options: GradesHandlerOptions,
): Handler {
  const { store, maxBodyBytes = 16 * 1024 } = options;
  const { log, authorize } = context;
  // Bound now, so the counter shows 0 before the first grade rather than nothing.
  const added = context.metrics.counter("grades_added_total", "Grades added and acknowledged.")
    .with({});

  const findStudent = (idText: string) => {
    const id = parseStudentID(idText);
    const student = store.get(id);
    if (!student) throw new HttpError(404, `no student with ID ${id}`);
    return student;
  };

  return createRouter(
    [
      {
        path: "/students",
        methods: { GET: (_req, res) => sendJSON(res, 200, store.list()) },
      },
      {
        path: "/students/:id",
        methods: {
          GET: (_req, res, params) => sendJSON(res, 200, findStudent(params["id"] ?? "")),
        },
      },
      {
        path: "/students/:id/grades",
        methods: {
          POST: async (req, res, params) => {
            authorize(req);
            // Unknown student first: its 404 must not depend on the body being valid.
            const student = findStudent(params["id"] ?? "");
            const grade = parseGrade(await readJSON(req, { limit: maxBodyBytes }));
            const stored = await store.addGrade(student.ID, grade);
            added.inc();
            log(
              `added grade ${JSON.stringify(stored.Title)} (${stored.Type}, ${stored.Score}) ` +
                `for student ${student.ID} (${student.FirstName} ${student.LastName})`,
            );
            sendJSON(res, 201, stored);
          },
        },
      },
    ],
    { log },
  );
}
