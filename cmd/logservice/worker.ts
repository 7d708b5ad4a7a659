// An ingest worker of the log service (`logservice --workers N`): forked by it, never run by
// hand. It serves the connections the service hands it and appends through the service.
import { runIngestWorker } from "../../lib/log/worker.ts";
import { streamLogger } from "../../lib/std/log.ts";

if (!process.send) {
  process.stderr.write("logservice worker: started by logservice --workers, not by hand\n");
  process.exit(2);
}
// The service is gone (killed, or crashed): nothing here can be acknowledged any more.
process.on("disconnect", () => process.exit(1));
await runIngestWorker(process as Parameters<typeof runIngestWorker>[0],
  { log: streamLogger(`LogService worker ${process.pid}`) });
process.exit(0);
