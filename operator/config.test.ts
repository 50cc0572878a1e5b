import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./log.ts";

describe("loadConfig", () => {
  it("applies defaults", () => {
    const config = loadConfig([], {});
    expect(config).toMatchObject({
      workers: 8,
      leaderElect: true,
      leaseDuration: 15_000,
      renewDeadline: 10_000,
      retryPeriod: 2_000,
    });
  });

  it("reads flags in both forms, and flags beat the environment", () => {
    const config = loadConfig(["--workers=4", "--lease-duration", "30s", "--leader-elect", "false"], {
      ARF_WORKERS: "8",
      ARF_HTTP_PORT: "9090",
    });
    expect(config).toMatchObject({ workers: 4, leaseDuration: 30_000, leaderElect: false, httpPort: 9090 });
  });

  it.each([
    [["--workers=0"], {}, "invalid setting --workers (ARF_WORKERS): must be at least 1"],
    [[], { ARF_WORKERS: "many" }, "invalid setting --workers (ARF_WORKERS): must be a number"],
    [
      ["--lease-duration=soon"],
      {},
      "invalid setting --lease-duration (ARF_LEASE_DURATION): must be a positive Go duration",
    ],
    [["--leader-elect=maybe"], {}, "invalid setting --leader-elect (ARF_LEADER_ELECT): must be true or false"],
    [["--frobnicate"], {}, "unknown flag --frobnicate"],
    [["--renew-deadline=20s"], {}, "--renew-deadline (ARF_RENEW_DEADLINE): must be shorter than --lease-duration"],
    [
      ["--license-secret=just-a-name"],
      {},
      "invalid setting --license-secret (ARF_LICENSE_SECRET): must be NAMESPACE/NAME",
    ],
    // The removed setting that replaced the vendor key quietly is refused by name, as a flag or in the environment.
    [["--license-public-key=/k.pem"], {}, "--license-public-key (ARF_LICENSE_PUBLIC_KEY) was removed"],
    [["--license-public-key", "/k.pem"], {}, "set --unsafe-license-public-key-override"],
    [[], { ARF_LICENSE_PUBLIC_KEY: "x" }, "--license-public-key (ARF_LICENSE_PUBLIC_KEY) was removed"],
  ] as const)("rejects %j %j with a message naming the setting", (argv, env, message) => {
    expect(() => loadConfig([...argv], env)).toThrow(ConfigError);
    expect(() => loadConfig([...argv], env)).toThrow(message);
  });

  it("takes the license key override under its own, loud name", () => {
    expect(loadConfig(["--unsafe-license-public-key-override=/k.pem"], {}).unsafeLicensePublicKeyOverride).toBe(
      "/k.pem",
    );
    expect(loadConfig([], { ARF_UNSAFE_LICENSE_PUBLIC_KEY_OVERRIDE: "/k.pem" }).unsafeLicensePublicKeyOverride).toBe(
      "/k.pem",
    );
    expect(loadConfig([], {}).unsafeLicensePublicKeyOverride).toBeUndefined();
  });

  it("reports every bad setting at once", () => {
    const error = (() => {
      try {
        loadConfig(["--workers=0", "--http-port=70000"], {});
      } catch (e) {
        return String(e);
      }
    })();
    expect(error).toContain("--workers (ARF_WORKERS): must be at least 1");
    expect(error).toContain("--http-port (ARF_HTTP_PORT): must be at most 65535");
  });
});

describe("logger", () => {
  it("redacts tokens, license tokens, authorization headers and secret data", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger("info", sink);
    log.info(
      {
        token: "tok-1",
        license: { token: "lic-2" },
        headers: { authorization: "Bearer tok-3" },
        secret: { data: { license: "lic-4" } },
      },
      "x",
    );
    log.child({ reconcileID: "r" }).info({ config: { licenseToken: "lic-5" } }, "y");
    const out = lines.join("");
    for (const secret of ["tok-1", "lic-2", "tok-3", "lic-4", "lic-5"]) expect(out).not.toContain(secret);
    expect(out).toContain("[REDACTED]");
  });
});
