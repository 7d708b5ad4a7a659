/**
 * Bad external data: a request body, a file or an answer that does not have the expected
 * shape. Domain code (parsers, stores) throws it without knowing where the data came from;
 * the HTTP boundary (`sendError`) answers it `400` with its message, a file loader reports the
 * file as corrupt. The message names the field: `Score: must be a finite number from 0 to 100`.
 */
export class ValidationError extends Error {
  override name = "ValidationError";
}

/**
 * Something asked for does not exist (a student ID, a registered URL). The HTTP boundary
 * answers it `404` with its message.
 */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/**
 * Something needed is not available right now (another service, a store that is closing);
 * trying again later may work. The HTTP boundary answers it `503` with its message.
 */
export class UnavailableError extends Error {
  override name = "UnavailableError";
}

/**
 * A one-line description of an error and its causes, for logs: the messages joined by `: `,
 * each error code named once, by the deepest error carrying it, unless a message says it.
 */
export function describeError(error: unknown): string {
  const chain: { text: string; code: string | undefined }[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 4; depth++) {
    if (current instanceof Error) {
      chain.push({ text: current.message, code: (current as NodeJS.ErrnoException).code });
      current = current.cause;
    } else {
      chain.push({ text: String(current), code: undefined });
      current = undefined;
    }
  }
  // Node's own messages carry their code ("connect ECONNREFUSED 127.0.0.1:80") and wrappers
  // copy it: naming it at every level made one refusal say ECONNREFUSED three times.
  const said = (code: string, from: number) =>
    chain.some((link, index) => link.text.includes(code) || (index > from && link.code === code));
  return chain
    .map(({ text, code }, index) => (code && !said(code, index) ? `${text} (${code})` : text))
    .join(": ");
}
