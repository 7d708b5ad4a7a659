import { setMaxListeners } from "node:events";
import type { Logger } from "../std/log.ts";
import { describeError } from "../std/errors.ts";
import { request, RequestError } from "../std/request.ts";
import { createTimerQueue } from "./schedule.ts";
import type { Entry } from "./table.ts";
import { createWatchedAgents, originOf } from "./watch.ts";

/** Options of `createHealthChecker`; the times are those of docs/protocol.md#registry. */
export interface HealthOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failures that make an entry critical. */
  failures: number;
  retryDelayMs: number;
  deregisterAfterMs: number;
  /** Checks in flight at most. */
  concurrency: number;
  now: () => Date;
  log: Logger;
  /** Called after an entry turned `passing` or `critical`. */
  onStatus: (entry: Entry) => void;
  /** Called when an entry stayed critical for `deregisterAfterMs`; the owner removes it. */
  onExpire: (entry: Entry) => void;
}

/** The heartbeat checker of a registry. */
export interface HealthChecker {
  /** Starts (or restarts, after a re-registration) checking `entry`, with a check at once. */
  add(entry: Entry): void;
  /** Stops checking `entry`; a check in flight is ignored when it ends. */
  remove(entry: Entry): void;
  /** Checks in flight. */
  readonly inFlight: number;
  /** Stops every timer, aborts the checks in flight and closes the pooled connections. */
  close(): void;
}

interface Check {
  entry: Entry;
  url: string;
  origin: string;
  /** Bumped by `add`, so the result of a check started before a re-registration is ignored. */
  generation: number;
  running: boolean;
  queued: boolean;
  /** Check again as soon as the running check ends. */
  again: boolean;
  /** `performance.now()` when the current or next check is due. */
  due: number;
  /** The pending retry is the quick one after a reset connection. */
  quick: boolean;
  removed: boolean;
}

interface Origin {
  checks: Set<Check>;
  lastProbe: number;
  timer: NodeJS.Timeout | undefined;
}

// Close-triggered probes of one host:port at most this often, so a server that closes every
// idle connection at once cannot make us check in a loop.
const probeGapMs = 200;
const maxHeartbeatBytes = 64 * 1024;
const quickRetryMs = 20;

/**
 * Creates a heartbeat checker (docs/protocol.md#registry): every entry with a HeartbeatURL is
 * checked every `intervalMs` by one timer queue, at most `concurrency` at once, each bounded by
 * `timeoutMs`; any 2xx passes. A failure is retried after `retryDelayMs`; `failures` in a row make
 * the entry critical, while it is still checked; a refused connection is definitive (nothing
 * listens there, as Consul's TCP check treats it) and makes it critical at once.
 *
 * Crash detection: checks use keep-alive agents whose idle connections are watched
 * (`watch.ts`). The moment one closes from the service's side we check that host:port again;
 * for a killed process the connection is refused, which turns it critical within
 * milliseconds instead of an interval.
 */
export function createHealthChecker(options: HealthOptions): HealthChecker {
  const { intervalMs, timeoutMs, failures, retryDelayMs, deregisterAfterMs, log } = options;
  const checks = new Map<Entry, Check>();
  const origins = new Map<string, Origin>();
  const urgent: Check[] = [];
  let ready: Check[] = [];
  let readyHead = 0;
  let inFlight = 0;
  let closed = false;
  const controller = new AbortController();
  // Every request in flight listens on it; thousands at once are expected, not a leak.
  setMaxListeners(0, controller.signal);
  const timers = createTimerQueue<Check>((check) => enqueue(check, false));
  const schedule = (check: Check, delayMs: number, from = performance.now()) => {
    check.due = from + delayMs;
    timers.set(check, check.due - performance.now());
  };

  const agents = createWatchedAgents(options.concurrency, onConnectionClosed);

  function onConnectionClosed(key: string): void {
    const origin = origins.get(key);
    if (closed || !origin || origin.timer) return;
    const wait = origin.lastProbe + probeGapMs - performance.now();
    if (wait <= 0) return probe(origin);
    origin.timer = setTimeout(() => {
      origin.timer = undefined;
      probe(origin);
    }, wait);
    origin.timer.unref();
  }

  function probe(origin: Origin): void {
    origin.lastProbe = performance.now();
    // One check is enough: if it is refused, `apply` checks the other entries there too.
    for (const check of origin.checks) {
      if (check.running) return;
      if (!check.removed) return enqueue(check, true);
    }
  }

  function enqueue(check: Check, now: boolean): void {
    if (closed || check.removed) return;
    if (check.running) {
      check.again ||= now;
      return;
    }
    timers.delete(check);
    if (now) check.due = performance.now();
    if (check.queued) {
      if (now) urgent.push(check);
    } else {
      check.queued = true;
      (now ? urgent : ready).push(check);
    }
    pump();
  }

  function next(): Check | undefined {
    const first = urgent.shift();
    if (first) return first;
    const check = ready[readyHead];
    if (check === undefined) return undefined;
    readyHead += 1;
    if (readyHead > 1_024 && readyHead * 2 > ready.length) {
      ready = ready.slice(readyHead);
      readyHead = 0;
    }
    return check;
  }

  function pump(): void {
    while (!closed && inFlight < options.concurrency) {
      const check = next();
      if (!check) return;
      if (!check.queued || check.removed || check.running) continue;
      check.queued = false;
      void run(check);
    }
  }

  async function run(check: Check): Promise<void> {
    inFlight += 1;
    check.running = true;
    const { generation, url } = check;
    let passed = false;
    let refused = false;
    let reset = false;
    let detail: string;
    try {
      const response = await request(url, {
        timeoutMs,
        signal: controller.signal,
        maxResponseBytes: maxHeartbeatBytes,
        agent: agents.agentFor(url),
      });
      passed = response.status >= 200 && response.status < 300;
      detail = `status ${response.status}`;
    } catch (error) {
      refused = error instanceof RequestError && error.code === "ECONNREFUSED";
      reset = error instanceof RequestError && (error.code === "ECONNRESET" ||
        error.code === "EPIPE");
      detail = describeError(error);
    } finally {
      inFlight -= 1;
      check.running = false;
    }
    if (closed) return;
    if (!check.removed && generation === check.generation) {
      apply(check, passed, refused, reset, detail);
    }
    if (check.again && !check.removed) {
      check.again = false;
      enqueue(check, true);
    }
    pump();
  }

  function apply(
    check: Check,
    passed: boolean,
    refused: boolean,
    reset: boolean,
    detail: string,
  ): void {
    const { entry } = check;
    const quick = check.quick;
    check.quick = false;
    const name = `${entry.reg.ServiceName} at ${entry.reg.ServiceURL}`;
    entry.lastCheck = options.now();
    entry.row = undefined;
    if (passed) {
      entry.failures = 0;
      if (entry.status === "critical") {
        entry.status = "passing";
        entry.criticalSince = 0;
        log(`health: ${name} is passing again`);
        options.onStatus(entry);
      }
      // Every interval from when the check was due, not from when it ended, so slow answers
      // or a busy queue do not stretch the period.
      return schedule(check, intervalMs, check.due);
    }
    entry.failures = refused ? Math.max(entry.failures + 1, failures) : entry.failures + 1;
    if (entry.failures < failures) {
      log(`health: ${name}: check ${entry.failures} of ${failures} failed: ${detail}`);
      // A killed process's connections can be reset a moment before its listening socket is
      // gone: look again at once (then refused is definitive), but only once in a row.
      check.quick = reset && !quick;
      return schedule(check, check.quick ? quickRetryMs : retryDelayMs);
    }
    const t = performance.now();
    if (entry.status === "passing") {
      entry.status = "critical";
      entry.criticalSince = t;
      log(`health: ${name} is critical: ${detail}`);
      options.onStatus(entry);
    }
    if (refused) {
      // Nothing listens on that host:port: every other entry there is down too.
      for (const other of origins.get(check.origin)?.checks ?? []) {
        if (other !== check && other.entry.status === "passing") enqueue(other, true);
      }
    }
    const left = entry.criticalSince + deregisterAfterMs - t;
    if (left <= 0) {
      log(`health: ${name} was critical for ${deregisterAfterMs} ms: deregistering`);
      return options.onExpire(entry);
    }
    schedule(check, Math.min(intervalMs, left));
  }

  function unlink(check: Check): void {
    const origin = origins.get(check.origin);
    if (!origin) return;
    origin.checks.delete(check);
    if (origin.checks.size > 0) return;
    if (origin.timer) clearTimeout(origin.timer);
    origins.delete(check.origin);
  }

  return {
    add(entry) {
      if (closed) return;
      const url = entry.reg.HeartbeatURL;
      let check = checks.get(entry);
      if (check && check.url !== url) unlink(check);
      if (url === "") {
        if (check) this.remove(entry);
        return;
      }
      if (!check) {
        check = { entry, url, origin: "", generation: 0, running: false, queued: false,
          again: false, removed: false, due: 0, quick: false };
        checks.set(entry, check);
      }
      check.generation += 1;
      check.url = url;
      check.origin = originOf(url);
      let origin = origins.get(check.origin);
      if (!origin) origins.set(check.origin, (origin = { checks: new Set(), lastProbe: 0,
        timer: undefined }));
      origin.checks.add(check);
      enqueue(check, true);
    },
    remove(entry) {
      const check = checks.get(entry);
      if (!check) return;
      checks.delete(entry);
      check.removed = true;
      timers.delete(check);
      unlink(check);
    },
    get inFlight() {
      return inFlight;
    },
    close() {
      closed = true;
      controller.abort();
      timers.close();
      for (const origin of origins.values()) if (origin.timer) clearTimeout(origin.timer);
      origins.clear();
      checks.clear();
      agents.destroy();
    },
  };
}
