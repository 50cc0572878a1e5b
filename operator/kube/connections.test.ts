import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reuseConnections } from "./connections.ts";

// A stand-in API server on loopback that counts TCP connections.
let server: Server;
let connections = 0;
let url = "";
beforeAll(async () => {
  server = createServer((_request, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ kind: "Namespace", apiVersion: "v1", metadata: { name: "default" } }));
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function kubeConfig(options: { token?: string; clusters?: number } = {}): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    // skipTLSVerify gives the dispatcher TLS options, the path a real cluster (with its CA) takes.
    clusters: Array.from({ length: options.clusters ?? 1 }, (_, i) => ({
      name: `c${i}`,
      server: `${url}/${i}`,
      skipTLSVerify: true,
    })),
    users: [{ name: "u", token: options.token ?? "t" }],
    contexts: Array.from({ length: options.clusters ?? 1 }, (_, i) => ({ name: `x${i}`, cluster: `c${i}`, user: "u" })),
    currentContext: "x0",
  });
  return kc;
}

async function connectionsFor(kc: k8s.KubeConfig, requests: number): Promise<number> {
  const before = connections;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  for (let i = 0; i < requests; i++) await core.readNamespace({ name: "default" });
  return connections - before;
}

describe("reuseConnections", () => {
  it("client-node alone opens a connection per request (why this exists)", async () => {
    expect(await connectionsFor(kubeConfig(), 20)).toBe(20);
  });

  // undici may open a second connection when the next request is sent before the
  // last response has released the first; what matters is that it stops there.
  it("sends sequential requests over at most two kept-alive connections", async () => {
    expect(await connectionsFor(reuseConnections(kubeConfig()), 20)).toBeLessThanOrEqual(2);
  });

  it("opens about as many connections as requests in flight at once, then reuses them", async () => {
    const kc = reuseConnections(kubeConfig());
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const before = connections;
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 4 }, () => core.readNamespace({ name: "default" })));
    }
    expect(connections - before).toBeLessThanOrEqual(8);
  });

  it("a changed token (a header) keeps the connections; another cluster gets its own", async () => {
    const kc = reuseConnections(kubeConfig({ clusters: 2 }));
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const before = connections;
    for (let i = 0; i < 10; i++) {
      (kc.users[0] as { token?: string }).token = `rotated-${i}`;
      await core.readNamespace({ name: "default" });
    }
    const afterRotation = connections - before;
    expect(afterRotation).toBeLessThanOrEqual(2);
    kc.setCurrentContext("x1");
    await kc.makeApiClient(k8s.CoreV1Api).readNamespace({ name: "default" });
    expect(connections - before).toBe(afterRotation + 1);
  });
});
