/** Summary of a sample of measurements (all in the sample's unit). */
export interface Summary {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * The `q`-quantile (0…1) of `values` by nearest rank; `NaN` for an empty sample.
 * Nearest rank keeps p99 an observed value, never an interpolation between two.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** The median of `values` (mean of the middle two for an even count); `NaN` when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const high = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? high : ((sorted[middle - 1] ?? high) + high) / 2;
}

/** Count, extremes, p50, p99 and mean of `values`. */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

/** Formats a number with `digits` decimals and thin grouping: `12 345.6`. */
export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  const [whole = "0", fraction] = Math.abs(value).toFixed(digits).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, " ");
  return `${value < 0 ? "-" : ""}${grouped}${fraction ? `.${fraction}` : ""}`;
}

/** `median (min–max)` of several runs' figures, or just the value when there is one run. */
export function medianSpread(values: readonly number[], digits = 0, unit = ""): string {
  const mid = median(values);
  if (values.length < 2) return `${fmt(mid, digits)}${unit}`;
  const low = Math.min(...values);
  const high = Math.max(...values);
  const range = `${fmt(low, digits)}–${fmt(high, digits)}`;
  return `${fmt(mid, digits)}${unit} (${range}, ${values.length} runs)`;
}
