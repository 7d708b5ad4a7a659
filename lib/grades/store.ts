import { rm } from "node:fs/promises";
import { writeAtomically } from "../std/atomic.ts";
import { describeError, NotFoundError, UnavailableError, ValidationError } from "../std/errors.ts";
import { createJournal, readIfExists, splitJournal } from "../std/journal.ts";
import type { Logger } from "../std/log.ts";
import { seedStudents } from "./data.ts";
import { parseGrade, parseStudents, type Grade, type Student } from "./grades.ts";

/** Options of `openGradeStore`. */
export interface GradeStoreOptions {
  /** The JSON data file (`--data`); created with the seed students when missing. */
  file: string;
  /** Where loading and seeding are reported. */
  log?: Logger;
  /** The journal is folded into the data file once it is larger than this and the file. */
  compactBytes?: number;
}

/** The students and their grades, kept in memory and saved to one file plus its journal. */
export interface GradeStore {
  /** Every student with every acknowledged grade; a copy the caller may keep. */
  list(): Student[];
  /** One student (a copy), or `undefined` when no student has that ID. */
  get(id: number): Student | undefined;
  /**
   * Appends a grade and resolves with it only once it is durable: one line appended to the
   * journal `<file>.journal` and fdatasynced, so an acknowledged grade survives `kill -9`. The
   * cost does not grow with the number of grades stored.
   *
   * Concurrent calls are group-committed: grades that arrive while a write is in flight share
   * the next write, in arrival order. A grade is visible to `list`/`get` only once it is
   * durable. Rejects with `NotFoundError` for an unknown student, `ValidationError` when the
   * student already has `maxGradesPerStudent` grades, `UnavailableError` once closing, or the
   * write's error (the grade is then not stored).
   */
  addGrade(id: number, grade: Grade): Promise<Grade>;
  /** Refuses new grades, waits for the writes already accepted, folds the journal. */
  close(): Promise<void>;
  /** Journal writes completed (group commit makes this less than the grades added). */
  readonly writes: number;
}

/** The most grades one student may have: a bound on memory, pages and the data file. */
const maxGradesPerStudent = 1_000;

/**
 * One journal line: a grade added to a student as their grade number `index` (0-based). The
 * index makes replaying idempotent: a line whose grade the data file already holds is skipped.
 */
interface Added {
  id: number;
  index: number;
  grade: Grade;
}

interface Waiting {
  id: number;
  grade: Grade;
  resolve: (grade: Grade) => void;
  reject: (error: unknown) => void;
}

/**
 * Opens the grade store: loads the data file (or seeds the five students of the original and
 * saves them when it does not exist), replays the journal of grades added since, and folds it
 * into the data file. Rejects with a clear error naming the file when it cannot be read or is
 * not valid; a corrupt file is never overwritten. A journal line torn by a crash mid-write was
 * never acknowledged and is dropped.
 *
 * Saving is a write-ahead journal, as the registry's: each grade costs one appended line;
 * when the journal outgrows the data file, the whole state is written atomically (temporary
 * file, fsync, rename) and only then the journal emptied.
 */
export async function openGradeStore(options: GradeStoreOptions): Promise<GradeStore> {
  const { file, log, compactBytes = 64 * 1_024 } = options;
  const journalPath = `${file}.journal`;
  const students = new Map<number, Student>();
  const save = async (): Promise<number> => {
    const text = `${JSON.stringify([...students.values()], null, 2)}\n`;
    await writeAtomically(file, text);
    return Buffer.byteLength(text);
  };

  const loaded = await load(file);
  for (const student of loaded ?? seedStudents()) students.set(student.ID, student);
  const replayed = await replay(journalPath, students);
  if (replayed.torn) log?.(`dropped the torn last line of ${journalPath} (cut short by a crash)`);
  let snapshotBytes = 0;
  if (!loaded || replayed.count > 0 || replayed.torn) snapshotBytes = await save();
  if (loaded) log?.(`loaded ${students.size} students from ${file}`);
  else log?.(`seeded ${students.size} students into ${file}`);

  const journal = createJournal(journalPath);
  // The replayed lines are in the data file now: start the journal empty.
  if (replayed.count > 0 || replayed.torn) await journal.reset();
  let pending: Waiting[] = [];
  let writing: Promise<void> | undefined;
  let closed = false;
  let writes = 0;

  const commit = async (batch: Waiting[]): Promise<void> => {
    const next = new Map<number, number>();
    const lines = batch.map(({ id, grade }) => {
      const index = next.get(id) ?? students.get(id)?.Grades.length ?? 0;
      next.set(id, index + 1);
      return `${JSON.stringify({ id, index, grade } satisfies Added)}\n`;
    });
    try {
      await journal.append(lines.join(""));
    } catch (error) {
      const failure = new Error(`grades: save ${journalPath}: ${describeError(error)}`, {
        cause: error,
      });
      for (const waiting of batch) waiting.reject(failure);
      return;
    }
    writes++;
    for (const { id, grade } of batch) students.get(id)?.Grades.push(grade);
    for (const waiting of batch) waiting.resolve(structuredClone(waiting.grade));
    if (journal.size > Math.max(snapshotBytes, compactBytes)) await compact();
  };

  // Every grade in the journal is in `students`, so the data file written from it holds them
  // all; only then is the journal emptied. After a crash in between, replaying the journal
  // skips the grades the data file already holds (see `replay`).
  const compact = async (): Promise<void> => {
    try {
      snapshotBytes = await save();
      await journal.reset();
    } catch (error) {
      // The journal still holds every grade; the next round tries again.
      log?.(`grades: folding ${journalPath} into ${file} failed: ${describeError(error)}`);
    }
  };

  const drain = async (): Promise<void> => {
    try {
      while (pending.length > 0) {
        const batch = pending;
        pending = [];
        await commit(batch);
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
      const student = students.get(id);
      if (!student) return Promise.reject(new NotFoundError(`no student with ID ${id}`));
      const queued = pending.filter((waiting) => waiting.id === id).length;
      if (student.Grades.length + queued >= maxGradesPerStudent) {
        return Promise.reject(new ValidationError(
          `student ${id} already has ${maxGradesPerStudent} grades, the most one student may have`,
        ));
      }
      return new Promise<Grade>((resolve, reject) => {
        pending.push({ id, grade: { ...grade }, resolve, reject });
        writing ??= drain();
      });
    },
    close: async () => {
      closed = true;
      await writing;
      // A clean stop leaves one file: the data file with every grade, and no journal.
      try {
        await save();
        await journal.close();
        await rm(journalPath, { force: true });
      } catch (error) {
        await journal.close();
        log?.(`grades: final save of ${file} failed (journal kept): ${describeError(error)}`);
      }
    },
    get writes() {
      return writes;
    },
  };
}

async function load(file: string): Promise<Student[] | undefined> {
  const text = await readIfExists(file).catch((error: unknown) => {
    throw new Error(`grades: ${describeError(error)}`, { cause: error });
  });
  if (text === undefined) return undefined;
  try {
    return parseStudents(JSON.parse(text) as unknown);
  } catch (error) {
    throw new Error(
      `grades: ${file} is corrupt (${describeError(error)}); fix it or move it away to reseed`,
      { cause: error },
    );
  }
}

/**
 * Adds the grades of the journal that `students` does not hold yet: a line whose index is
 * below the student's grade count was folded into the data file before a crash.
 */
async function replay(
  path: string,
  students: Map<number, Student>,
): Promise<{ count: number; torn: boolean }> {
  const text = await readIfExists(path).catch((error: unknown) => {
    throw new Error(`grades: ${describeError(error)}`, { cause: error });
  });
  if (text === undefined || text === "") return { count: 0, torn: false };
  const { changes, torn, corrupt } = splitJournal(text, parseAdded);
  if (corrupt) {
    throw new Error(
      `grades: ${path} is corrupt at line ${corrupt.line} (${describeError(corrupt.error)}); ` +
        "fix it or move it away",
      { cause: corrupt.error },
    );
  }
  let count = 0;
  for (const [line, { id, index, grade }] of changes.entries()) {
    const student = students.get(id);
    const where = `grades: ${path} is corrupt at line ${line + 1}`;
    if (!student) throw new Error(`${where}: no student ${id}; fix it or move it away`);
    if (index > student.Grades.length) {
      throw new Error(`${where}: grade ${index} of student ${id} follows a gap; fix it or ` +
        "move it away");
    }
    if (index < student.Grades.length) continue;
    student.Grades.push(grade);
    count++;
  }
  return { count, torn };
}

function parseAdded(value: unknown): Added {
  if (typeof value !== "object" || value === null || !("id" in value) || !("index" in value) ||
    !("grade" in value)) {
    throw new ValidationError('journal: a line must be {"id":…,"index":…,"grade":{…}}');
  }
  const { id, index, grade } = value;
  if (!isCount(id) || !isCount(index)) {
    throw new ValidationError("journal: id and index must be non-negative integers");
  }
  return { id, index, grade: parseGrade(grade) };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
