import { HttpError, sendText, type Handler } from "../std/http.ts";
import { createRouter } from "../std/router.ts";
import type { ServiceContext } from "../service/start.ts";

// Longest name `/hello` greets, in characters.
const maxNameLength = 100;

/**
 * Builds the hello service's handler: `GET /hello?name=X` answers `200 text/plain`
 * `Hello, X!` (`world` when no name is given) and writes one line to the log service through
 * `context.log`.
 *
 * An empty name, one longer than 100 characters or one with control characters is `400`;
 * other paths `404`, other methods `405` with `Allow`. This is the whole service:
 * `startService` adds the heartbeat, registration and shutdown (see
 * `cmd/helloservice/main.ts`).
 */
export function createHelloHandler(context: ServiceContext): Handler {
  return createRouter([
    {
      path: "/hello",
      methods: {
        GET: (req, res) => {
          const query = new URL(req.url ?? "/", "http://localhost").searchParams;
          const name = parseName(query.get("name") ?? "world");
          context.log(`said hello to ${JSON.stringify(name)}`);
          sendText(res, 200, `Hello, ${name}!\n`);
        },
      },
    },
  ]);
}

// Thrown errors need no catching: the router leaves them to the server, which answers
// `{"error": "<message>"}` with the status of an HttpError (500 for anything else) and logs it.
function parseName(name: string): string {
  if (name.length === 0 || [...name].length > maxNameLength) {
    throw new HttpError(400, `name: must be 1 to ${maxNameLength} characters`);
  }
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(name)) {
    throw new HttpError(400, "name: must not contain control characters");
  }
  return name;
}
