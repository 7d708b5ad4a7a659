import { ValidationError } from "../std/errors.ts";
import { escapeMessage } from "./entry.ts";

/** The entry lines of one `POST /log` body, ready to append. */
export interface Lines {
  /** Whole lines, each ending in `\n`. */
  text: string;
  count: number;
}

/**
 * Turns a `POST /log` body into entry lines stamped with `head` (`<prefix><timestamp> `): a
 * JSON content type means a batch (a non-empty JSON array of strings, one line each), any other
 * one text entry. Messages are escaped (`escapeMessage`). Throws `ValidationError` for an
 * empty body, an entry with nothing left after trimming, or a malformed batch.
 */
export function entryLines(contentType: string | undefined, body: Buffer, head: string): Lines {
  if (body.length === 0) throw new ValidationError("log: empty body, expected an entry");
  if (!isJSON(contentType)) {
    const message = escapeMessage(body.toString("utf8"));
    if (message === "") throw new ValidationError("log: empty entry");
    return { text: `${head}${message}\n`, count: 1 };
  }
  const messages = parseBatch(body);
  let text = "";
  for (let index = 0; index < messages.length; index++) {
    const escaped = escapeMessage(messages[index] ?? "");
    if (escaped === "") throw new ValidationError(`log: element ${index}: empty entry`);
    text += `${head}${escaped}\n`;
  }
  return { text, count: messages.length };
}

function isJSON(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim();
  return type.toLowerCase() === "application/json";
}

function parseBatch(body: Buffer): string[] {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new ValidationError(`log: malformed JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(value)) {
    throw new ValidationError(`log: JSON body must be an array of strings, got ${kind(value)}`);
  }
  if (value.length === 0) {
    throw new ValidationError("log: empty array, expected at least one entry");
  }
  for (const [index, element] of value.entries()) {
    if (typeof element !== "string") {
      throw new ValidationError(`log: element ${index}: want a string, got ${kind(element)}`);
    }
  }
  return value as string[];
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
