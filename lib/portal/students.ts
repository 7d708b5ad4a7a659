import { average, type GradeErrors, type Student } from "../grades/grades.ts";
import { gradeForm, type GradeForm } from "./form.ts";
import { html, type SafeHTML } from "./html.ts";
import { layout } from "./layout.ts";

/** `/students`: every student as "Last, First" linking to their page, with their average. */
export function studentsPage(students: readonly Student[]): string {
  return layout(
    "Students",
    "students",
    html`<h1>Students</h1>
<div id="live" data-events="/events/students">${studentsTable(students)}</div>`,
  );
}

/** The table of `/students`, also what its live updates replace. */
export function studentsTable(students: readonly Student[]): SafeHTML {
  const rows = students.map(
    (student) => html`<tr>
<td><a href="/students/${student.ID}">${student.LastName}, ${student.FirstName}</a></td>
<td class="num">${formatAverage(student)}</td>
</tr>`,
  );
  return html`<table>
<thead><tr><th scope="col">Name</th><th scope="col" class="num">Average</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
}

/** Options of `studentPage`. */
export interface StudentPageOptions {
  /** Values to refill the form with (after invalid input). */
  form?: GradeForm;
  /** Why each refused field was refused, shown next to it and in a summary above the form. */
  errors?: GradeErrors;
  /** Why the last submission was refused when no single field is to blame. */
  error?: string;
  /** The page follows a successful add: it says "Grade added". */
  added?: boolean;
}

/**
 * `/students/{id}`: the grades table and the labelled "Add a grade" form.
 *
 * After a refused submission every refused field carries its message next to it and
 * `aria-invalid`, a summary above the form links to each, and the typed values are kept.
 */
export function studentPage(student: Student, options: StudentPageOptions = {}): string {
  const form = options.form ?? { Title: "", Type: "Quiz", Score: "" };
  const errors = options.errors ?? {};
  const name = `${student.FirstName} ${student.LastName}`;
  return layout(
    name,
    "students",
    html`<p><a href="/students">← All students</a></p>
<h1>${name}</h1>
${options.added === true ? html`<p class="notice" role="status">Grade added.</p>` : ""}
<div id="live" data-events="/events/students/${student.ID}">${grades(student)}</div>
${gradeForm(student.ID, form, errors, options.error)}`,
  );
}

/** A student's average to one decimal, or "—" when they have no grades. */
function formatAverage(student: Pick<Student, "Grades">): string {
  const value = average(student);
  return value === undefined ? "—" : value.toFixed(1);
}

/** A student's average and grades table, also what live updates of their page replace. */
export function grades(student: Student): SafeHTML {
  const average = html`<p>Average: <strong id="average">${formatAverage(student)}</strong></p>`;
  if (student.Grades.length === 0) return html`${average}\n<p id="no-grades">No grades yet.</p>`;
  const rows = student.Grades.map(
    (grade) => html`<tr><td>${grade.Title}</td><td>${grade.Type}</td><td class="num">${
      grade.Score
    }</td></tr>
`,
  );
  return html`${average}
<table id="grades">
<thead><tr>
<th scope="col">Title</th><th scope="col">Type</th><th scope="col" class="num">Score</th>
</tr></thead>
<tbody>
${rows}</tbody>
</table>`;
}

