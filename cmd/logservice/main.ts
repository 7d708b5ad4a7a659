// The log service: appends every entry it is sent to one file, durably
// (docs/protocol.md#wire-protocol, docs/protocol.md#log-service).
import { streamLogger } from "../../lib/std/log.ts";
import { fileURLToPath } from "node:url";
import { createLogServer, defaultKeep, defaultMaxBytes } from "../../lib/log/server.ts";
import { startIngestWorkers } from "../../lib/log/workers.ts";
import { runCommand } from "../../lib/std/command.ts";
import { withFileLock } from "../../lib/std/lock.ts";
import { serviceOptions, startService } from "../../lib/service/start.ts";

await runCommand(
  process,
  {
    command: "logservice",
    description:
      "Appends the entries POSTed to /log to a file, answering 200 only once they are fsynced;\n" +
      "GET /log?lines=N shows the last N entries (filters: service=, contains=, since=, until=;\n" +
      "follow=1 streams new ones).",
    defaultPort: 4_000,
    extra: {
      file: {
        kind: "string",
        default: "distributed.log",
        value: "FILE",
        help: "file entries are appended to",
      },
      prefix: { kind: "string", default: "go ", help: "text before each entry's timestamp" },
      "max-bytes": {
        kind: "integer",
        default: defaultMaxBytes,
        min: 0,
        help: "rotate the file to FILE.1 once it has this many bytes; 0 never rotates",
      },
      keep: { kind: "integer", default: defaultKeep, min: 1, help: "rotated files kept" },
      workers: {
        kind: "integer",
        default: 1,
        min: 1,
        help: "processes that read requests; this one writes the file (1: this one only)",
      },
    },
  },
  // The lock comes first: a second log service on the same file must not touch it.
  (flags, signal) => withFileLock(flags.file, async () => {
    const log = streamLogger("LogService");
    // Opened before listening: a file we cannot write is a startup error, not 500s later.
    const server = await createLogServer({ file: flags.file, prefix: flags.prefix, log, signal,
      maxBytes: flags["max-bytes"], keep: flags.keep });
    // More processes take connections when one cannot keep up; this one stays the only writer.
    const workers = flags.workers > 1
      ? await startIngestWorkers({ count: flags.workers - 1, append: server.append, log,
        prefix: flags.prefix, script: fileURLToPath(new URL("./worker.js", import.meta.url)) })
      : undefined;
    // The workers hold connections of their own: they stop alongside the service's server.
    const stopWorkers = () => void workers?.stop();
    signal.addEventListener("abort", stopWorkers, { once: true });
    try {
      const service = await startService({
        name: "LogService",
        ...serviceOptions(flags),
        handler: () => server.handler,
        signal,
        log,
        ...(workers ? { distribute: workers.distribute } : {}),
      });
      workers?.start(service.url);
      process.stdout.write(`LogService listening on ${service.url}\n`);
      // done resolves once in-flight requests have finished; then no write can be pending.
      await service.done;
    } finally {
      signal.removeEventListener("abort", stopWorkers);
      await workers?.stop();
      await server.close();
    }
  }),
);
