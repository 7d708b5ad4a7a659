// The grading service: students and their grades, saved to --data
// (docs/protocol.md#grading-service).
import { createGradesHandler } from "../../lib/grades/server.ts";
import { openGradeStore } from "../../lib/grades/store.ts";
import { streamLogger } from "../../lib/std/log.ts";
import { runCommand } from "../../lib/std/command.ts";
import { withFileLock } from "../../lib/std/lock.ts";
import { serviceOptions, startService } from "../../lib/service/start.ts";

await runCommand(
  process,
  {
    command: "gradingservice",
    description: "Serves students and grades (GET /students, POST /students/{id}/grades).",
    defaultPort: 6_000,
    extra: {
      data: {
        kind: "string",
        default: "grades.json",
        value: "FILE",
        help: "JSON file the grades are saved to",
      },
    },
  },
  // The lock comes first: a second grading service on the same file must not touch it.
  (flags, signal) => withFileLock(flags.data, async () => {
    const store = await openGradeStore({ file: flags.data, log: streamLogger("GradingService") });
    try {
      const service = await startService({
        name: "GradingService",
        ...serviceOptions(flags),
        requiredServices: ["LogService"],
        handler: (context) => createGradesHandler(context, { store }),
        signal,
      });
      process.stdout.write(`GradingService listening on ${service.url}\n`);
      await service.done;
    } finally {
      await store.close();
    }
  }),
);
