import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  generateKeyPair,
  issueLicense,
  type LicensePayload,
  licensePublicKey,
  parsePublicKey,
  VENDOR_PUBLIC_KEY_PATH,
  verifyLicense,
} from "./license.ts";

const keys = generateKeyPair();
const otherKeys = generateKeyPair();
const publicKey = parsePublicKey(keys.publicKeyPem);
const now = new Date("2026-11-21T10:00:00Z");
const t = Math.floor(now.getTime() / 1000);
const payload = (overrides: Partial<LicensePayload> = {}): LicensePayload => ({
  id: "lic-1",
  licensee: "Acme",
  edition: "licensed",
  features: ["execute"],
  issuedAt: t - 100,
  notBefore: t - 100,
  expiresAt: t + 3600,
  ...overrides,
});
const token = (overrides: Partial<LicensePayload> = {}, key = keys.privateKeyPem) =>
  issueLicense(payload(overrides), key);

function tamper(valid: string): string {
  const [prefix, body, signature] = valid.split(".") as [string, string, string];
  const json = JSON.parse(Buffer.from(body, "base64url").toString());
  json.expiresAt += 10 * 365 * 86_400;
  return `${prefix}.${Buffer.from(JSON.stringify(json)).toString("base64url")}.${signature}`;
}

describe("verifyLicense", () => {
  it.each([
    ["a valid license", token(), "uid-1", "Valid"],
    ["a license bound to this cluster", token({ clusterUID: "uid-1" }), "uid-1", "Valid"],
    ["no token", undefined, "uid-1", "Missing"],
    ["an empty token", "  ", "uid-1", "Missing"],
    ["garbage", "not-a-license", "uid-1", "Malformed"],
    ["a tampered payload", tamper(token()), "uid-1", "Tampered"],
    ["a token signed by another key", token({}, otherKeys.privateKeyPem), "uid-1", "Tampered"],
    ["an expired license", token({ expiresAt: t - 1 }), "uid-1", "Expired"],
    ["a license not yet valid", token({ notBefore: t + 60 }), "uid-1", "NotYetValid"],
    ["a license for another cluster", token({ clusterUID: "uid-2" }), "uid-1", "WrongCluster"],
    ["a license without the execute feature", token({ features: [] }), "uid-1", "Malformed"],
  ])("%s -> %s", (_name, value, clusterUID, state) => {
    expect(verifyLicense(value, publicKey, clusterUID, now).state).toBe(state);
  });

  it("refuses everything without a configured public key", () => {
    expect(verifyLicense(token(), undefined, "uid-1", now).state).toBe("NoPublicKey");
  });

  it("never puts the token in its reasons", () => {
    for (const value of [tamper(token()), token({ expiresAt: t - 1 }), token({ clusterUID: "x" })]) {
      const result = verifyLicense(value, publicKey, "uid-1", now);
      expect(JSON.stringify(result)).not.toContain(value.split(".")[2]);
    }
  });
});

describe("licensePublicKey", () => {
  it("defaults to the vendor key shipped beside the code", () => {
    const vendor = licensePublicKey(undefined);
    expect(vendor.source).toBe("vendor");
    expect(vendor.key.export({ type: "spki", format: "pem" })).toBe(readFileSync(VENDOR_PUBLIC_KEY_PATH, "utf8"));
    // A license signed by a test key is not valid against the vendor's key.
    expect(verifyLicense(token(), vendor.key, undefined, now).state).toBe("Tampered");
  });

  it("takes an override as PEM text or a file, and names it as such with a fingerprint", () => {
    const inline = licensePublicKey(keys.publicKeyPem);
    const fromFile = licensePublicKey("/keys/public.pem", ((path: string) => {
      expect(path).toBe("/keys/public.pem");
      return keys.publicKeyPem;
    }) as never);
    expect(inline.source).toBe("override");
    expect(fromFile.fingerprint).toBe(inline.fingerprint);
    expect(inline.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(inline.fingerprint).not.toBe(licensePublicKey(undefined).fingerprint);
    expect(verifyLicense(token(), inline.key, undefined, now).state).toBe("Valid");
  });

  it("refuses a private key given where the public key belongs", () => {
    expect(() => licensePublicKey(keys.privateKeyPem)).toThrow(/this is a private key/);
  });

  it("refuses a key that is not Ed25519", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" });
    expect(() => licensePublicKey(rsa.toString())).toThrow(/Ed25519 public key is required, this is rsa/);
  });
});
