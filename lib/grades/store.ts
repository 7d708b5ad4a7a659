import { readFile } from "node:fs/promises";
import type { Logger } from "../std/log.ts";
import { writeAtomically } from "../std/atomic.ts";
import { describeError, NotFoundError, UnavailableError } from "../std/errors.ts";
import { seedStudents } from "./data.ts";
import { parseStudents, type Grade, type Student } from "./grades.ts";

/** Options of `openGradeStore`. */
export interface GradeStoreOptions {
  /** The JSON data file (`--data`); created with the seed students when missing. */
  file: string;
  /** Where loading and seeding are reported. */
  log?: Logger;
}

/** The students and their grades, kept in memory and saved to one file. */
export interface GradeStore {
  /** Every student with every acknowledged grade; a copy the caller may keep. */
  list(): Student[];
  /** One student (a copy), or `undefined` when no student has that ID. */
  get(id: number): Student | undefined;
  /**
   * Appends a grade and resolves with it only once the whole file has been replaced
   * atomically and fsynced, so an acknowledged grade survives `kill -9`
   * (docs/protocol.md#grading-service).
   *
   * Concurrent calls are group-committed: grades that arrive while a write is in flight are
   * saved together by the next write, in arrival order. A grade is visible to `list`/`get`
   * only after its write succeeded. Rejects with `NotFoundError` for an unknown student,
   * `UnavailableError` once closing, or the write's error (the grade is then not stored).
   */
  addGrade(id: number, grade: Grade): Promise<Grade>;
  /** Refuses new grades and waits for the writes already accepted. */
  close(): Promise<void>;
  /** How many file writes completed (group commit makes this less than the grades added). */
  readonly writes: number;
}

interface Waiting {
  id: number;
  grade: Grade;
  resolve: (grade: Grade) => void;
  reject: (error: unknown) => void;
}

/**
 * Loads the data file, or seeds the five students of docs/protocol.md#grading-service and saves
 * them when the file does not exist. Rejects with a clear error naming the file when it cannot be
 * read or is not a valid student list; a corrupt file is never overwritten.
 */
export async function openGradeStore(options: GradeStoreOptions): Promise<GradeStore> {
  const { file, log } = options;
  let students = new Map<number, Student>();
  const save = (list: Student[]) => writeAtomically(file, `${JSON.stringify(list, null, 2)}\n`);

  const loaded = await load(file);
  if (loaded) {
    for (const student of loaded) students.set(student.ID, student);
    log?.(`loaded ${loaded.length} students from ${file}`);
  } else {
    const seed = seedStudents();
    await save(seed);
    for (const student of seed) students.set(student.ID, student);
    log?.(`seeded ${seed.length} students into ${file}`);
  }

  let pending: Waiting[] = [];
  let writing: Promise<void> | undefined;
  let closed = false;
  let writes = 0;

  const drain = async (): Promise<void> => {
    try {
      while (pending.length > 0) {
        const batch = pending;
        pending = [];
        // Build the next state aside; it replaces the current one only once it is on disk.
        const next = new Map(students);
        for (const { id, grade } of batch) {
          const student = next.get(id);
          // Unreachable: IDs are checked on entry and students are never removed.
          if (student) next.set(id, { ...student, Grades: [...student.Grades, grade] });
        }
        try {
          await save([...next.values()]);
          writes++;
          students = next;
          for (const waiting of batch) waiting.resolve(structuredClone(waiting.grade));
        } catch (error) {
          const failure = new Error(`grades: save ${file}: ${describeError(error)}`, {
            cause: error,
          });
          for (const waiting of batch) waiting.reject(failure);
        }
      }
    } finally {
      // Synchronous with the last emptiness check, so no grade is left waiting unscheduled.
      writing = undefined;
    }
  };

  return {
    list: () => structuredClone([...students.values()]),
    get: (id) => {
      const student = students.get(id);
      return student && structuredClone(student);
    },
    addGrade: (id, grade) => {
      if (closed) return Promise.reject(new UnavailableError("grades: store is closing"));
      if (!students.has(id)) return Promise.reject(new NotFoundError(`no student with ID ${id}`));
      return new Promise<Grade>((resolve, reject) => {
        pending.push({ id, grade: { ...grade }, resolve, reject });
        writing ??= drain();
      });
    },
    close: async () => {
      closed = true;
      await writing;
    },
    get writes() {
      return writes;
    },
  };
}

async function load(file: string): Promise<Student[] | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`grades: read ${file}: ${describeError(error)}`, { cause: error });
  }
  try {
    return parseStudents(JSON.parse(text) as unknown);
  } catch (error) {
    throw new Error(
      `grades: ${file} is corrupt (${describeError(error)}); fix it or move it away to reseed`,
      { cause: error },
    );
  }
}
