// A CA of the test's own and a certificate it signs for 127.0.0.1, made with
// openssl, for servers the tests run behind TLS.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  /** PEM of the CA that signs the certificate. */
  ca: string;
  certFile: string;
  keyFile: string;
}

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "arf-tls-"));
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const newKey = ["-newkey", "rsa:2048", "-nodes"];
  openssl(["req", "-x509", ...newKey, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca"]);
  openssl(["req", ...newKey, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
  openssl(
    ["x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"].concat([
      "-out",
      "tls.crt",
      "-days",
      "1",
      "-extfile",
      "ext.cnf",
    ]),
  );
  return {
    ca: readFileSync(join(dir, "ca.crt"), "utf8"),
    certFile: join(dir, "tls.crt"),
    keyFile: join(dir, "tls.key"),
  };
}
