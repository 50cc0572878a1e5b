// Creates a license key pair and issues licenses.
//   node hack/license.ts keygen DIR
//   node hack/license.ts issue --key DIR/private.pem --licensee NAME [--days 30] [--not-before-days 0]
//                              [--cluster-uid UID] [--expired] > token
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateKeyPair, issueLicense } from "../operator/license/license.ts";

const [command, ...rest] = process.argv.slice(2);
if (command === "keygen") {
  const dir = rest[0] ?? ".";
  mkdirSync(dir, { recursive: true });
  const { publicKeyPem, privateKeyPem } = generateKeyPair();
  writeFileSync(join(dir, "public.pem"), publicKeyPem);
  writeFileSync(join(dir, "private.pem"), privateKeyPem, { mode: 0o600 });
  process.stderr.write(`wrote ${join(dir, "public.pem")} and ${join(dir, "private.pem")}\n`);
} else if (command === "issue") {
  const { values } = parseArgs({
    args: rest,
    options: {
      key: { type: "string" },
      licensee: { type: "string" },
      days: { type: "string", default: "365" },
      "not-before-days": { type: "string", default: "0" },
      "cluster-uid": { type: "string" },
      id: { type: "string" },
    },
  });
  if (!values.key || !values.licensee) {
    process.stderr.write("issue needs --key PRIVATE_PEM and --licensee NAME\n");
    process.exit(2);
  }
  const now = Math.floor(Date.now() / 1000);
  const day = 86_400;
  const notBefore = now + Number(values["not-before-days"]) * day;
  const token = issueLicense(
    {
      id: values.id ?? `lic-${now}`,
      licensee: values.licensee,
      edition: "licensed",
      features: ["execute", "autoRollback"],
      issuedAt: now,
      notBefore: Math.min(notBefore, now + Number(values.days) * day - 1),
      expiresAt: now + Number(values.days) * day,
      ...(values["cluster-uid"] ? { clusterUID: values["cluster-uid"] } : {}),
    },
    readFileSync(values.key, "utf8"),
  );
  process.stdout.write(`${token}\n`);
} else {
  process.stderr.write("usage: node hack/license.ts keygen DIR | issue --key PRIVATE_PEM --licensee NAME [...]\n");
  process.exit(2);
}
