// /healthz (the process is alive), /readyz (caches synced, leading or
// standing by) and /metrics.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface Probes {
  live(): boolean;
  ready(): { ready: boolean; reason: string };
}

export function startHttpServer(host: string, port: number, probes: Probes, registry: Registry): Promise<Server> {
  const server = createServer(async (request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      const live = probes.live();
      response.writeHead(live ? 200 : 503, { "content-type": "text/plain" }).end(live ? "ok" : "not live");
    } else if (path === "/readyz") {
      const { ready, reason } = probes.ready();
      response.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(reason);
    } else if (path === "/metrics") {
      try {
        const body = await registry.metrics();
        response.writeHead(200, { "content-type": registry.contentType }).end(body);
      } catch (error) {
        response.writeHead(500).end(String(error));
      }
    } else {
      response.writeHead(404).end("not found");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
