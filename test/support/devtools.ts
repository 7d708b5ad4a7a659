// Test helper: a minimal Chrome DevTools-protocol client over Chromium's
// --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-delimited JSON messages).
import type { ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";

interface Message {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message?: string };
}

/** A DevTools-protocol connection to one browser. */
export interface DevTools {
  /** Sends a command (to `session` when given) and resolves with its result. */
  send(method: string, params?: object, session?: string): Promise<Record<string, unknown>>;
  /** Resolves with the next `method` event of `session`; call it before causing the event. */
  next(method: string, session: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Speaks the DevTools protocol over the pipes of a Chromium started with the debugging pipe. */
export function connectDevTools(child: ChildProcess, exited: Promise<unknown>): DevTools {
  const input = child.stdio[3] as Writable;
  const output = child.stdio[4] as Readable;
  let nextID = 1;
  let buffer = "";
  const calls = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  const listeners = new Set<(message: Message) => void>();
  output.setEncoding("utf8");
  output.on("data", (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf("\0"); end >= 0; end = buffer.indexOf("\0")) {
      const message = JSON.parse(buffer.slice(0, end)) as Message;
      buffer = buffer.slice(end + 1);
      if (message.id !== undefined) {
        const call = calls.get(message.id);
        calls.delete(message.id);
        if (message.error) call?.reject(new Error(`cdp: ${message.error.message ?? "error"}`));
        else call?.resolve(message);
      } else {
        for (const listener of [...listeners]) listener(message);
      }
    }
  });
  const closed = () => {
    for (const call of calls.values()) call.reject(new Error("cdp: the browser is gone"));
    calls.clear();
  };
  output.on("close", closed);
  // Writing to a browser that died fails the call, not the test process.
  input.on("error", closed);
  void exited.then(closed);
  return {
    send(method, params = {}, session) {
      const id = nextID++;
      const target = session === undefined ? {} : { sessionId: session };
      input.write(`${JSON.stringify({ id, method, params, ...target })}\0`);
      return new Promise((resolve, reject) => {
        calls.set(id, { resolve: (m) => resolve(m.result ?? {}), reject });
      });
    },
    next(method, sessionId, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`cdp: no ${method} within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = (message: Message) => {
          if (message.method !== method || message.sessionId !== sessionId) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(message.params ?? {});
        };
        listeners.add(listener);
      });
    },
  };
}
