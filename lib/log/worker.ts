import { request, type IncomingHttpHeaders, Agent } from "node:http";
import type { Socket } from "node:net";
import { UnavailableError } from "../std/errors.ts";
import { pathOf, sendError, type Handler } from "../std/http.ts";
import { listen } from "../std/listen.ts";
import type { Logger } from "../std/log.ts";
import { entryHead } from "./entry.ts";
import { postHandler, type Append } from "./post.ts";
import type { AppendCallback } from "./sink.ts";
import { parseToWorker, type FromWorker } from "./workerwire.ts";

/** The IPC channel to the log service: `process` in a forked worker. */
export interface WorkerChannel {
  send(message: FromWorker): unknown;
  on(event: "message", listener: (message: unknown, socket?: Socket) => void): unknown;
}

/** Options of `runIngestWorker`. */
export interface IngestWorkerOptions {
  /** How long requests in flight may take to finish once told to stop. Default 5 s. */
  graceMs?: number;
  /** How long a request passed on to the service may wait for its answer to start. */
  forwardTimeoutMs?: number;
  log?: Logger;
}

// Headers that describe one hop of a connection, not the request: never passed on.
const hopByHop = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding",
  "te", "trailer", "upgrade"]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const kept: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!hopByHop.has(name)) kept[name] = value;
  }
  return kept;
}

/**
 * Runs an ingest worker of the log service (see `startIngestWorkers`): it serves the
 * connections the service hands it over `channel`, appends the entries of every `POST /log`
 * through the service — the requests of one turn of its event loop in one message — and
 * answers each once the service says they are durable. Any other request (rare on a connection
 * that began with `POST /log`) is passed on to the service's URL and its answer streamed back.
 * Resolves once told to stop and every request in flight is answered.
 */
export async function runIngestWorker(channel: WorkerChannel,
  options: IngestWorkerOptions = {}): Promise<void> {
  const { graceMs = 5_000, forwardTimeoutMs = 30_000, log } = options;
  let target: URL | undefined;
  let head: () => string = () => "";
  let nextId = 1;
  const waiting = new Map<number, AppendCallback[]>();
  let batch: { text: string; count: number; callbacks: AppendCallback[] } | undefined;

  const flush = () => {
    if (!batch) return;
    const id = nextId++;
    waiting.set(id, batch.callbacks);
    channel.send({ type: "append", id, text: batch.text, count: batch.count });
    batch = undefined;
  };
  const append: Append = (text, count, done) => {
    if (!batch) {
      batch = { text: "", count: 0, callbacks: [] };
      setImmediate(flush);
    }
    batch.text += text;
    batch.count += count;
    batch.callbacks.push(done);
  };
  const post = postHandler(append, () => head(), log);

  const agent = new Agent({ keepAlive: true });
  const forward: Handler = (req, res) => {
    const url = target;
    if (!url) throw new UnavailableError("log worker: not configured yet");
    const upstream = request(new URL(req.url ?? "/", url), {
      method: req.method ?? "GET", headers: endToEnd(req.headers), agent,
    }, (answer) => {
      upstream.setTimeout(0);
      res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
      answer.pipe(res);
    });
    // Only the wait for the answer is bounded: a follow streams for as long as it is read.
    upstream.setTimeout(forwardTimeoutMs, () => upstream.destroy(new Error("no answer in time")));
    upstream.on("error", (error) => {
      if (res.headersSent) res.destroy();
      else sendError(res, new UnavailableError(`log worker: passing on to ${url.origin}: ` +
        error.message, { cause: error }), log);
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  };

  // Bound to a loopback port nobody is told about, only so that `listen` gives the handed-over
  // connections its timeouts, error answers and graceful close.
  const listening = await listen((req, res) => {
    if (req.method === "POST" && pathOf(req.url) === "/log") return post(req, res);
    return forward(req, res);
  }, { host: "127.0.0.1", port: 0, ...(log ? { log } : {}) });

  let stopping: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (stopping = resolve));
  channel.on("message", (raw, socket) => {
    const message = parseToWorker(raw);
    if (message.type === "config") {
      target = new URL(message.url);
      head = entryHead(message.prefix, () => new Date());
    } else if (message.type === "connection" && socket) {
      socket.unshift(Buffer.from(message.head, "latin1"));
      listening.server.emit("connection", socket);
    } else if (message.type === "stored") {
      const callbacks = waiting.get(message.id) ?? [];
      waiting.delete(message.id);
      const error = message.code === undefined ? undefined
        : Object.assign(new Error("log worker: not stored"), { code: message.code || undefined });
      for (const done of callbacks) done(error);
    } else if (message.type === "stop") {
      void listening.close(graceMs).then(() => {
        agent.destroy();
        stopping?.();
      });
    }
  });
  channel.send({ type: "ready" });
  await stopped;
}
