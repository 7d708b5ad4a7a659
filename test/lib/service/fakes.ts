// Test helpers: a tiny real registry stand-in on node:http and a Logger whose lines a test
// can await. Real sockets, no HTTP mocks.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createWaiters } from "../../support/wait.ts";

/** One request the fake registry received. */
export interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The fake registry's answer to one request. */
export interface Answer {
  status: number;
  body?: string;
  contentType?: string;
}

/** A fake registry: records every request and answers with `respond`. */
export interface FakeRegistry {
  url: string;
  server: Server;
  requests: Recorded[];
  /** Replaceable: how the next requests are answered. */
  respond: (request: Recorded) => Answer | Promise<Answer>;
  /** Resolves with the first request at index ≥ `from` that matches, waiting up to `ms`. */
  waitFor(match: (request: Recorded) => boolean, from?: number, ms?: number): Promise<Recorded>;
  close(): Promise<void>;
}

/** Default answers of a registry that knows nobody: an empty initial patch, 200 to DELETE. */
export function defaultAnswer(request: Recorded): Answer {
  if (request.method === "POST") {
    return { status: 200, body: JSON.stringify({ Added: [], Removed: [] }) };
  }
  return { status: 200, body: "" };
}

/** Starts a fake registry on 127.0.0.1 (`port` 0 = any free port). */
export async function startFakeRegistry(port = 0): Promise<FakeRegistry> {
  const requests: Recorded[] = [];
  const waiters = createWaiters();
  const answer = async (recorded: Recorded): Promise<Answer> => {
    try {
      return await fake.respond(recorded);
    } catch (error) {
      return { status: 500, body: JSON.stringify({ error: String(error) }) };
    }
  };
  const fake: FakeRegistry = {
    url: "",
    server: createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const recorded: Recorded = {
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        requests.push(recorded);
        waiters.wake();
        void answer(recorded).then(({ status, body = "", contentType }) => {
          res.writeHead(status, {
            "Content-Type": contentType ?? "application/json",
            "Content-Length": Buffer.byteLength(body),
          });
          res.end(body);
        });
      });
    }),
    requests,
    respond: defaultAnswer,
    waitFor(match, from = 0, ms = 5_000) {
      return waiters.until(
        () => requests.slice(from).find(match),
        ms,
        () => new Error(`fake registry: no matching request within ${ms} ms`),
      );
    },
    async close() {
      await new Promise<void>((resolve) => {
        fake.server.close(() => resolve());
        fake.server.closeAllConnections();
      });
    },
  };
  await new Promise<void>((resolve, reject) => {
    fake.server.once("error", reject);
    fake.server.listen(port, "127.0.0.1", () => resolve());
  });
  fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  return fake;
}

/** A Logger that keeps its lines and lets a test await one. */
export interface Lines {
  log: (message: string) => void;
  lines: string[];
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
}

/** Collects log lines in memory. */
export function collectLines(): Lines {
  const lines: string[] = [];
  const waiters = createWaiters();
  return {
    lines,
    log: (message) => {
      lines.push(message);
      waiters.wake();
    },
    waitFor(pattern, ms = 5_000) {
      return waiters.until(
        () => lines.find((line) => pattern.test(line)),
        ms,
        () => new Error(`no log line matching ${pattern} within ${ms} ms:\n${lines.join("\n")}`),
      );
    },
  };
}
