import { ValidationError } from "../std/errors.ts";

/** The kinds of grade a student can get (docs/protocol.md#grading-service). */
export const gradeTypes = ["Quiz", "Test", "Homework"] as const;

/** One of `gradeTypes`. */
export type GradeType = (typeof gradeTypes)[number];

/** One grade, exactly as on the wire: `{"Title":"Quiz 1","Type":"Quiz","Score":85}`. */
export interface Grade {
  Title: string;
  Type: GradeType;
  Score: number;
}

/** A student and their grades, exactly as on the wire (docs/protocol.md#wire-protocol). */
export interface Student {
  ID: number;
  FirstName: string;
  LastName: string;
  Grades: Grade[];
}

/** Longest accepted grade title, in characters (code points). */
const maxTitleLength = 200;

/** Longest accepted first or last name, in characters (code points). */
const maxNameLength = 200;

// Control characters would let a title forge lines in logs; HTML is fine (the portal escapes).
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/u;

/**
 * Accepts a Grade from decoded JSON, or throws `ValidationError` naming the field.
 *
 * Title: 1–200 characters, not blank, no control characters (stored verbatim otherwise, HTML
 * included). Type: `Quiz`, `Test` or `Homework`. Score: a finite number from 0 to 100 — strings,
 * `null` and the `Infinity` that `1e999` decodes to are refused. Unknown fields are ignored.
 */
export function parseGrade(value: unknown): Grade {
  const body = asObject(value, "grade");
  const { grade, errors } = checkGrade({
    Title: body["Title"],
    Type: body["Type"],
    Score: body["Score"],
  });
  if (grade) return grade;
  // The first refused field, in the order Title, Type, Score.
  throw new ValidationError(errors.Title ?? errors.Type ?? errors.Score ?? "grade: invalid");
}

/** Why each field of a submitted grade was refused, by field name. */
export type GradeErrors = Partial<Record<keyof Grade, string>>;

/** The outcome of `checkGrade`: the grade, or why each refused field was refused. */
export type GradeCheck = { grade: Grade; errors?: never } | { grade?: never; errors: GradeErrors };

/**
 * Checks every field of a submitted grade at once (a form reports them all together, where
 * `parseGrade` stops at the first): the grade when all are valid, otherwise the message of each
 * refused field, worded as `parseGrade` words it.
 */
export function checkGrade(fields: Readonly<Record<keyof Grade, unknown>>): GradeCheck {
  const errors: GradeErrors = {};
  const check = <T>(field: keyof Grade, parse: (value: unknown) => T): T | undefined => {
    try {
      return parse(fields[field]);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      errors[field] = error.message;
      return undefined;
    }
  };
  const Title = check("Title", (value) => parseText(value, "Title", maxTitleLength));
  const Type = check("Type", parseGradeType);
  const Score = check("Score", parseScore);
  if (Title === undefined || Type === undefined || Score === undefined) return { errors };
  return { grade: { Title, Type, Score } };
}

/** Accepts a Student (as stored in the data file), or throws `ValidationError` naming the field. */
export function parseStudent(value: unknown): Student {
  const body = asObject(value, "student");
  const id = body["ID"];
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
    throw new ValidationError("student: ID must be a non-negative integer");
  }
  const grades = body["Grades"] ?? [];
  if (!Array.isArray(grades)) throw new ValidationError(`student ${id}: Grades must be an array`);
  return {
    ID: id,
    FirstName: parseText(body["FirstName"], `student ${id}: FirstName`, maxNameLength),
    LastName: parseText(body["LastName"], `student ${id}: LastName`, maxNameLength),
    Grades: grades.map((grade: unknown, index) => {
      try {
        return parseGrade(grade);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new ValidationError(`student ${id}: Grades[${index}]: ${message}`, { cause: error });
      }
    }),
  };
}

/** Accepts an array of Students with distinct IDs, or throws `ValidationError`. */
export function parseStudents(value: unknown): Student[] {
  if (!Array.isArray(value)) throw new ValidationError("students: must be a JSON array");
  const students = value.map((item: unknown) => parseStudent(item));
  const ids = new Set<number>();
  for (const student of students) {
    if (ids.has(student.ID)) throw new ValidationError(`students: duplicate ID ${student.ID}`);
    ids.add(student.ID);
  }
  return students;
}

/**
 * Parses the `{id}` of `/students/{id}`: decimal digits only, or `ValidationError`.
 * A well-formed id that names no student is the caller's `404`.
 */
export function parseStudentID(text: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) {
    throw new ValidationError(`student id: must be a non-negative integer, got ${quote(text)}`);
  }
  return Number(text);
}

/** The mean score of a student's grades, or `undefined` when there are none. */
export function average(student: Pick<Student, "Grades">): number | undefined {
  if (student.Grades.length === 0) return undefined;
  let sum = 0;
  for (const grade of student.Grades) sum += grade.Score;
  return sum / student.Grades.length;
}

function parseGradeType(value: unknown): GradeType {
  const found = gradeTypes.find((type) => type === value);
  if (found === undefined) {
    throw new ValidationError(`Type: must be one of ${gradeTypes.join(", ")}`);
  }
  return found;
}

function parseScore(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 100) {
    throw new ValidationError("Score: must be a finite number from 0 to 100");
  }
  // JSON has no -0; keep the stored value plain.
  return value === 0 ? 0 : value;
}

function parseText(value: unknown, field: string, max: number): string {
  if (typeof value !== "string") throw new ValidationError(`${field}: must be a string`);
  const length = [...value].length;
  if (length === 0 || length > max || value.trim() === "") {
    throw new ValidationError(`${field}: must be 1 to ${max} characters, not blank`);
  }
  if (controlCharacters.test(value)) {
    throw new ValidationError(`${field}: must not contain control characters`);
  }
  return value;
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError(`${what}: must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
