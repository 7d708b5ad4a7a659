import type { ServerResponse } from "node:http";
import { UnavailableError } from "../std/errors.ts";
import type { LineFilter } from "./match.ts";

/** Options of `createFollowers`. */
export interface FollowersOptions {
  /** Followers at once at most (default 64); one more is refused with `UnavailableError`. */
  maxFollowers?: number;
  /** New entries are sent to followers this often at most (default 20 ms), not per round. */
  flushMs?: number;
  /** A follower this far behind (bytes not yet taken by its socket) is ended; default 1 MiB. */
  maxBacklogBytes?: number;
}

/** The open `GET /log?follow=1` answers, fed with every durable round. */
export interface Followers {
  /**
   * Answers `res` with the tail so far (what `initial` hands to its `send`) and then every
   * entry `filter` picks (all without one) as it becomes durable, until the client leaves or
   * `close` is called. Entries durable after this call and before the tail is sent follow
   * it, none twice. Rejects with `UnavailableError` when there are too many followers, or
   * with what `initial` rejects with; nothing is sent then.
   */
  follow(res: ServerResponse, filter: LineFilter | undefined,
    initial: (send: (tail: Buffer) => void) => Promise<void>): Promise<void>;
  /** Hands a durable round (whole lines) to every follower. */
  publish(data: Buffer): void;
  /** Ends every follower's answer. */
  close(): void;
  /** Followers now. */
  readonly count: number;
}

interface Follower {
  res: ServerResponse;
  filter: LineFilter | undefined;
  queue: Buffer[];
  queued: number;
  ready: boolean;
}

/** Creates the set of followers of one log server. */
export function createFollowers(options: FollowersOptions = {}): Followers {
  const { maxFollowers = 64, flushMs = 20, maxBacklogBytes = 1024 * 1024 } = options;
  const followers = new Set<Follower>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const end = (follower: Follower) => {
    followers.delete(follower);
    if (!follower.res.writableEnded) follower.res.end();
  };

  const flushOne = (follower: Follower) => {
    const rounds = follower.queue.splice(0);
    follower.queued = 0;
    const pieces: Buffer[] = [];
    for (const round of rounds) {
      const data = round[0] === 0x0a ? round.subarray(1) : round;
      if (!follower.filter) pieces.push(data);
      else pieces.push(...picked(follower.filter, data));
    }
    if (pieces.length > 0) follower.res.write(Buffer.concat(pieces));
    // A reader that cannot keep up is let go rather than buffered without bound.
    if (follower.res.writableLength > maxBacklogBytes) end(follower);
  };

  const flush = () => {
    timer = undefined;
    for (const follower of followers) if (follower.ready) flushOne(follower);
  };

  return {
    async follow(res, filter, initial) {
      if (closed) throw new UnavailableError("log: shutting down");
      if (followers.size >= maxFollowers) {
        throw new UnavailableError(`log: ${maxFollowers} followers already, try again later`);
      }
      const follower: Follower = { res, filter, queue: [], queued: 0, ready: false };
      followers.add(follower);
      res.once("close", () => followers.delete(follower));
      const send = (tail: Buffer) => {
        // The client left meanwhile: nobody to answer.
        if (res.destroyed) return;
        res.writeHead(200, {
          "Content-Type": "text/plain; charset=utf-8",
          "Cache-Control": "no-store",
          "X-Content-Type-Options": "nosniff",
        });
        res.write(tail);
        follower.ready = true;
        // What became durable while the tail was read is sent now, unless it is more than a
        // follower may be behind: then, as for one too slow, the answer ends here.
        if (closed || follower.queued > maxBacklogBytes) end(follower);
        else flushOne(follower);
      };
      try {
        await initial(send);
      } catch (error) {
        followers.delete(follower);
        throw error;
      }
    },
    publish(data) {
      if (followers.size === 0) return;
      for (const follower of followers) {
        // One still reading its tail keeps at most a backlog's worth; it ends after the tail.
        if (!follower.ready && follower.queued > maxBacklogBytes) continue;
        follower.queue.push(data);
        follower.queued += data.length;
      }
      timer ??= setTimeout(flush, flushMs);
    },
    close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      // Those still reading their tail end once it is sent.
      for (const follower of followers) if (follower.ready) end(follower);
    },
    get count() {
      return followers.size;
    },
  };
}

// The lines of `data` that `filter` picks, in file order.
function picked(filter: LineFilter, data: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  filter.pick(data, (start, end) => {
    lines.push(data.subarray(start, end + 1));
    return true;
  });
  return lines.reverse();
}
