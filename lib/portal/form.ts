import { gradeTypes, type GradeErrors } from "../grades/grades.ts";
import { html, type SafeHTML } from "./html.ts";

/** What the add-grade form shows: the values typed so far, as text. */
export interface GradeForm {
  Title: string;
  Type: string;
  Score: string;
}

const fieldIDs = { Title: "grade-title", Type: "grade-type", Score: "grade-score" } as const;
const fieldOrder = ["Title", "Type", "Score"] as const;

/**
 * The labelled "Add a grade" form of student `id`, refilled with `form`. Every refused field
 * carries its message next to it and `aria-invalid`; a summary above the fields links to each.
 */
export function gradeForm(
  id: number,
  form: GradeForm,
  errors: GradeErrors,
  error: string | undefined,
): SafeHTML {
  return html`<form method="post" action="/students/${id}/grades" novalidate>
<h2>Add a grade</h2>
${summary(errors, error)}
${field("Title", errors, html`<input id="grade-title" name="Title" maxlength="200" required${
    invalid("Title", errors)
  } value="${form.Title}">`)}
${field("Type", errors, typeSelect(form.Type, errors))}
${field("Score", errors, html`<input id="grade-score" name="Score" type="number" min="0" max="100"
  step="any" required${invalid("Score", errors)} value="${form.Score}">`)}
<button type="submit">Add grade</button>
</form>`;
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
