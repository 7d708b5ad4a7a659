import { createLimiter } from "../std/limiter.ts";

/** Keys waiting for their turn to run, with at most `concurrency` runs at once. */
export interface RunQueue<K> {
  /**
   * Queues `key` to run. A key is never queued twice: pushing one that waits does nothing, but
   * moves it to the urgent lane when `urgent`. Pushing a running key with `urgent` runs it once
   * more when its run ends.
   */
  push(key: K, urgent: boolean): void;
  /** Takes `key` out of the queue; a run in progress ends normally but is not repeated. */
  delete(key: K): void;
  /** Runs in progress. */
  readonly running: number;
  /** Keys waiting. */
  readonly waiting: number;
  /** Keys put into the queue so far (pushes that found the key waiting do not count). */
  readonly queued: number;
  /** Runs started so far. */
  readonly started: number;
  /** Drops every waiting key; runs in progress end, and nothing starts after them. */
  close(): void;
}

interface Node<K> {
  key: K;
  lane: Lane<K>;
  prev: Node<K> | undefined;
  next: Node<K> | undefined;
}

interface Lane<K> {
  head: Node<K> | undefined;
  tail: Node<K> | undefined;
}

// Runs started in one turn of the event loop at most, unless `createRunQueue` is told.
const defaultPerTurn = 32;

/**
 * Creates a run queue: two first-in-first-out lanes, urgent before ready, each a linked list,
 * so pushing, promoting, deleting and taking the next key are all O(1) however many keys
 * wait; `run(key)` is called for the next key while fewer than `concurrency` runs are in
 * progress (a `std/limiter.ts` slot each). `run` must not reject. Throws `RangeError` when
 * `concurrency` or `perTurn` is not a positive integer.
 *
 * At most `perTurn` runs start in one turn of the event loop; the next ones start in a later
 * turn (`setImmediate`), after the I/O that waits. A run that ends at once, as a connection
 * refused on loopback does (its error comes on the next tick, never through the event loop),
 * would otherwise start the next one in the same turn, and thousands of them would hold the
 * loop for as long as they all take: requests waiting meanwhile would wait for all of them.
 */
export function createRunQueue<K>(
  concurrency: number,
  run: (key: K) => Promise<void>,
  perTurn = defaultPerTurn,
): RunQueue<K> {
  if (!Number.isInteger(perTurn) || perTurn < 1) {
    throw new RangeError(`run queue: perTurn must be a positive integer, not ${perTurn}`);
  }
  const urgentLane: Lane<K> = { head: undefined, tail: undefined };
  const readyLane: Lane<K> = { head: undefined, tail: undefined };
  const waiting = new Map<K, Node<K>>();
  const slots = createLimiter(concurrency);
  const running = new Set<K>();
  const again = new Set<K>();
  let queued = 0;
  let started = 0;
  let closed = false;
  // Runs this turn may still start; refilled by the `setImmediate` the turn's first start set.
  let budget = perTurn;

  const append = (lane: Lane<K>, node: Node<K>) => {
    node.lane = lane;
    node.prev = lane.tail;
    node.next = undefined;
    if (lane.tail) lane.tail.next = node;
    else lane.head = node;
    lane.tail = node;
  };
  const unlink = (node: Node<K>) => {
    const { lane, prev, next } = node;
    if (prev) prev.next = next;
    else lane.head = next;
    if (next) next.prev = prev;
    else lane.tail = prev;
  };

  const refill = () => {
    budget = perTurn;
    pump();
  };
  const pump = () => {
    while (!closed && budget > 0) {
      const node = urgentLane.head ?? readyLane.head;
      if (!node || !slots.tryAcquire()) return;
      unlink(node);
      waiting.delete(node.key);
      if (budget === perTurn) setImmediate(refill);
      budget -= 1;
      start(node.key);
    }
  };
  const start = (key: K) => {
    running.add(key);
    started += 1;
    void run(key).then(() => {
      slots.release();
      running.delete(key);
      if (again.delete(key)) queue.push(key, true);
      pump();
    });
  };

  const queue: RunQueue<K> = {
    push(key, urgent) {
      if (closed) return;
      if (running.has(key)) {
        if (urgent) again.add(key);
        return;
      }
      const node = waiting.get(key);
      if (node) {
        if (urgent && node.lane === readyLane) {
          unlink(node);
          append(urgentLane, node);
        }
        return;
      }
      const added: Node<K> = { key, lane: readyLane, prev: undefined, next: undefined };
      append(urgent ? urgentLane : readyLane, added);
      waiting.set(key, added);
      queued += 1;
      pump();
    },
    delete(key) {
      again.delete(key);
      const node = waiting.get(key);
      if (!node) return;
      unlink(node);
      waiting.delete(key);
    },
    get running() {
      return running.size;
    },
    get waiting() {
      return waiting.size;
    },
    get queued() {
      return queued;
    },
    get started() {
      return started;
    },
    close() {
      closed = true;
      waiting.clear();
      again.clear();
      urgentLane.head = urgentLane.tail = undefined;
      readyLane.head = readyLane.tail = undefined;
    },
  };
  return queue;
}
