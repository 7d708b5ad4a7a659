// The hello service: the smallest complete service, the template for your own (README).
import { createHelloHandler } from "../../lib/hello/server.ts";
import { runCommand } from "../../lib/std/command.ts";
import { serviceOptions, startService } from "../../lib/service/start.ts";

await runCommand(
  process,
  {
    command: "helloservice",
    description: "Answers GET /hello?name=X with a greeting and logs it to the log service.",
    defaultPort: 7_000,
    extra: {},
  },
  async (flags, signal) => {
    const service = await startService({
      name: "HelloService",
      ...serviceOptions(flags),
      // Requiring LogService makes context.log the remote logger.
      requiredServices: ["LogService"],
      handler: createHelloHandler,
      signal,
    });
    process.stdout.write(`HelloService listening on ${service.url}\n`);
    await service.done;
  },
);
