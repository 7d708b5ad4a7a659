/**
 * Prometheus metrics with the standard library only: counters, gauges and histograms kept in
 * memory and rendered in the text exposition format 0.0.4 (what `GET /metrics` answers and
 * what Prometheus scrapes). Names and help follow Prometheus's conventions: base units in the
 * name (`_seconds`, `_bytes`), `_total` on counters.
 */

/** Label values by label name, e.g. `{ route: "/log", status: "200" }`. */
export type Labels = Readonly<Record<string, string>>;

/** A value that only goes up (requests served, bytes written). */
export interface Counter {
  /** Adds `by` (default 1, never negative) to the series with these labels. */
  inc(labels?: Labels, by?: number): void;
  /** The series with these labels, bound once: cheaper on a hot path than `inc(labels)`. */
  with(labels: Labels): { inc(by?: number): void };
}

/** A value that goes up and down (queue depth, open connections). */
export interface Gauge {
  set(value: number, labels?: Labels): void;
  inc(labels?: Labels, by?: number): void;
  dec(labels?: Labels, by?: number): void;
}

/** Observations counted into buckets (latencies, sizes), with their sum and count. */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
  /** The series with these labels, bound once: cheaper on a hot path than `observe`. */
  with(labels: Labels): { observe(value: number): void };
}

/** The metrics of one process or service. */
export interface Metrics {
  /** Registers a counter; `name` should end in `_total`. Throws on a duplicate name. */
  counter(name: string, help: string): Counter;
  /** Registers a gauge. Throws on a duplicate name. */
  gauge(name: string, help: string): Gauge;
  /**
   * Registers a gauge whose series are read at render time from `collect` (value, or
   * `[labels, value]` pairs), for figures that live elsewhere (memory, queue sizes).
   */
  collect(
    name: string,
    help: string,
    type: "gauge" | "counter",
    collect: () => number | ReadonlyArray<readonly [Labels, number]>,
  ): void;
  /** Registers a histogram with ascending upper `buckets` (`+Inf` is added). */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram;
  /** The text exposition of every metric, in registration order. */
  render(): string;
}

/** Bucket bounds for request latencies in seconds: 0.5 ms to 10 s. */
export const latencyBuckets: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/** The `Content-Type` of the text exposition format. */
export const metricsContentType = "text/plain; version=0.0.4; charset=utf-8";

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  lines(): string[];
}

interface HistogramSeries {
  labels: string;
  buckets: number[];
  sum: number;
  count: number;
}

const validName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/u;
const validLabel = /^[a-zA-Z_][a-zA-Z0-9_]*$/u;

/** Creates an empty set of metrics; each service owns its own (no module-level registry). */
export function createMetrics(): Metrics {
  const families = new Map<string, Family>();

  const add = (family: Family): void => {
    if (!validName.test(family.name)) throw new Error(`metrics: bad name ${family.name}`);
    if (families.has(family.name)) throw new Error(`metrics: ${family.name} registered twice`);
    families.set(family.name, family);
  };

  const series = (type: "counter" | "gauge", name: string, help: string) => {
    const values = new Map<string, { value: number }>();
    add({
      name,
      help,
      type,
      lines: () => [...values].map(([labels, one]) => sample(name, labels, one.value)),
    });
    return (labels: Labels | undefined): { value: number } => {
      const key = labelText(labels);
      let one = values.get(key);
      if (!one) values.set(key, (one = { value: 0 }));
      return one;
    };
  };

  return {
    counter(name, help) {
      const find = series("counter", name, help);
      return {
        inc: (labels, by = 1) => void (find(labels).value += Math.max(0, by)),
        with: (labels) => {
          const one = find(labels);
          return { inc: (by = 1) => void (one.value += Math.max(0, by)) };
        },
      };
    },
    gauge(name, help) {
      const find = series("gauge", name, help);
      return {
        set: (value, labels) => void (find(labels).value = value),
        inc: (labels, by = 1) => void (find(labels).value += by),
        dec: (labels, by = 1) => void (find(labels).value -= by),
      };
    },
    collect(name, help, type, read) {
      add({
        name,
        help,
        type,
        lines: () => {
          const value = read();
          if (typeof value === "number") return [sample(name, "", value)];
          return value.map(([labels, each]) => sample(name, labelText(labels), each));
        },
      });
    },
    histogram(name, help, buckets) {
      const bounds = [...buckets];
      for (let index = 1; index < bounds.length; index++) {
        if (!((bounds[index] ?? 0) > (bounds[index - 1] ?? 0))) {
          throw new Error(`metrics: ${name}: buckets must ascend`);
        }
      }
      const all = new Map<string, HistogramSeries>();
      add({
        name,
        help,
        type: "histogram",
        lines: () => [...all.values()].flatMap((one) => histogramLines(name, bounds, one)),
      });
      const find = (labels: Labels | undefined): HistogramSeries => {
        const key = labelText(labels);
        let one = all.get(key);
        if (!one) {
          one = { labels: key, buckets: new Array<number>(bounds.length).fill(0), sum: 0,
            count: 0 };
          all.set(key, one);
        }
        return one;
      };
      const observe = (one: HistogramSeries, value: number): void => {
        // Counted in the first bucket whose bound holds it; rendering makes them cumulative.
        let index = 0;
        while (index < bounds.length && value > (bounds[index] ?? Infinity)) index++;
        if (index < bounds.length) one.buckets[index] = (one.buckets[index] ?? 0) + 1;
        one.sum += value;
        one.count += 1;
      };
      return {
        observe: (value, labels) => observe(find(labels), value),
        with: (labels) => {
          const one = find(labels);
          return { observe: (value) => observe(one, value) };
        },
      };
    },
    render() {
      const out: string[] = [];
      for (const family of families.values()) {
        out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
        out.push(`# TYPE ${family.name} ${family.type}`);
        out.push(...family.lines());
      }
      return `${out.join("\n")}\n`;
    },
  };
}

function histogramLines(name: string, bounds: readonly number[], one: HistogramSeries): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  for (const [index, bound] of bounds.entries()) {
    cumulative += one.buckets[index] ?? 0;
    lines.push(sample(`${name}_bucket`, joinLabels(one.labels, `le="${formatNumber(bound)}"`),
      cumulative));
  }
  lines.push(sample(`${name}_bucket`, joinLabels(one.labels, 'le="+Inf"'), one.count));
  lines.push(sample(`${name}_sum`, one.labels, one.sum));
  lines.push(sample(`${name}_count`, one.labels, one.count));
  return lines;
}

function sample(name: string, labels: string, value: number): string {
  return `${name}${labels === "" ? "" : `{${labels}}`} ${formatNumber(value)}`;
}

function joinLabels(labels: string, extra: string): string {
  return labels === "" ? extra : `${labels},${extra}`;
}

/** `name="value",…` in a fixed (sorted) order, so the same labels always make one series. */
function labelText(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const names = Object.keys(labels).sort();
  return names
    .map((name) => {
      if (!validLabel.test(name) || name.startsWith("__")) {
        throw new Error(`metrics: bad label name ${name}`);
      }
      return `${name}="${escapeLabel(labels[name] ?? "")}"`;
    })
    .join(",");
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

// The exposition format escapes backslash and newline in help, and the double quote too in
// label values.
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabel(text: string): string {
  return escapeHelp(text).replace(/"/g, '\\"');
}

/**
 * Registers the process-wide figures every service reports: CPU seconds, resident memory,
 * heap, start time and uptime, all read when the metrics are rendered.
 */
export function addProcessMetrics(metrics: Metrics): void {
  const started = Date.now() / 1_000 - process.uptime();
  metrics.collect("process_cpu_seconds_total", "User and system CPU time spent, in seconds.",
    "counter", () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    });
  metrics.collect("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
    () => process.memoryUsage.rss());
  metrics.collect("nodejs_heap_used_bytes", "V8 heap in use, in bytes.", "gauge",
    () => process.memoryUsage().heapUsed);
  metrics.collect("process_start_time_seconds", "Start time of the process since the Unix " +
    "epoch, in seconds.", "gauge", () => Math.round(started * 1_000) / 1_000);
  metrics.collect("process_uptime_seconds", "Time since the process started, in seconds.",
    "gauge", () => process.uptime());
}
