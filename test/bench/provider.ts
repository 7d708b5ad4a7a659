// A tiny provider process for the failure benchmark: it serves GET /heartbeat and tells its
// parent (over IPC) about every heartbeat, so the parent knows it is being checked.
import http from "node:http";
import type { AddressInfo } from "node:net";

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/heartbeat") {
    res.writeHead(200, { "Content-Length": 0 }).end();
    process.send?.("hb");
    return;
  }
  res.writeHead(404, { "Content-Length": 0 }).end();
});
// Like the service runner: idle keep-alive connections stay, so a crash closes them at once.
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`Provider listening on http://127.0.0.1:${port}\n`);
});
process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  process.disconnect?.();
});
process.on("disconnect", () => process.exit(0));
