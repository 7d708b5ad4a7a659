import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seedStudents } from "../../../lib/grades/data.ts";
import {
  average,
  checkGrade,
  parseGrade,
  parseStudentID,
  parseStudents,
} from "../../../lib/grades/grades.ts";
import { ValidationError } from "../../../lib/std/errors.ts";

describe("parseGrade", () => {
  it("accepts a valid grade, keeps HTML in the title verbatim, ignores unknown fields", () => {
    const grade = parseGrade({ Title: "<b>Quiz</b> & co", Type: "Test", Score: 99.5, X: 1 });
    assert.deepEqual(grade, { Title: "<b>Quiz</b> & co", Type: "Test", Score: 99.5 });
  });

  it("accepts the boundaries: 1 and 200 characters, scores 0 and 100", () => {
    assert.equal(parseGrade({ Title: "Q", Type: "Quiz", Score: 0 }).Score, 0);
    assert.equal(parseGrade({ Title: "é".repeat(200), Type: "Homework", Score: 100 }).Score, 100);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ["not an object", [], /grade: must be a JSON object/],
    ["null", null, /grade: must be a JSON object/],
    ["missing Title", { Type: "Quiz", Score: 1 }, /^Title: /],
    ["empty Title", { Title: "", Type: "Quiz", Score: 1 }, /^Title: /],
    ["blank Title", { Title: "   ", Type: "Quiz", Score: 1 }, /^Title: /],
    ["201-character Title", { Title: "x".repeat(201), Type: "Quiz", Score: 1 }, /^Title: /],
    ["Title with a newline", { Title: "a\nb", Type: "Quiz", Score: 1 }, /^Title: .*control/],
    ["numeric Title", { Title: 7, Type: "Quiz", Score: 1 }, /^Title: must be a string/],
    ["unknown Type", { Title: "a", Type: "Exam", Score: 1 }, /^Type: must be one of/],
    ["lower-case Type", { Title: "a", Type: "quiz", Score: 1 }, /^Type: /],
    ["string Score", { Title: "a", Type: "Quiz", Score: "90" }, /^Score: /],
    ["null Score", { Title: "a", Type: "Quiz", Score: null }, /^Score: /],
    ["NaN Score", { Title: "a", Type: "Quiz", Score: Number.NaN }, /^Score: /],
    ["Infinity Score", { Title: "a", Type: "Quiz", Score: Number.POSITIVE_INFINITY }, /^Score: /],
    ["negative Score", { Title: "a", Type: "Quiz", Score: -0.5 }, /^Score: /],
    ["Score over 100", { Title: "a", Type: "Quiz", Score: 100.01 }, /^Score: /],
  ];
  for (const [name, value, message] of bad) {
    it(`refuses ${name} with a 400 naming the field`, () => {
      assert.throws(
        () => parseGrade(value),
        (error: unknown) =>
          error instanceof ValidationError && message.test(error.message),
      );
    });
  }
});

describe("checkGrade", () => {
  it("reports every refused field at once, each with parseGrade's message", () => {
    assert.deepEqual(checkGrade({ Title: " ", Type: "Exam", Score: 120 }), {
      errors: {
        Title: "Title: must be 1 to 200 characters, not blank",
        Type: "Type: must be one of Quiz, Test, Homework",
        Score: "Score: must be a finite number from 0 to 100",
      },
    });
    assert.deepEqual(checkGrade({ Title: "Quiz 3", Type: "Quiz", Score: Number.NaN }), {
      errors: { Score: "Score: must be a finite number from 0 to 100" },
    });
    assert.deepEqual(checkGrade({ Title: "Quiz 3", Type: "Quiz", Score: 0 }), {
      grade: { Title: "Quiz 3", Type: "Quiz", Score: 0 },
    });
  });
});

describe("parseStudentID", () => {
  it("accepts decimal digits", () => assert.equal(parseStudentID("42"), 42));
  for (const text of ["abc", "1.5", "-1", "", "1e3", " 1", "9".repeat(16)]) {
    it(`refuses ${JSON.stringify(text)} with 400`, () => {
      assert.throws(() => parseStudentID(text), ValidationError);
    });
  }
});

describe("seed data and average", () => {
  it("has the five students of the original with IDs 1 to 5", () => {
    const students = seedStudents();
    assert.deepEqual(
      students.map((s) => [s.ID, `${s.FirstName} ${s.LastName}`, s.Grades.map((g) => g.Score)]),
      [
        [1, "Averill Simen", [85, 94, 88]],
        [2, "Marge Garrard", [100, 100, 88]],
        [3, "Sydnie Barber", [77, 0, 65]],
        [4, "Louie Easton", [88, 93, 84]],
        [5, "Kylee Attwood", [95, 100, 97]],
      ],
    );
    assert.deepEqual(
      students[0]?.Grades.map((g) => [g.Title, g.Type]),
      [["Quiz 1", "Quiz"], ["Week 1 Homework", "Homework"], ["Quiz 2", "Quiz"]],
    );
    // Fresh objects each call: mutating one seed cannot leak into another store.
    assert.notEqual(seedStudents()[0], seedStudents()[0]);
    assert.deepEqual(parseStudents(students), students);
  });

  it("averages the scores, undefined without grades", () => {
    assert.equal(average({ Grades: [] }), undefined);
    assert.equal(average(seedStudents()[2] ?? { Grades: [] }), 142 / 3);
  });

  it("refuses duplicate IDs in a student list", () => {
    const [first] = seedStudents();
    assert.throws(() => parseStudents([first, first]), /duplicate ID 1/);
  });
});
