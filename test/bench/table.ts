/** One line of the results table: one docs/protocol.md#performance-targets target, or an
 * informational figure. */
export interface Row {
  /** What was measured, e.g. "registration → Added, p50". */
  what: string;
  /** The measured figure as text, with its unit and spread. */
  value: string;
  /** The target as text, e.g. "≤ 5 ms"; "—" for information only. */
  target: string;
  /** true met, false missed, undefined = no target or not measured. */
  met: boolean | undefined;
  /** Short extra context (sample size, conditions). */
  note?: string;
}

/** A row for a benchmark that could not run, with the reason. */
export function skipped(what: string, target: string, reason: string): Row {
  return { what, value: "not measured", target, met: undefined, note: reason };
}

/** Renders rows as a Markdown table (readable in a terminal and pasteable into README). */
export function renderTable(rows: readonly Row[]): string {
  const header = ["what", "measured", "target", "result", "notes"];
  const cells = rows.map((row) => [
    row.what,
    row.value,
    row.target,
    row.met === undefined ? "—" : row.met ? "met" : "MISSED",
    row.note ?? "",
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((line) => (line[column] ?? "").length)),
  );
  const line = (values: readonly string[]) =>
    `| ${values.map((value, column) => value.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  const rule = `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`;
  return [line(header), rule, ...cells.map(line)].join("\n");
}

/** The first line of an error's message, for a table note. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? "";
}
