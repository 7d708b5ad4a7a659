// The log service: appends every entry it is sent to one file, durably
// (docs/protocol.md#wire-protocol, docs/protocol.md#log-service).
import { streamLogger } from "../../lib/std/log.ts";
import { createLogServer, defaultKeep, defaultMaxBytes } from "../../lib/log/server.ts";
import { runCommand } from "../../lib/std/command.ts";
import { withFileLock } from "../../lib/std/lock.ts";
import { createMetrics } from "../../lib/std/metrics.ts";
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
    },
  },
  // The lock comes first: a second log service on the same file must not touch it.
  (flags, signal) => withFileLock(flags.file, async () => {
    const log = streamLogger("LogService");
    // Opened before listening: a file we cannot write is a startup error, not 500s later.
    // The metrics exist before the service, so that the file's figures are among them.
    const metrics = createMetrics();
    const server = await createLogServer({ file: flags.file, prefix: flags.prefix, log, signal,
      maxBytes: flags["max-bytes"], keep: flags.keep, metrics,
      ...(flags.token === undefined ? {} : { token: flags.token }) });
    try {
      const service = await startService({
        name: "LogService",
        ...serviceOptions(flags),
        metrics,
        // POST /log is read on raw sockets; everything else goes through node:http.
        fastPath: server.fastPath,
        handler: () => server.handler,
        signal,
        log,
      });
      process.stdout.write(`LogService listening on ${service.url}\n`);
      // done resolves once in-flight requests have finished; then no write can be pending.
      await service.done;
    } finally {
      await server.close();
    }
  }),
);
