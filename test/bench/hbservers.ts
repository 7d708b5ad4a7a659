// Heartbeat servers for the registry scale benchmark, run as a child process: a few
// node:http servers answering GET /hb/<i> for thousands of registered instances and
// recording, per instance, when it was checked. The parent asks for a report over IPC.
import http from "node:http";
import type { AddressInfo } from "node:net";

/** A request from the parent. */
export type HeartbeatCommand = { cmd: "observe"; intervalMs: number } | { cmd: "report" };

/** What the parent gets for `report`. */
export interface HeartbeatReport {
  type: "report";
  /** Instances checked at least once since start. */
  checkedEver: number;
  /** Instances checked at least once since `observe`. */
  checkedObserved: number;
  /** Per complete interval window since `observe`: instances checked in it. */
  windows: number[];
  /** Largest gap between two consecutive checks of one instance since `observe`, ms. */
  maxGapMs: number;
  gapP50Ms: number;
  gapP99Ms: number;
  totalHits: number;
  /** Longest time any instance has now gone unchecked, ms. */
  maxSinceLastMs: number;
}

const count = Number(process.argv[2] ?? "0");
const serverCount = Number(process.argv[3] ?? "4");
if (!Number.isInteger(count) || count < 1 || count > 100_000) {
  throw new Error("hbservers: want a count from 1 to 100 000");
}
const last = new Float64Array(count).fill(-1);
const lastWindow = new Int32Array(count).fill(-1);
let gaps: number[] = [];
let windows: number[] = [];
let observeFrom = Number.POSITIVE_INFINITY;
let intervalMs = 3_000;
let totalHits = 0;

const onHit = (index: number) => {
  const now = performance.now();
  totalHits++;
  const previous = last[index] ?? -1;
  if (now >= observeFrom) {
    // The gap that spans the start of the observation counts too.
    if (previous >= 0) gaps.push(now - previous);
    const window = Math.floor((now - observeFrom) / intervalMs);
    if (lastWindow[index] !== window) {
      lastWindow[index] = window;
      windows[window] = (windows[window] ?? 0) + 1;
    }
  }
  last[index] = now;
};

const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
  const match = /^\/hb\/(\d+)$/.exec(req.url ?? "");
  const index = match?.[1] ? Number(match[1]) : -1;
  if (req.method === "GET" && index >= 0 && index < count) {
    onHit(index);
    res.writeHead(200, { "Content-Length": 0 }).end();
  } else {
    res.writeHead(404, { "Content-Length": 0 }).end();
  }
};

const urls: string[] = [];
for (let i = 0; i < serverCount; i++) {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  server.maxConnections = 50_000;
  await new Promise<void>((resolve) =>
    server.listen({ port: 0, host: "127.0.0.1", backlog: 4_096 }, resolve));
  urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}
process.stdout.write(`Heartbeats listening on ${urls.join(",")}\n`);

process.on("message", (message: HeartbeatCommand) => {
  if (message.cmd === "observe") {
    observeFrom = performance.now();
    intervalMs = message.intervalMs;
    gaps = [];
    windows = [];
    lastWindow.fill(-1);
    return;
  }
  const elapsed = performance.now() - observeFrom;
  const complete = Math.max(0, Math.floor(elapsed / intervalMs));
  const now = performance.now();
  let maxSinceLastMs = 0;
  let checkedEver = 0;
  let checkedObserved = 0;
  for (const time of last) {
    if (time >= 0) checkedEver++;
    if (time >= observeFrom) checkedObserved++;
    maxSinceLastMs = Math.max(maxSinceLastMs, time >= 0 ? now - time : now);
  }
  gaps.sort((a, b) => a - b);
  const at = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))] ?? 0;
  const report: HeartbeatReport = {
    type: "report",
    checkedEver,
    checkedObserved,
    windows: Array.from({ length: complete }, (_, i) => windows[i] ?? 0),
    maxGapMs: gaps[gaps.length - 1] ?? 0,
    gapP50Ms: at(0.5),
    gapP99Ms: at(0.99),
    totalHits,
    maxSinceLastMs,
  };
  process.send?.(report);
});
process.on("disconnect", () => process.exit(0));
