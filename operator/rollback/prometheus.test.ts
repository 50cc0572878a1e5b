import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestCertificates } from "../../e2e/support/tls.ts";
import { httpPrometheus } from "./prometheus.ts";

// A Prometheus stand-in over HTTPS with a certificate from a CA of its own, that wants a bearer token.
let server: Server;
let address: string;
let ca: string;
let seenAuthorization: string | undefined;

beforeAll(async () => {
  const certificates = makeTestCertificates();
  ca = certificates.ca;
  server = createServer(
    { key: readFileSync(certificates.keyFile), cert: readFileSync(certificates.certFile) },
    (request, response) => {
      seenAuthorization = request.headers.authorization;
      if (request.headers.authorization !== "Bearer s3cret") {
        response.writeHead(401).end(JSON.stringify({ status: "error", error: "unauthorized" }));
        return;
      }
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(
        JSON.stringify({ status: "success", data: { resultType: "vector", result: [{ value: [1, "0.25"] }] } }),
      );
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("httpPrometheus", () => {
  it("sends the bearer token and trusts the CA from its credentials", async () => {
    const client = httpPrometheus(2000, async () => ({ token: "s3cret", ca }), address);
    expect(await client.query(address, "up")).toEqual({ ok: true, value: 0.25 });
    expect(seenAuthorization).toBe("Bearer s3cret");
  });

  it("is an Error, never a value, without the CA or with a wrong token", async () => {
    const noCa = await httpPrometheus(2000, async () => ({ token: "s3cret" })).query(address, "up");
    expect(noCa.ok).toBe(false);
    const wrongToken = await httpPrometheus(2000, async () => ({ token: "nope", ca }), address).query(address, "up");
    expect(wrongToken).toEqual({ ok: false, error: "unauthorized" });
  });

  it("never sends the token to an address other than the operator's own Prometheus (a plan may name any)", async () => {
    const elsewhere = httpPrometheus(2000, async () => ({ token: "s3cret", ca }), "https://prometheus.example:9090");
    expect(await elsewhere.query(address, "up")).toEqual({ ok: false, error: "unauthorized" });
    expect(seenAuthorization).toBeUndefined();
  });

  it("is an Error when nothing answers", async () => {
    const closed = await httpPrometheus(500).query("http://127.0.0.1:1", "up");
    expect(closed.ok).toBe(false);
  });
});
