import { average, gradeTypes, type GradeErrors, type Student } from "../grades/grades.ts";
import { html, type SafeHTML } from "./html.ts";
import { layout } from "./layout.ts";

/** What the add-grade form shows: the values typed so far, as text. */
export interface GradeForm {
  Title: string;
  Type: string;
  Score: string;
}

/** `/students`: every student as "Last, First" linking to their page, with their average. */
export function studentsPage(students: readonly Student[]): string {
  const rows = students.map(
    (student) => html`<tr>
<td><a href="/students/${student.ID}">${student.LastName}, ${student.FirstName}</a></td>
<td class="num">${formatAverage(student)}</td>
</tr>`,
  );
  return layout(
    "Students",
    "students",
    html`<h1>Students</h1>
<table>
<thead><tr><th scope="col">Name</th><th scope="col" class="num">Average</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`,
  );
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

const fieldIDs = { Title: "grade-title", Type: "grade-type", Score: "grade-score" } as const;
const fieldOrder = ["Title", "Type", "Score"] as const;

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
<p>Average: <strong id="average">${formatAverage(student)}</strong></p>
${gradesTable(student)}
<form method="post" action="/students/${student.ID}/grades" novalidate>
<h2>Add a grade</h2>
${summary(errors, options.error)}
${field("Title", errors, html`<input id="grade-title" name="Title" maxlength="200" required${
      invalid("Title", errors)
    } value="${form.Title}">`)}
${field("Type", errors, typeSelect(form.Type, errors))}
${field("Score", errors, html`<input id="grade-score" name="Score" type="number" min="0" max="100"
  step="any" required${invalid("Score", errors)} value="${form.Score}">`)}
<button type="submit">Add grade</button>
</form>`,
  );
}

/** A student's average to one decimal, or "—" when they have no grades. */
export function formatAverage(student: Pick<Student, "Grades">): string {
  const value = average(student);
  return value === undefined ? "—" : value.toFixed(1);
}

function gradesTable(student: Student): SafeHTML {
  if (student.Grades.length === 0) return html`<p id="no-grades">No grades yet.</p>`;
  const rows = student.Grades.map(
    (grade) => html`<tr><td>${grade.Title}</td><td>${grade.Type}</td><td class="num">${
      grade.Score
    }</td></tr>
`,
  );
  return html`<table id="grades">
<thead><tr>
<th scope="col">Title</th><th scope="col">Type</th><th scope="col" class="num">Score</th>
</tr></thead>
<tbody>
${rows}</tbody>
</table>`;
}

// The browser's own checks (`required`, `min`, `max`) stop at the first field and word things
// their own way; `novalidate` on the form lets the portal report every field at once, while the
// attributes still tell assistive technology what is expected.
function summary(errors: GradeErrors, error: string | undefined): SafeHTML | string {
  const items = fieldOrder.flatMap((name) => {
    const message = errors[name];
    if (message === undefined) return [];
    return [html`<li><a href="#${fieldIDs[name]}">${message}</a></li>`];
  });
  if (items.length === 0 && error === undefined) return "";
  const count = items.length === 1 ? "1 field needs" : `${items.length} fields need`;
  return html`<div class="error" role="alert" id="form-errors">
${error === undefined ? "" : html`<p>${error}</p>`}${
    items.length === 0
      ? ""
      : html`<p>The grade was not added: ${count} fixing.</p><ul>${items}</ul>`
  }
</div>`;
}

function field(name: keyof GradeErrors, errors: GradeErrors, control: SafeHTML): SafeHTML {
  const message = errors[name];
  const id = fieldIDs[name];
  return html`<div class="field">
<label for="${id}">${name}</label>
${message === undefined ? "" : html`<p class="field-error" id="${id}-error">${beside(message)}</p>`}
${control}
</div>`;
}

// Next to its labelled field the message needs no "Title: " in front of it.
function beside(message: string): string {
  const text = message.replace(/^[A-Za-z]+: /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function invalid(name: keyof GradeErrors, errors: GradeErrors): SafeHTML | string {
  if (errors[name] === undefined) return "";
  return html` aria-invalid="true" aria-describedby="${fieldIDs[name]}-error"`;
}

// A refused Type is not silently replaced by the first choice: "Choose a type" stays selected.
function typeSelect(selected: string, errors: GradeErrors): SafeHTML {
  const known = gradeTypes.some((type) => type === selected);
  const choices = gradeTypes.map(
    (type) =>
      html`<option value="${type}"${type === selected ? html` selected` : ""}>${type}</option>`,
  );
  const placeholder = known ? "" : html`<option value="" selected disabled>Choose a type</option>`;
  const marked = invalid("Type", errors);
  return html`<select id="grade-type" name="Type" required${marked}>${placeholder}${
    choices
  }</select>`;
}
