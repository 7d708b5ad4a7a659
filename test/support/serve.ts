// Test helper: a plain node:http server on 127.0.0.1:0 answering with the test's own listener
// (a peer that behaves as the test needs: silent, holding, streaming), closed after the test.
import { once } from "node:events";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";

/** Starts a server for `listener` and resolves with its `http://127.0.0.1:<port>` URL. */
export async function serve(t: TestContext, listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
