// Signed licenses. A token is "arf1.<payload>.<signature>", both parts
// base64url; the signature is Ed25519 (Node's crypto, nothing home-made) over
// the ASCII bytes "arf1.<payload>". Verification is offline against the
// vendor's public key, and pure: the clock and the cluster's identity are inputs.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const PREFIX = "arf1";

export const LicensePayload = z.strictObject({
  id: z.string().min(1).max(128),
  licensee: z.string().min(1).max(256),
  edition: z.literal("licensed"),
  features: z.array(z.enum(["execute", "autoRollback"])).max(16),
  issuedAt: z.number().int(),
  notBefore: z.number().int(),
  expiresAt: z.number().int(),
  /** UID of the kube-system namespace of the one cluster the license is bound to. */
  clusterUID: z.string().max(64).optional(),
});
export type LicensePayload = z.infer<typeof LicensePayload>;

export type LicenseState =
  | { state: "Valid"; license: LicensePayload }
  | {
      state: "Missing" | "Malformed" | "Tampered" | "Expired" | "NotYetValid" | "WrongCluster" | "NoPublicKey";
      reason: string;
    };

export function generateKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return {
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

export function issueLicense(payload: LicensePayload, privateKeyPem: string): string {
  const body = `${PREFIX}.${Buffer.from(JSON.stringify(LicensePayload.parse(payload))).toString("base64url")}`;
  const signature = sign(null, Buffer.from(body), createPrivateKey(privateKeyPem));
  return `${body}.${signature.toString("base64url")}`;
}

/** Parses an Ed25519 public key (PEM); any other key type is refused, not silently accepted. */
export function parsePublicKey(pem: string): KeyObject {
  // Node derives a public key from a private PEM; refuse one, so the signing key never ends up in configuration.
  if (pem.includes("PRIVATE KEY")) {
    throw new Error("this is a private key: give the public key; the private key must never reach the operator");
  }
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ed25519") {
    throw new Error(`an Ed25519 public key is required, this is ${key.asymmetricKeyType ?? "not an asymmetric key"}`);
  }
  return key;
}

/** The vendor's public key, shipped in the image beside this file: the default every license is verified against. */
export const VENDOR_PUBLIC_KEY_PATH = fileURLToPath(new URL("./vendor-public-key.pem", import.meta.url));

export interface LicensePublicKey {
  key: KeyObject;
  /** "vendor" (shipped in the image) or "override" (an explicit, unsafe setting). */
  source: "vendor" | "override";
  /** SHA-256 of the key's DER encoding: which key is in use, without the key itself. */
  fingerprint: string;
}

/**
 * The key licenses are verified against: the vendor's, unless the override (PEM
 * text or a PEM file's path) is set. Throws, naming the cause, on a bad key.
 */
export function licensePublicKey(override: string | undefined, readFile = readFileSync): LicensePublicKey {
  const source = override ? "override" : "vendor";
  const pem = override
    ? override.includes("-----BEGIN")
      ? override
      : readFile(override, "utf8")
    : readFile(VENDOR_PUBLIC_KEY_PATH, "utf8");
  const key = parsePublicKey(pem);
  const fingerprint = createHash("sha256")
    .update(key.export({ type: "spki", format: "der" }))
    .digest("hex");
  return { key, source, fingerprint };
}

export function verifyLicense(
  token: string | undefined,
  publicKey: KeyObject | undefined,
  clusterUID: string | undefined,
  now: Date,
): LicenseState {
  if (!publicKey) return { state: "NoPublicKey", reason: "no license public key is loaded" };
  if (token === undefined || token.trim() === "") return { state: "Missing", reason: "no license token found" };
  const parts = token.trim().split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX) {
    return { state: "Malformed", reason: `the token is not of the form ${PREFIX}.<payload>.<signature>` };
  }
  const [prefix, payloadPart, signaturePart] = parts as [string, string, string];
  let signatureOk = false;
  try {
    signatureOk = verify(
      null,
      Buffer.from(`${prefix}.${payloadPart}`),
      publicKey,
      Buffer.from(signaturePart, "base64url"),
    );
  } catch {
    signatureOk = false;
  }
  if (!signatureOk)
    return { state: "Tampered", reason: "the signature does not match the payload and the configured public key" };
  let payload: LicensePayload;
  try {
    const parsed = LicensePayload.safeParse(JSON.parse(Buffer.from(payloadPart, "base64url").toString("utf8")));
    if (!parsed.success)
      return { state: "Malformed", reason: `the payload is invalid: ${parsed.error.issues[0]?.message}` };
    payload = parsed.data;
  } catch {
    return { state: "Malformed", reason: "the payload is not JSON" };
  }
  const seconds = Math.floor(now.getTime() / 1000);
  if (seconds < payload.notBefore) {
    return {
      state: "NotYetValid",
      reason: `the license is valid from ${new Date(payload.notBefore * 1000).toISOString()}`,
    };
  }
  if (seconds >= payload.expiresAt) {
    return { state: "Expired", reason: `the license expired at ${new Date(payload.expiresAt * 1000).toISOString()}` };
  }
  if (payload.clusterUID !== undefined && payload.clusterUID !== clusterUID) {
    return {
      state: "WrongCluster",
      reason: `the license is bound to another cluster (kube-system UID ${payload.clusterUID})`,
    };
  }
  if (!payload.features.includes("execute"))
    return { state: "Malformed", reason: "the license does not grant the execute feature" };
  return { state: "Valid", license: payload };
}
