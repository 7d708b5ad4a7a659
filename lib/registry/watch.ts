import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";

/** The keep-alive agents of the heartbeat checks, which report lost idle connections. */
export interface WatchedAgents {
  /** The agent for `url` (http or https). */
  agentFor(url: string): http.Agent;
  /** Closes every pooled connection; no more reports. */
  destroy(): void;
}

/**
 * Creates keep-alive agents whose idle pooled connections are watched: when one closes from
 * the other side, `onIdleClose(origin)` is called with its `host:port` (see `originOf`).
 *
 * A process that dies, even by SIGKILL, has its sockets closed by the kernel, so this is the
 * fastest crash signal there is. Only a close of an *idle* connection counts: one closed
 * while a request uses it (our own timeout destroying it, say) is that request's failure.
 * The pool holds up to `maxSockets` connections per host:port, so the agent never has to
 * close one it cannot keep (such a close would look like a crash).
 */
export function createWatchedAgents(
  maxSockets: number,
  onIdleClose: (origin: string) => void,
): WatchedAgents {
  const watched = new WeakSet<object>();
  const idle = new WeakSet<object>();
  let destroyed = false;

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
        if (idle.has(socket) && !destroyed) onIdleClose(origin);
      });
    });
    return agent;
  };
  const options = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
  const httpAgent = watch(new http.Agent(options), 80);
  const httpsAgent = watch(new https.Agent(options), 443);

  return {
    agentFor: (url) => (url.startsWith("https:") ? httpsAgent : httpAgent),
    destroy() {
      destroyed = true;
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** The `host:port` key of a URL, as `onIdleClose` reports it. */
export function originOf(url: string): string {
  const parsed = new URL(url);
  return originKey(parsed.hostname, parsed.port || (parsed.protocol === "https:" ? 443 : 80));
}

function originKey(host: string, port: string | number): string {
  return `${host.replace(/^\[|\]$/g, "").toLowerCase()}:${port}`;
}
