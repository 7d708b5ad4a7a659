/**
 * The wait before retry number `attempt` (1-based): `minMs` doubled per attempt, capped at
 * `maxMs`, then "equal jitter" (a random point in the upper half) so services that lost the
 * same registry do not retry in lock-step (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"). Always a whole number of milliseconds ≥ 1.
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const base = Math.min(maxMs, minMs * 2 ** exponent);
  return Math.max(1, Math.round(base / 2 + (random() * base) / 2));
}
