// A counting proxy in front of the API server: the operator talks plain HTTP to
// it on loopback, it forwards every request over TLS with the operator's own
// headers (its bearer token) and counts each by verb and resource, reads
// included, which the audit log leaves out. Watches stream through untouched.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";

/** "verb resource[/subresource]" as Kubernetes names them, from a request's method and URL. */
export function classify(method: string, url: string): string {
  const [path = "", query = ""] = url.split("?");
  const parts = path.split("/").filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  const rest = parts[0] === "api" ? parts.slice(2) : parts[0] === "apis" ? parts.slice(3) : parts;
  const segments = rest[0] === "namespaces" && rest.length > 2 ? rest.slice(2) : rest;
  const resource = segments[0] ?? "(none)";
  const named = segments.length >= 2;
  const subresource = segments[2];
  const watching = /(^|&)watch=(true|1)(&|$)/.test(query);
  const verb =
    method === "GET"
      ? watching
        ? "watch"
        : named
          ? "get"
          : "list"
      : ((
          { POST: "create", PUT: "update", PATCH: "patch", DELETE: named ? "delete" : "deletecollection" } as Record<
            string,
            string
          >
        )[method] ?? method.toLowerCase());
  // A dry run changes nothing: counted apart from writes.
  const dryRun = /(^|&)dryRun=/.test(query) ? "dry-run " : "";
  return `${dryRun}${verb} ${resource}${subresource ? `/${subresource}` : ""}`;
}

export const WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection"];

export class CountingProxy {
  private server?: Server;
  counts = new Map<string, number>();
  port = 0;

  private readonly upstream: URL;
  private readonly ca: Buffer | undefined;

  constructor(upstream: URL, ca: Buffer | undefined) {
    this.upstream = upstream;
    this.ca = ca;
  }

  async start(): Promise<void> {
    const server = createServer((request: IncomingMessage, response) => {
      const key = classify(request.method ?? "GET", request.url ?? "/");
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      const upstream = httpsRequest(
        {
          host: this.upstream.hostname,
          port: this.upstream.port,
          method: request.method,
          path: request.url,
          headers: { ...request.headers, host: this.upstream.host },
          ca: this.ca,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          // A watch answers headers long before its first event: pass them on now.
          response.flushHeaders();
          answer.pipe(response);
        },
      );
      upstream.on("error", () => response.destroy());
      request.pipe(upstream);
      response.on("close", () => upstream.destroy());
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Counts since the last reset, and starts counting afresh. */
  take(): Map<string, number> {
    const taken = this.counts;
    this.counts = new Map();
    return taken;
  }

  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
