/** A value that changes over time, shared by every browser watching it. */
export interface Feed<T> {
  /**
   * Calls `listener` with the latest value (at once, when there is one) and with every new
   * one; returns the unsubscribe function. The source runs only while someone listens.
   */
  subscribe(listener: (value: T) => void): () => void;
}

/**
 * Makes a feed over `run`, which watches a source and calls `emit` on each new value until its
 * signal aborts. `run` starts with the first subscriber and is aborted after the last one
 * left (or when `signal` aborts); one run serves every subscriber, so a thousand open pages
 * cost the source what one does. A `run` that ends or fails is started again with the next
 * subscriber; one that should retry does so itself.
 */
export function createFeed<T>(
  run: (emit: (value: T) => void, signal: AbortSignal) => Promise<void>,
  signal: AbortSignal,
): Feed<T> {
  const listeners = new Set<(value: T) => void>();
  let latest: { value: T } | undefined;
  let running: AbortController | undefined;

  const start = () => {
    const controller = new AbortController();
    running = controller;
    const stop = () => controller.abort();
    signal.addEventListener("abort", stop, { once: true });
    const emit = (value: T) => {
      if (controller.signal.aborted) return;
      latest = { value };
      for (const listener of [...listeners]) listener(value);
    };
    void run(emit, controller.signal)
      .catch(() => undefined)
      .finally(() => {
        signal.removeEventListener("abort", stop);
        if (running === controller) running = undefined;
      });
  };

  return {
    subscribe(listener) {
      const entry = (value: T) => listener(value);
      listeners.add(entry);
      if (latest !== undefined) entry(latest.value);
      if (running === undefined && !signal.aborted) start();
      return () => {
        listeners.delete(entry);
        if (listeners.size > 0 || running === undefined) return;
        running.abort();
        running = undefined;
        // What an idle feed last saw may be stale by the time someone looks again.
        latest = undefined;
      };
    },
  };
}
