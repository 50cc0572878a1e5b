import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpPrometheus } from "./prometheus.ts";

// A Prometheus stand-in over HTTPS with a certificate from a CA of its own, that wants a bearer token.
const dir = mkdtempSync(join(tmpdir(), "arf-prom-tls-"));
let server: Server;
let address: string;
let ca: string;
let seenAuthorization: string | undefined;

beforeAll(async () => {
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  run([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=test-ca",
  ]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=127.0.0.1"]);
  execFileSync("bash", ["-c", "printf 'subjectAltName=IP:127.0.0.1' > ext.cnf"], { cwd: dir });
  run([
    "x509",
    "-req",
    "-in",
    "tls.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "tls.crt",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  ]);
  ca = readFileSync(join(dir, "ca.crt"), "utf8");
  server = createServer(
    { key: readFileSync(join(dir, "tls.key")), cert: readFileSync(join(dir, "tls.crt")) },
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
    const client = httpPrometheus(2000, async () => ({ token: "s3cret", ca }));
    expect(await client.query(address, "up")).toEqual({ ok: true, value: 0.25 });
    expect(seenAuthorization).toBe("Bearer s3cret");
  });

  it("is an Error, never a value, without the CA or with a wrong token", async () => {
    const noCa = await httpPrometheus(2000, async () => ({ token: "s3cret" })).query(address, "up");
    expect(noCa.ok).toBe(false);
    const wrongToken = await httpPrometheus(2000, async () => ({ token: "nope", ca })).query(address, "up");
    expect(wrongToken).toEqual({ ok: false, error: "unauthorized" });
  });

  it("is an Error when nothing answers", async () => {
    const closed = await httpPrometheus(500).query("http://127.0.0.1:1", "up");
    expect(closed.ok).toBe(false);
  });
});
