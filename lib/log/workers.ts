import { fork, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { describeError } from "../std/errors.ts";
import type { Logger } from "../std/log.ts";
import type { Append } from "./post.ts";
import { parseFromWorker, type ToWorker } from "./workerwire.ts";

/** Options of `startIngestWorkers`. */
export interface IngestWorkersOptions {
  /** Worker processes beside this one. */
  count: number;
  /** The worker's script (it calls `runIngestWorker(process)`). */
  script: string;
  /** Appends the entries of the workers' requests durably: the log server's `append`. */
  append: Append;
  /** Written before each entry's timestamp. */
  prefix: string;
  /** Where workers that exit unexpectedly are reported. */
  log: Logger;
  /** Pause before a worker that exited is started again. Default 1 s. */
  restartMs?: number;
  /** How long `stop` lets a worker finish before killing it. Default 10 s. */
  stopMs?: number;
  /** How long a new connection may take to send its first bytes. Default 10 s. */
  firstRequestMs?: number;
}

/** Worker processes that take a share of the log service's connections. */
export interface IngestWorkers {
  /** A `ListenOptions.distribute`: this process and each worker in turn. */
  distribute(socket: Socket, serve: (socket: Socket) => void): void;
  /** Tells the workers the service's URL and starts handing them connections. */
  start(url: string): void;
  /**
   * Stops handing out connections and lets each worker finish its requests and exit (killed
   * after `stopMs`); calling it again returns the same promise. Never rejects.
   */
  stop(): Promise<void>;
}

interface Worker {
  child: ChildProcess;
  ready: boolean;
  /** Resolves with true once it said ready, false when it exited first. */
  started: Promise<boolean>;
  exited: Promise<void>;
}

// A connection goes to a worker only when its first request is `POST /log`: whatever else it
// asks is rare there, and is passed back to this process (whose connections start otherwise).
function postsToLog(head: Buffer): boolean {
  return head.length > 9 && head.toString("latin1", 0, 9) === "POST /log" &&
    (head[9] === 0x20 || head[9] === 0x3f);
}

// Node's socket keeps reading while paused: a socket about to change process must read
// nothing more here, or those bytes would be lost with it. Node has no public call for this.
function stopReading(socket: Socket): void {
  const handle = (socket as unknown as { _handle?: { reading: boolean; readStop(): number } })
    ._handle;
  if (handle) {
    handle.reading = false;
    handle.readStop();
  }
}

/**
 * Forks `count` ingest workers (`runIngestWorker`) and resolves once each is ready, for a log
 * service that one process cannot keep up with: each new connection goes, in turn, to this
 * process or to a worker, which reads
 * its requests and formats the entries while this process — the only writer of the file —
 * appends them with the others (group commit) and answers when they are durable. Entries
 * never interleave and a connection's order is kept, because every entry of every process goes
 * through the one sink. A worker that exits is started again; the connections it had are cut
 * (their unanswered requests were never acknowledged). Rejects (the others killed) when a
 * worker exits before it is ready.
 */
export async function startIngestWorkers(options: IngestWorkersOptions): Promise<IngestWorkers> {
  const { count, script, append, prefix, log, restartMs = 1_000, stopMs = 10_000 } = options;
  const { firstRequestMs = 10_000 } = options;
  const workers: Array<Worker | undefined> = Array.from({ length: count }, () => undefined);
  let url: string | undefined;
  let stopping = false;
  let stopped: Promise<void> | undefined;
  let turn = 0;

  const send = (worker: Worker, message: ToWorker) => {
    if (worker.child.connected) worker.child.send(message);
  };

  const spawn = (slot: number): Worker => {
    const child = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let started: (ready: boolean) => void = () => {};
    const worker: Worker = { child, ready: false, started: new Promise((resolve) => {
      started = resolve;
    }), exited: new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        worker.ready = false;
        started(false);
        resolve();
        if (stopping) return;
        log(`log: ingest worker ${child.pid ?? "?"} exited (${signal ?? code}); ` +
          `starting another in ${restartMs} ms`);
        setTimeout(() => {
          if (!stopping) workers[slot] = spawn(slot);
        }, restartMs).unref();
      });
    }) };
    child.on("message", (raw: unknown) => {
      try {
        const message = parseFromWorker(raw);
        if (message.type === "ready") {
          worker.ready = true;
          started(true);
          if (url !== undefined) send(worker, { type: "config", prefix, url });
        } else {
          append(message.text, message.count, (error) => send(worker, error === undefined
            ? { type: "stored", id: message.id }
            : { type: "stored", id: message.id,
              code: String((error as NodeJS.ErrnoException).code ?? "") }));
        }
      } catch (error) {
        log(`log: ingest worker ${child.pid ?? "?"}: ${describeError(error)}`);
      }
    });
    child.on("error", (error) => log(`log: ingest worker: ${describeError(error)}`));
    return worker;
  };
  for (let slot = 0; slot < count; slot++) workers[slot] = spawn(slot);
  const ready = await Promise.all(workers.map((worker) => worker?.started));
  if (!ready.every(Boolean)) {
    stopping = true;
    for (const worker of workers) worker?.child.kill("SIGKILL");
    throw new Error("log: an ingest worker exited before it was ready");
  }

  return {
    distribute(socket, serve) {
      turn = (turn + 1) % (count + 1);
      const worker = workers[turn - 1];
      if (turn === 0 || stopping || url === undefined || !worker?.ready) return serve(socket);
      // Until the first request arrives nobody else listens for its errors (a reset), and no
      // server's timeout applies: a client that connects and sends nothing is cut off here.
      const ignore = () => {};
      socket.on("error", ignore);
      socket.setTimeout(firstRequestMs, () => socket.destroy());
      socket.once("data", (head: Buffer) => {
        socket.setTimeout(0);
        socket.pause();
        if (!postsToLog(head) || !worker.ready) {
          socket.off("error", ignore);
          socket.unshift(head);
          return serve(socket);
        }
        stopReading(socket);
        worker.child.send({ type: "connection", head: head.toString("latin1") }, socket,
          (error) => {
            if (error) socket.destroy();
          });
      });
      socket.resume();
    },
    start(serviceURL) {
      url = serviceURL;
      for (const worker of workers) {
        if (worker?.ready) send(worker, { type: "config", prefix, url });
      }
    },
    stop() {
      stopping = true;
      stopped ??= Promise.all(workers.map(async (worker) => {
        if (!worker) return;
        send(worker, { type: "stop" });
        const timer = setTimeout(() => worker.child.kill("SIGKILL"), stopMs);
        await worker.exited;
        clearTimeout(timer);
      })).then(() => undefined);
      return stopped;
    },
  };
}
