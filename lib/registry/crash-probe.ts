import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";

/** Options of `createCrashProbe`. */
export interface CrashProbeOptions {
  /** Pooled connections per host:port (at least the checks in flight at once). */
  maxSockets: number;
  /** Called with the `host:port` (see `endpointOf`) whose idle connection the far side closed. */
  onClose: (origin: string) => void;
  /**
   * Calls for one host:port at most this often, so a server that closes every idle connection
   * at once cannot make us check in a loop. Default 200 ms.
   */
  gapMs?: number;
}

/** The keep-alive agents of the heartbeat checks, which report lost idle connections. */
export interface CrashProbe {
  /** The agent for `url` (http or https). */
  agentFor(url: string): http.Agent;
  /** Closes every pooled connection; no more reports. */
  destroy(): void;
}

/**
 * Creates keep-alive agents whose idle pooled connections are watched: when one closes from
 * the other side, `onClose(origin)` is called with its `host:port`.
 *
 * A process that dies, even by SIGKILL, has its sockets closed by the kernel, so this is the
 * fastest crash signal there is: the caller checks that host:port again, finds the connection
 * refused, and need not wait for the next interval. Only a close of an *idle* connection
 * counts: one closed while a request uses it (our own timeout destroying it, say) is that
 * request's failure. The pool holds up to `maxSockets` connections per host:port, so the agent
 * never has to close one it cannot keep (such a close would look like a crash).
 */
export function createCrashProbe(options: CrashProbeOptions): CrashProbe {
  const { maxSockets, onClose, gapMs = 200 } = options;
  const watched = new WeakSet<object>();
  const idle = new WeakSet<object>();
  // host:port → when it was last reported; oldest first, so old ones are pruned from the front.
  const reported = new Map<string, number>();
  const delayed = new Map<string, NodeJS.Timeout>();
  let destroyed = false;

  const report = (origin: string) => {
    const now = performance.now();
    for (const [key, at] of reported) {
      if (at + gapMs > now) break;
      reported.delete(key);
    }
    reported.delete(origin);
    reported.set(origin, now);
    onClose(origin);
  };
  const closed = (origin: string) => {
    if (destroyed || delayed.has(origin)) return;
    const at = reported.get(origin);
    const wait = at === undefined ? 0 : at + gapMs - performance.now();
    if (wait <= 0) return report(origin);
    const timer = setTimeout(() => {
      delayed.delete(origin);
      if (!destroyed) report(origin);
    }, wait);
    timer.unref();
    delayed.set(origin, timer);
  };

  const watch = (agent: http.Agent, defaultPort: number) => {
    const keep = agent.keepSocketAlive.bind(agent);
    const reuse = agent.reuseSocket.bind(agent);
    // Documented agent hooks: keepSocketAlive when a socket goes back to the pool,
    // reuseSocket when a pooled one is handed to a new request.
    agent.keepSocketAlive = (socket) => {
      idle.add(socket);
      return keep(socket);
    };
    agent.reuseSocket = (socket, req) => {
      idle.delete(socket);
      reuse(socket, req);
    };
    agent.on("free", (socket: Socket, args: http.ClientRequestArgs) => {
      // The agent's own listener ran first: only a socket it kept is idle now.
      if (!idle.has(socket) || watched.has(socket)) return;
      watched.add(socket);
      const origin = originKey(args.host ?? args.hostname ?? "", args.port ?? defaultPort);
      socket.once("close", () => {
        if (idle.has(socket)) closed(origin);
      });
    });
    return agent;
  };
  const agentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
  const httpAgent = watch(new http.Agent(agentOptions), 80);
  const httpsAgent = watch(new https.Agent(agentOptions), 443);

  return {
    agentFor: (url) => (url.startsWith("https:") ? httpsAgent : httpAgent),
    destroy() {
      destroyed = true;
      for (const timer of delayed.values()) clearTimeout(timer);
      delayed.clear();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** The host and port a URL connects to, and their `host:port` key, as `onClose` reports it. */
export function endpointOf(url: string): { key: string; host: string; port: number } {
  const parsed = new URL(url);
  const port = Number(parsed.port || (parsed.protocol === "https:" ? 443 : 80));
  const key = originKey(parsed.hostname, port);
  return { key, host: key.slice(0, key.lastIndexOf(":")), port };
}

function originKey(host: string, port: string | number): string {
  return `${host.replace(/^\[|\]$/g, "").toLowerCase()}:${port}`;
}
