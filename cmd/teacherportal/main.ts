// The teacher portal: web pages over the grading service, the log service and the registry.
import { createPortalHandler } from "../../lib/portal/server.ts";
import { runCommand } from "../../lib/std/command.ts";
import { serviceOptions, startService } from "../../lib/service/start.ts";

await runCommand(
  process,
  {
    command: "teacherportal",
    description: "Serves the teacher portal: students, grades, services and logs as web pages.",
    defaultPort: 5_000,
    extra: {},
  },
  async (flags, signal) => {
    const options = serviceOptions(flags);
    const { registryURL, token } = options;
    const service = await startService({
      ...options,
      name: "TeacherPortal",
      requiredServices: ["GradingService", "LogService"],
      handler: (context) =>
        createPortalHandler(context, { registryURL, ...(token === undefined ? {} : { token }) }),
      signal,
    });
    process.stdout.write(`TeacherPortal listening on ${service.url}\n`);
    await service.done;
  },
);
