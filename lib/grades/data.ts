import type { Grade, Student } from "./grades.ts";

const seed: ReadonlyArray<readonly [string, string, readonly [number, number, number]]> = [
  ["Averill", "Simen", [85, 94, 88]],
  ["Marge", "Garrard", [100, 100, 88]],
  ["Sydnie", "Barber", [77, 0, 65]],
  ["Louie", "Easton", [88, 93, 84]],
  ["Kylee", "Attwood", [95, 100, 97]],
];

/**
 * The five students the Go original starts with (docs/protocol.md#grading-service), IDs 1 to 5,
 * each with "Quiz 1", "Week 1 Homework" and "Quiz 2". Returns fresh objects on every call.
 */
export function seedStudents(): Student[] {
  return seed.map(([first, last, [quiz1, homework, quiz2]], index) => {
    const grades: Grade[] = [
      { Title: "Quiz 1", Type: "Quiz", Score: quiz1 },
      { Title: "Week 1 Homework", Type: "Homework", Score: homework },
      { Title: "Quiz 2", Type: "Quiz", Score: quiz2 },
    ];
    return { ID: index + 1, FirstName: first, LastName: last, Grades: grades };
  });
}
