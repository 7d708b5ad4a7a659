import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { parseRawRequest, type RawRequest } from "./rawrequest.ts";

/** Answers a request taken by a fast route: `200` with no body, or a status and a JSON body. */
export type FastReply = (status: number, json?: string) => void;

/**
 * One route answered on raw sockets, in front of `node:http` (see `listen`'s `fastPath`): a
 * hot endpoint whose requests are small and uniform (the log service's `POST /log`).
 */
export interface FastRoute {
  /** `POST`, `PUT`, … */
  method: string;
  /** The exact request target, e.g. `/log` (no query). */
  path: string;
  /** Largest body taken; a longer one goes to `node:http`. */
  limit: number;
  /**
   * Takes one complete request, or returns false, having changed nothing, to leave it — and
   * everything after it on that connection — to `node:http` (bad input, a missing token: the
   * HTTP handler answers those as it always does). When it returns true it must call `reply`
   * exactly once, at any time; the answers of one connection go out in request order.
   */
  take(request: RawRequest, body: Buffer, reply: FastReply): boolean;
}

/** What `createFastConnections` needs from the server it stands in front of. */
export interface FastHooks {
  /** Gives a socket to `node:http`; its unread bytes are back in its stream (`unshift`). */
  handOff(socket: Socket): void;
  /** Counts an answer in the server's metrics (`started` from `performance.now()`). */
  record?(status: number, started: number): void;
  /** Idle keep-alive connections are closed after this long. */
  keepAliveTimeoutMs: number;
  /** A connection that sends no request for this long is answered `408` and closed. */
  headersTimeoutMs: number;
}

/** The fast connections of one server, for its shutdown. */
export interface FastConnections {
  /** Serves a new connection: fast while its requests are the route's, then `node:http`. */
  accept(socket: Socket): void;
  /** Closes idle connections now and busy ones after their answers; later requests are
   * handed to `node:http` (which answers `503` while its server closes). */
  closeIdle(): void;
  /** Destroys every connection still served here. */
  closeAll(): void;
}

// What node:http sends a client that took too long to send its request head.
const requestTimeoutAnswer = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";

/**
 * Serves `route` on raw sockets and everything else through `node:http`, with the same answers.
 *
 * Each chunk read is parsed with `parseRawRequest`; complete requests for the route are given
 * to `route.take`, and their answers written in order, with the headers `node:http` would send
 * (`X-Content-Type-Options: nosniff`, `Date`, keep-alive). At the first byte that is not such a
 * request — another path or method, a request split across reads, anything unusual — the
 * connection stops being read, waits for its pending answers, and is handed with its unread
 * bytes to `hooks.handOff`: from then on `node:http` serves it, timeouts included.
 */
export function createFastConnections(route: FastRoute, hooks: FastHooks): FastConnections {
  const requestLine = Buffer.from(`${route.method} ${route.path} HTTP/1.1\r\n`, "latin1");
  const keepAlive = `Connection: keep-alive\r\nKeep-Alive: timeout=${
    Math.floor(hooks.keepAliveTimeoutMs / 1_000)}\r\n\r\n`;
  const open = new Set<{ socket: Socket; pending: () => number }>();
  let closing = false;
  // The 200 answer changes only with its Date header, once a second.
  let second = -1;
  let ok = "";
  const answer = (status: number, json?: string): string => {
    const now = Date.now();
    if (Math.floor(now / 1_000) !== second) {
      second = Math.floor(now / 1_000);
      ok = `HTTP/1.1 200 OK\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 0\r\n` +
        `Date: ${new Date(now).toUTCString()}\r\n${keepAlive}`;
    }
    if (status === 200 && json === undefined) return ok;
    const body = json ?? "";
    return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nX-Content-Type-Options: nosniff\r\n` +
      `Content-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nDate: ${new Date(now).toUTCString()}\r\n` +
      `${keepAlive}${body}`;
  };

  const accept = (socket: Socket): void => {
    let pending = 0;
    let answered = false;
    let throttled = false;
    // Bytes not taken, once the connection is on its way to node:http.
    let leaving: Buffer | undefined;
    const entry = { socket, pending: () => pending };
    open.add(entry);

    const handOff = () => {
      open.delete(entry);
      socket.off("data", onData);
      socket.off("timeout", onTimeout);
      socket.off("error", onError);
      socket.setTimeout(0);
      if (socket.destroyed) return;
      if (leaving && leaving.length > 0) socket.unshift(leaving);
      hooks.handOff(socket);
      socket.resume();
    };
    const leave = (rest: Buffer) => {
      socket.pause();
      socket.off("data", onData);
      leaving = rest;
      if (pending === 0) handOff();
    };
    const settled = () => {
      pending--;
      if (pending > 0) return;
      if (leaving) handOff();
      else if (closing) socket.end();
    };

    // Writes one answer (the 200 is ASCII: latin1 skips the UTF-8 scan); reading pauses while
    // answers the client is not reading pile up, as node:http does.
    const respond = (status: number, json: string | undefined, started: number) => {
      const text = answer(status, json);
      if (!socket.destroyed && !socket.write(text, json === undefined ? "latin1" : "utf8") &&
        !throttled) {
        throttled = true;
        socket.pause();
        socket.once("drain", () => {
          throttled = false;
          if (!leaving) socket.resume();
        });
      }
      hooks.record?.(status, started);
      if (!answered) {
        answered = true;
        socket.setTimeout(hooks.keepAliveTimeoutMs);
      }
      settled();
    };

    const onData = (chunk: Buffer) => {
      let at = 0;
      while (at < chunk.length && !closing) {
        const request = parseRawRequest(chunk, at, requestLine, route.limit);
        if (!request) break;
        const started = performance.now();
        pending++;
        const taken = route.take(request, chunk.subarray(request.bodyStart, request.end),
          (status, json) => respond(status, json, started));
        if (!taken) {
          pending--;
          break;
        }
        at = request.end;
      }
      if (at < chunk.length) leave(chunk.subarray(at));
    };
    const onTimeout = () => {
      // An answer still waiting (a slow disk) is not cut off, as node:http does not.
      if (pending > 0) return;
      if (answered) socket.destroy();
      else socket.end(requestTimeoutAnswer);
    };
    // A reset or a write to a closed peer: nothing to answer any more.
    const onError = () => socket.destroy();

    socket.setNoDelay(true);
    socket.setTimeout(hooks.headersTimeoutMs);
    socket.on("data", onData);
    socket.on("timeout", onTimeout);
    socket.on("error", onError);
    socket.once("close", () => open.delete(entry));
  };

  return {
    accept,
    closeIdle() {
      closing = true;
      // As node:http's closeIdleConnections: an idle connection is simply closed.
      for (const { socket, pending } of open) if (pending() === 0) socket.destroy();
    },
    closeAll() {
      for (const { socket } of open) socket.destroy();
      open.clear();
    },
  };
}
