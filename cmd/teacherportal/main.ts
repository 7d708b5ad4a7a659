// The teacher portal: web pages over the grading service, the log service and the registry.
import { createPortalHandler } from "../../lib/portal/server.ts";
import { runCommand } from "../../lib/service/cli.ts";
import { startService } from "../../lib/service/start.ts";

await runCommand(
  process,
  {
    command: "teacherportal",
    description: "Serves the teacher portal: students, grades, services and logs as web pages.",
    defaultPort: 5_000,
    extra: {},
  },
  async (flags, signal) => {
    const token = flags.token === undefined ? {} : { token: flags.token };
    const service = await startService({
      name: "TeacherPortal",
      host: flags.host,
      port: flags.port,
      registryURL: flags.registry,
      requiredServices: ["GradingService", "LogService"],
      ...token,
      handler: (context) => createPortalHandler(context, { registryURL: flags.registry, ...token }),
      signal,
    });
    process.stdout.write(`TeacherPortal listening on ${service.url}\n`);
    await service.done;
  },
);
