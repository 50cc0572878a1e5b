import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { kubeEventRecorder } from "./gateway.ts";

// A stand-in API server that holds each Event create for a while and tracks how many are in flight.
let server: Server;
let inFlight = 0;
let mostInFlight = 0;
let received: string[] = [];
let kc: k8s.KubeConfig;
beforeAll(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      const reason = JSON.parse(body).reason;
      received.push(reason);
      if (reason === "Hang") return; // never answers
      setTimeout(() => {
        inFlight--;
        response.setHeader("content-type", "application/json");
        response.end(body);
      }, 30);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: "c", server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
    ],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
});
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // the request that never answers
    }),
);
beforeEach(() => {
  mostInFlight = 0;
  received = [];
});

const intent = { kind: "HealingIntent", apiVersion: "arf.dev/v1alpha1", namespace: "shop", name: "i", uid: "u" };

describe("kubeEventRecorder", () => {
  it("sends a few Events at once when no decision waits", async () => {
    const pendingSeen: number[] = [];
    const events = kubeEventRecorder(kc, "arf-operator", "test", {
      concurrency: 4,
      busy: () => false,
      onPending: (n) => pendingSeen.push(n),
    });
    for (let i = 0; i < 12; i++) await events.record(intent, "Normal", `R${i}`, "m");
    await events.flush(5000);
    expect(received).toHaveLength(12);
    expect(mostInFlight).toBe(4);
    // The backlog is reported as it grows and drains (arf_events_pending).
    expect(Math.max(...pendingSeen)).toBe(12);
    expect(pendingSeen.at(-1)).toBe(0);
  });

  it("sends one Event at a time while decisions wait, and all of them in order", async () => {
    let busy = true;
    const events = kubeEventRecorder(kc, "arf-operator", "test", { concurrency: 4, busy: () => busy });
    for (let i = 0; i < 6; i++) await events.record(intent, "Normal", `R${i}`, "m");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(mostInFlight).toBe(1);
    expect(received).toEqual(received.map((_, i) => `R${i}`));
    busy = false;
    await events.flush(5000);
    expect(received).toHaveLength(6);
  });

  it("beyond the backlog, drops the newest Events and counts them", async () => {
    let dropped = 0;
    const events = kubeEventRecorder(kc, "arf-operator", "test", {
      concurrency: 1,
      backlog: 3,
      onDrop: () => dropped++,
    });
    for (let i = 0; i < 8; i++) await events.record(intent, "Normal", `R${i}`, "m");
    await events.flush(5000);
    // One went out at once; three waited; the other four were dropped.
    expect(received).toEqual(["R0", "R1", "R2", "R3"]);
    expect(dropped).toBe(4);
  });

  it("a Warning takes the place of the oldest Normal Event when the backlog is full", async () => {
    let dropped = 0;
    const events = kubeEventRecorder(kc, "arf-operator", "test", {
      concurrency: 1,
      backlog: 2,
      onDrop: () => dropped++,
    });
    await events.record(intent, "Normal", "N0", "m"); // sent at once
    await events.record(intent, "Normal", "N1", "m");
    await events.record(intent, "Normal", "N2", "m");
    await events.record(intent, "Warning", "AutoRollbackFailed", "m"); // N1 makes way
    await events.record(intent, "Normal", "N3", "m"); // full of N2 and the Warning: dropped
    await events.flush(5000);
    expect(received).toEqual(["N0", "N2", "AutoRollbackFailed"]);
    expect(dropped).toBe(2);
  });

  it("a send that never answers stops holding its slot after the timeout", async () => {
    const errors: string[] = [];
    const events = kubeEventRecorder(kc, "arf-operator", "test", {
      concurrency: 1,
      sendTimeoutMs: 200,
      onError: (error) => errors.push(String(error)),
    });
    await events.record(intent, "Normal", "Hang", "m");
    await events.record(intent, "Normal", "After", "m");
    await events.flush(5000);
    expect(received).toEqual(["Hang", "After"]);
    expect(errors).toEqual(["Error: no answer to an Event create in 200 ms"]);
  });
});
