import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../std/log.ts";
import { register, registryURLs } from "../registry/client.ts";
import type { Providers } from "../registry/providers.ts";
import type { Patch, Registration } from "../registry/registration.ts";
import { backoffDelay } from "../std/backoff.ts";
import { describeError } from "../std/errors.ts";

/** Options of `createRegistrar`. */
export interface RegistrarOptions {
  registration: Registration;
  registryURL: string;
  token?: string;
  /** Replaced by each registration answer. */
  providers: Providers;
  /** Lifecycle lines: registered, registration failed, registering again. */
  log: Logger;
  /** Bound on each registration attempt. */
  registerTimeoutMs: number;
  /** First retry delay; it doubles per failure up to `retryMaxMs`. */
  retryMinMs: number;
  retryMaxMs: number;
  /** Fixed anti-entropy silence; by default learnt from the heartbeats (`heartbeatClock`). */
  antiEntropyMs?: number;
}

/** Keeps one service registered (docs/protocol.md#the-service-runner). */
export interface Registrar {
  /** Starts the registration loop; does nothing while one runs. */
  start(): void;
  /** Reports a heartbeat from the registry: the anti-entropy clock. */
  heartbeat(): void;
  /** Reports a patch the service applied (see `createRegistrar`). */
  patched(patch: Patch): void;
  /** Resolves at the first successful registration; rejects if stopped before one. */
  registered: Promise<void>;
  /**
   * Stops the loop and the anti-entropy timer, aborting an attempt in flight. Resolves `true`
   * when the registry may know the service (so it should deregister).
   */
  stop(): Promise<boolean>;
}

/**
 * Creates the part of a service that keeps it registered: it registers with capped
 * exponential backoff while the registry is unreachable (logging each failure), lets the
 * answer replace the providers, and registers again when the registry has been silent for
 * three heartbeat intervals — the registry lost it, e.g. it restarted without its state.
 */
export function createRegistrar(options: RegistrarOptions): Registrar {
  const { registration, registryURL, providers, log } = options;
  const { registerTimeoutMs, retryMinMs, retryMaxMs } = options;
  const token = options.token === undefined ? {} : { token: options.token };
  // Replicas of a registry cluster, the one that answered last first.
  let replicas = registryURLs(registryURL);
  let answered = replicas[0] ?? registryURL;
  const stopping = new AbortController();
  const heartbeats = heartbeatClock();
  let antiEntropyTimer: NodeJS.Timeout | undefined;
  let loop: Promise<void> | undefined;
  let registeredOnce = false;
  let attemptInFlight = false;
  // The registry pushes a change to dependents at once but answers a registration only after
  // saving it, so a patch can overtake the answer that is older than it. Patches received
  // while a registration is in flight are kept and replayed over the answer.
  let patchesDuringAttempt: Patch[] | undefined;

  let resolveRegistered = () => {};
  let rejectRegistered = (_error: Error) => {};
  const registered = new Promise<void>((resolve, reject) => {
    resolveRegistered = resolve;
    rejectRegistered = reject;
  });
  // Nobody has to wait for it; a service that stops unregistered is not an unhandled error.
  registered.catch(() => undefined);

  const armAntiEntropy = () => {
    const silenceMs = options.antiEntropyMs ?? heartbeats.silenceMs();
    if (!(silenceMs > 0 && Number.isFinite(silenceMs))) return;
    clearTimeout(antiEntropyTimer);
    antiEntropyTimer = setTimeout(() => {
      // After the process stood still (a busy machine), timers run before the sockets are
      // read: a heartbeat may already be waiting. Decide after that I/O (setImmediate runs
      // after the poll phase); a heartbeat meanwhile has re-armed the timer.
      const armed = antiEntropyTimer;
      setImmediate(() => {
        if (antiEntropyTimer !== armed) return;
        antiEntropyTimer = undefined;
        log(`no heartbeat from the registry for ${silenceMs} ms: registering again`);
        start();
      });
    }, silenceMs);
  };

  const attempt = async (): Promise<void> => {
    attemptInFlight = true;
    patchesDuringAttempt = [];
    try {
      const answer = await register(registration, {
        ...token,
        registryURL: replicas.join(","),
        onReplica: (url) => {
          answered = url;
          replicas = [url, ...replicas.filter((other) => other !== url)];
        },
        timeoutMs: registerTimeoutMs,
        signal: stopping.signal,
      });
      // A Go registry answers without a body and sends the patch to /services only.
      if (answer) {
        providers.replace(answer);
        for (const later of patchesDuringAttempt) providers.apply(later);
      }
    } finally {
      attemptInFlight = false;
      patchesDuringAttempt = undefined;
    }
  };

  const registerLoop = async (): Promise<void> => {
    for (let number = 1; !stopping.signal.aborted; number++) {
      try {
        await attempt();
        registeredOnce = true;
        log(`registered with ${answered} as ${registration.ServiceURL}`);
        resolveRegistered();
        armAntiEntropy();
        return;
      } catch (error) {
        if (stopping.signal.aborted) return;
        const wait = backoffDelay(number, retryMinMs, retryMaxMs);
        const why = error instanceof Error ? error.message : describeError(error);
        log(`registration failed (attempt ${number}, retrying in ${wait} ms): ${why}`);
        // Rejects only when stopping aborts the wait: then the loop is over.
        if (!(await delay(wait, true, { signal: stopping.signal }).catch(() => false))) return;
      }
    }
  };

  function start(): void {
    if (stopping.signal.aborted) return;
    loop ??= registerLoop().finally(() => {
      loop = undefined;
    });
  }

  return {
    start,
    heartbeat() {
      heartbeats.beat();
      if (antiEntropyTimer) armAntiEntropy();
    },
    patched(patch) {
      patchesDuringAttempt?.push(patch);
    },
    registered,
    async stop() {
      const mayBeRegistered = registeredOnce || attemptInFlight;
      stopping.abort();
      clearTimeout(antiEntropyTimer);
      antiEntropyTimer = undefined;
      await loop;
      if (!registeredOnce) {
        const name = registration.ServiceName;
        rejectRegistered(new Error(`service: ${name}: stopped before registering`));
      }
      return mayBeRegistered;
    },
  };
}

/**
 * How long a registry's silence may last before the service assumes it was forgotten: three
 * heartbeat intervals (docs/protocol.md#the-service-runner). The interval is not on the wire, so it
 * is learnt as the median of the last few gaps between heartbeats (one late check does not stretch
 * it), once there are two: a registry checks a service at once when it registers, and then on
 * its own beat, so the first gap may be any fraction of the interval; of two gaps the median is
 * the longer. Until then the silence allowed is 10 s.
 */
function heartbeatClock(): { beat(): void; silenceMs(): number } {
  const gaps: number[] = [];
  let last: number | undefined;
  return {
    beat() {
      const now = performance.now();
      if (last !== undefined) gaps.push(now - last);
      if (gaps.length > 8) gaps.shift();
      last = now;
    },
    silenceMs: () => (gaps.length < 2 ? 10_000 : Math.ceil(3 * Math.max(median(gaps), 50))),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
