/** Options of `createLineQueue`. */
export interface LineQueueOptions {
  /** Most lines kept; pushing one more drops the oldest (counted). */
  limit: number;
  /** Largest JSON body a batch may have; a single line alone may still exceed it. */
  maxBatchBytes: number;
  /** The line that tells the log service how many lines were dropped for room. */
  notice: (dropped: number) => string;
}

/** A batch taken from the queue: the JSON body to POST and what it covers. */
export interface Batch {
  /** A JSON array of strings. */
  body: string;
  /** Sequence number after the batch's last line. */
  end: number;
  /** How many dropped lines the notice at the head of the batch reports (0: no notice). */
  reported: number;
}

/**
 * The remote logger's buffer of undelivered lines: no sockets, no timers, no clock.
 *
 * Every pushed line gets the next sequence number. Lines leave the queue from the front, when
 * the batch holding them is acknowledged (delivered) or given up (refused, or dropped for
 * room). The queue also remembers which lines were echoed already, so no line is echoed twice
 * and none disappears without being either delivered or echoed.
 */
export interface LineQueue {
  /**
   * Adds a line. When that makes the queue longer than its limit, the oldest line is dropped
   * and counted; it is returned when it had not been echoed yet (the caller echoes it).
   */
  push(line: string): string | undefined;
  /** The oldest lines as one batch (the dropped-lines notice first), or `undefined` if empty. */
  take(): Batch | undefined;
  /** The batch was delivered: its lines leave the queue and its notice counts as told. */
  acknowledge(batch: Batch): void;
  /** The batch cannot be delivered: its lines leave the queue, counted as dropped, and those
   * not echoed yet are returned. */
  giveUp(batch: Batch): string[];
  /** Marks every pending line as echoed and returns those that were not, oldest first. */
  unechoed(): string[];
  /** Lines waiting for delivery. */
  readonly pending: number;
  /** Lines given up on so far: dropped for room or refused. */
  readonly dropped: number;
  /** Sequence number the next pushed line will get: every line before it was pushed. */
  readonly end: number;
  /** Sequence number of the oldest pending line: every line before it is done with. */
  readonly start: number;
}

/** Creates an empty `LineQueue`. */
export function createLineQueue(options: LineQueueOptions): LineQueue {
  const { limit, maxBatchBytes, notice } = options;
  // lines[head..] are pending; lines[head] has sequence number start.
  let lines: string[] = [];
  let head = 0;
  let start = 0;
  // Lines with a sequence number below this have been echoed.
  let echoedBelow = 0;
  let dropped = 0;
  // Lines dropped for room that no delivered notice has reported yet.
  let overflowed = 0;

  const pending = () => lines.length - head;

  // Forgets the lines below `seq` and returns those among them not echoed yet.
  const forget = (seq: number): string[] => {
    const count = Math.min(seq - start, pending());
    const unechoed: string[] = [];
    for (let index = Math.max(echoedBelow - start, 0); index < count; index++) {
      unechoed.push(lines[head + index] ?? "");
    }
    head += Math.max(count, 0);
    start += Math.max(count, 0);
    echoedBelow = Math.max(echoedBelow, start);
    // Compact now and then, so the array does not grow with everything ever pushed.
    if (head > 1_024 && head * 2 > lines.length) {
      lines = lines.slice(head);
      head = 0;
    }
    return unechoed;
  };

  return {
    push(line) {
      lines.push(line);
      if (pending() <= limit) return undefined;
      dropped++;
      overflowed++;
      return forget(start + 1)[0];
    },
    take() {
      if (pending() === 0) return undefined;
      let body = "[";
      let bytes = 2;
      // The log file says where lines are missing: the notice goes before the survivors.
      const reported = overflowed;
      if (reported > 0) {
        const encoded = JSON.stringify(notice(reported));
        body += `${encoded},`;
        bytes += Buffer.byteLength(encoded) + 1;
      }
      let index = head;
      for (; index < lines.length; index++) {
        const encoded = JSON.stringify(lines[index] ?? "");
        const size = Buffer.byteLength(encoded) + 1;
        if (index > head && bytes + size > maxBatchBytes) break;
        body += index > head ? `,${encoded}` : encoded;
        bytes += size;
      }
      return { body: `${body}]`, end: start + (index - head), reported };
    },
    acknowledge(batch) {
      overflowed = Math.max(overflowed - batch.reported, 0);
      forget(batch.end);
    },
    giveUp(batch) {
      dropped += Math.max(Math.min(batch.end - start, pending()), 0);
      return forget(batch.end);
    },
    unechoed() {
      const from = Math.max(echoedBelow, start);
      const result = lines.slice(head + from - start);
      echoedBelow = start + pending();
      return result;
    },
    get pending() {
      return pending();
    },
    get dropped() {
      return dropped;
    },
    get end() {
      return start + pending();
    },
    get start() {
      return start;
    },
  };
}
