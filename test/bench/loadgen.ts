// A load generator run as its own process (forked by test/bench/load.ts and reused, so its JIT
// is warm for every run): N keep-alive connections on raw node:net sockets, each writing a
// prepared POST and the next one as soon as the answer is complete — what wrk does, without
// node:http's client machinery, so the generator is not what limits the figure.
import { connect, type Socket } from "node:net";
import { requestTemplate, type ConnectionLog } from "./entries.ts";
import { parseLoadConfig, type LoadConfig, type LoadResult } from "./loadwire.ts";

// Latencies go into 10 µs buckets up to 1 s (the last bucket holds everything slower).
const bucketUs = 10;
const buckets = 100_000;
const headerEnd = Buffer.from("\r\n\r\n");
const contentLengthHeader = Buffer.from("\r\nContent-Length: ");
const contentLength = /\r\ncontent-length:[ \t]*(\d+)/i;

// "HTTP/1.1 200 …": the status is three digits at a fixed place.
function parseStatus(data: Buffer, at: number): number {
  return ((data[at + 9] ?? 0) - 48) * 100 + ((data[at + 10] ?? 0) - 48) * 10 +
    (data[at + 11] ?? 0) - 48;
}

// The Content-Length of the head `data[at, head)`: Node's spelling byte by byte, any other
// through a regular expression; 0 when there is none.
function parseContentLength(data: Buffer, at: number, head: number): number {
  const found = data.indexOf(contentLengthHeader, at);
  if (found !== -1 && found < head) {
    let value = 0;
    for (let i = found + contentLengthHeader.length; i < head; i++) {
      const code = data[i] ?? 0;
      if (code < 48 || code > 57) break;
      value = value * 10 + code - 48;
    }
    return value;
  }
  const match = contentLength.exec(data.toString("latin1", at, head));
  return Number(match?.[1] ?? 0);
}

async function run(config: LoadConfig): Promise<LoadResult> {
  const target = new URL(config.url);
  const port = Number(target.port);
  const begin = performance.now();
  const start = begin + config.warmupMs;
  const end = start + config.durationMs;
  const histogram = new Uint32Array(buckets);
  const result: LoadResult = {
    type: "result", ok: 0, bad: 0, errors: 0, okTotal: 0, latencyP50Ms: 0, latencyP99Ms: 0,
    firstError: "", connections: [],
  };
  // The edges of the measured window, for the parent to sample CPU at; each is sent once,
  // late rather than never when the loop was too busy for its timer.
  const edges = { measuring: false, ended: false };
  const edge = (type: "measuring" | "ended") => {
    if (edges[type]) return;
    edges[type] = true;
    process.send?.({ type });
  };
  const measuring = setTimeout(() => edge("measuring"), config.warmupMs);
  const ended = setTimeout(() => edge("ended"), config.warmupMs +
    config.durationMs);

  const drive = (index: number) => new Promise<void>((resolve) => {
    const log: ConnectionLog = { sent: 0, failed: [] };
    result.connections.push(log);
    const template = requestTemplate(target, config.run, config.firstConnection + index,
      config.mode, config.batchSize);
    let socket: Socket;
    let rest: Buffer | undefined;
    let sentAt = 0;
    let waiting = false;

    const send = () => {
      if (performance.now() >= end) {
        socket.end();
        resolve();
        return;
      }
      waiting = true;
      sentAt = performance.now();
      log.sent++;
      socket.write(template.next());
    };
    const answered = (status: number) => {
      waiting = false;
      const done = performance.now();
      if (status === 200) result.okTotal++;
      else log.failed.push(log.sent - 1);
      if (done >= start && done <= end) {
        if (status === 200) {
          result.ok++;
          if (sentAt >= start) {
            const bucket = Math.min(buckets - 1, Math.floor(((done - sentAt) * 1_000) / bucketUs));
            histogram[bucket] = (histogram[bucket] ?? 0) + 1;
          }
        } else {
          result.bad++;
        }
      }
    };
    // A body is counted, not kept: readers get answers of a megabyte.
    let bodyLeft = 0;
    let status = 0;
    // `data` is the socket's reusable read buffer: only valid during this call.
    const onRead = (length: number, data: Buffer): boolean => {
      let at = 0;
      let view = data;
      let size = length;
      for (;;) {
        if (bodyLeft > 0) {
          const taken = Math.min(bodyLeft, size - at);
          bodyLeft -= taken;
          at += taken;
          if (bodyLeft > 0) return true;
          answered(status);
        }
        if (at >= size) break;
        if (rest) {
          view = Buffer.concat([rest, view.subarray(at, size)]);
          size = view.length;
          rest = undefined;
          at = 0;
        }
        const head = view.indexOf(headerEnd, at);
        if (head === -1 || head >= size) {
          rest = Buffer.from(view.subarray(at, size));
          return true;
        }
        status = parseStatus(view, at);
        bodyLeft = parseContentLength(view, at, head);
        at = head + 4;
        if (bodyLeft === 0) answered(status);
      }
      if (!waiting) send();
      return true;
    };
    const open = () => {
      socket = connect({ host: target.hostname, port, noDelay: true,
        // Reads land in one buffer per connection, without the stream's 'data' events.
        onread: { buffer: Buffer.allocUnsafe(64 * 1024), callback: onRead } });
      socket.on("connect", send);
      socket.on("error", (error) => {
        result.firstError ||= String(error);
      });
      socket.on("close", () => {
        if (performance.now() >= end && !waiting) return;
        // Refused, reset or closed by the server: count it, and do not spin on it.
        if (waiting) log.failed.push(log.sent - 1);
        waiting = false;
        rest = undefined;
        bodyLeft = 0;
        if (performance.now() >= start && performance.now() <= end) result.errors++;
        if (performance.now() >= end) resolve();
        else setTimeout(open, 10);
      });
    };
    open();
  });

  await Promise.all(Array.from({ length: config.connections }, (_, index) => drive(index)));
  clearTimeout(measuring);
  clearTimeout(ended);
  edge("measuring");
  edge("ended");
  const total = histogram.reduce((sum, count) => sum + count, 0);
  // JSON has no NaN: with no sample the figures are -1.
  const at = (q: number) => {
    if (total === 0) return -1;
    let seen = 0;
    for (let bucket = 0; bucket < buckets; bucket++) {
      seen += histogram[bucket] ?? 0;
      if (seen >= q * total && seen > 0) return ((bucket + 0.5) * bucketUs) / 1_000;
    }
    return Number.NaN;
  };
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
