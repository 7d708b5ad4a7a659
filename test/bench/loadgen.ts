// A load generator run as its own process (forked once by test/bench/load.ts and reused, so its
// JIT is warm for every run): keep-alive POSTs over N connections for a fixed time, told what
// to do and reporting completed requests and latencies over IPC.
import http from "node:http";

/** What the generator is told to do for one run (an IPC message). */
export interface LoadConfig {
  url: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** "text": one short entry per request; "batch": a JSON array of `batchSize` entries. */
  mode: "text" | "batch";
  batchSize: number;
}

/** What the generator reports at the end. */
export interface LoadResult {
  type: "result";
  /** 200 answers completed inside the measured window. */
  ok: number;
  /** Other statuses and failed requests inside the window. */
  bad: number;
  errors: number;
  /** 200 answers over the whole run, warm-up included (for durability checks). */
  okTotal: number;
  elapsedMs: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  firstError: string;
}

/** Accepts a LoadConfig from decoded JSON or throws. */
export function parseLoadConfig(value: unknown): LoadConfig {
  if (typeof value !== "object" || value === null) {
    throw new Error("loadgen: config: not an object");
  }
  const raw = value as Record<string, unknown>;
  const number = (name: string, max: number): number => {
    const field = raw[name];
    if (typeof field !== "number" || !Number.isInteger(field) || field < 0 || field > max) {
      throw new Error(`loadgen: config: ${name} must be an integer 0…${max}`);
    }
    return field;
  };
  const mode = raw["mode"];
  if (mode !== "text" && mode !== "batch") throw new Error("loadgen: config: mode text or batch");
  if (typeof raw["url"] !== "string") throw new Error("loadgen: config: url must be a string");
  const url = new URL(raw["url"]);
  if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost") {
    throw new Error("loadgen: config: only loopback targets");
  }
  return {
    url: raw["url"],
    connections: Math.max(1, number("connections", 1_024)),
    warmupMs: number("warmupMs", 10_000),
    // Bounded: a generator never runs longer than a minute.
    durationMs: Math.max(100, number("durationMs", 60_000)),
    mode,
    batchSize: Math.max(1, number("batchSize", 1_000)),
  };
}

function bodies(config: LoadConfig, connection: number): Buffer[] {
  const filler = "the quick brown fox jumps over the lazy dog";
  const line = (i: number) => `bench conn ${connection} entry ${i} ${filler}`;
  const result: Buffer[] = [];
  for (let i = 0; i < 8; i++) {
    if (config.mode === "text") {
      result.push(Buffer.from(line(i)));
    } else {
      const batch = Array.from({ length: config.batchSize }, (_, j) =>
        line(i * config.batchSize + j));
      result.push(Buffer.from(JSON.stringify(batch)));
    }
  }
  return result;
}

/** Accepts the generator's result message from IPC, or throws. */
export function parseLoadResult(value: unknown): LoadResult {
  if (typeof value !== "object" || value === null) {
    throw new Error("loadgen: result: not an object");
  }
  const raw = value as Record<string, unknown>;
  const numbers = ["ok", "bad", "errors", "okTotal", "elapsedMs", "latencyP50Ms", "latencyP99Ms"];
  for (const name of numbers) {
    if (typeof raw[name] !== "number") throw new Error(`loadgen: result: ${name} not a number`);
  }
  if (raw["type"] !== "result" || typeof raw["firstError"] !== "string") {
    throw new Error("loadgen: result: malformed");
  }
  return value as LoadResult;
}

async function run(config: LoadConfig): Promise<LoadResult> {
  const target = new URL(config.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.connections });
  const contentType = config.mode === "text" ? "text/plain" : "application/json";
  const begin = performance.now();
  const start = begin + config.warmupMs;
  const end = start + config.durationMs;
  let measuring = false;
  const result: LoadResult = {
    type: "result", ok: 0, bad: 0, errors: 0, okTotal: 0, elapsedMs: config.durationMs,
    latencyP50Ms: 0, latencyP99Ms: 0, firstError: "",
  };
  const latencies: number[] = [];

  const post = (body: Buffer) => new Promise<number>((resolve, reject) => {
    const req = http.request({
      agent,
      hostname: target.hostname,
      port: target.port,
      path: target.pathname,
      method: "POST",
      headers: { "Content-Type": contentType, "Content-Length": body.length },
    }, (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });

  const worker = async (connection: number) => {
    const own = bodies(config, connection);
    for (let i = 0; performance.now() < end; i++) {
      const sent = performance.now();
      let status = 0;
      try {
        status = await post(own[i % own.length] ?? Buffer.from("x"));
      } catch (error) {
        result.firstError ||= String(error);
        status = -1;
      }
      const done = performance.now();
      if (!measuring && done >= start) {
        measuring = true;
        process.send?.({ type: "measuring" });
      }
      if (status === 200) result.okTotal++;
      if (done < start || done > end) continue;
      if (status === 200) {
        result.ok++;
        if (sent >= start) latencies.push(done - sent);
      } else if (status === -1) {
        result.errors++;
        // A refused or reset connection must not turn into a hot loop.
        await new Promise((resolve) => setTimeout(resolve, 10));
      } else {
        result.bad++;
      }
    }
  };
  await Promise.all(Array.from({ length: config.connections }, (_, i) => worker(i)));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  result.latencyP50Ms = at(0.5);
  result.latencyP99Ms = at(0.99);
  return result;
}

if (process.send) {
  // One run at a time: the parent waits for each result before sending the next config.
  process.on("message", (message: unknown) => {
    void run(parseLoadConfig(message)).then((result) => process.send?.(result));
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "ready" });
}
