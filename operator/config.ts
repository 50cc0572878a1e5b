// Operator settings from flags (--name=value or --name value) and environment
// (ARF_NAME), validated by zod. Flags win over environment. A bad setting is
// reported by its flag and variable name, with what is expected.
import { hostname } from "node:os";
import { z } from "zod";
import { parseDuration } from "./lib/duration.ts";

const durationMs = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: "custom", message: "must be a positive Go duration such as 15s or 2m" });
        return z.NEVER;
      }
      return ms;
    });

const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"], { message: "must be true or false" })
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1");

const int = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ message: "must be a number" })
    .int("must be an integer")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

export const ConfigSchema = z.strictObject({
  kubeconfig: z.string().optional(),
  context: z.string().optional(),
  httpHost: z.string().default("0.0.0.0"),
  httpPort: int(8080, 0, 65535),
  // Reconciles wait on the API server, not the CPU: several run at once (one per key; actions are serialised per target).
  workers: int(8, 1, 64),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"),
  watchNamespace: z.string().optional(),
  leaderElect: bool(true),
  leaderElectionNamespace: z
    .string()
    .min(1)
    .default(process.env.POD_NAMESPACE ?? "arf-system"),
  leaderElectionId: z.string().min(1).default("arf-operator"),
  leaseDuration: durationMs("15s"),
  renewDeadline: durationMs("10s"),
  retryPeriod: durationMs("2s"),
  identity: z.string().min(1).default(`${hostname()}-${process.pid}`),
  shutdownTimeout: durationMs("30s"),
  staleWatchTimeout: durationMs("5m"),
  prometheusUrl: z.url().optional(),
  /** How long a Prometheus query may take before the measurement counts as an Error. */
  prometheusTimeout: durationMs("5s"),
  licenseSecret: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, "must be NAMESPACE/NAME")
    .optional(),
  /** A Secret with the bearer token ("token") and CA bundle ("ca.crt") for Prometheus. */
  prometheusAuthSecret: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, "must be NAMESPACE/NAME")
    .optional(),
  /**
   * Replaces the vendor's Ed25519 public key (shipped in the image) with another:
   * PEM text, or the path of a PEM file. Whoever holds the matching private key
   * can then issue licenses, so the name says it; the operator logs a warning
   * at start and reports the key's fingerprint in arf_license_public_key_info.
   */
  unsafeLicensePublicKeyOverride: z.string().optional(),
  licenseCheckInterval: durationMs("10s"),
  /** Test-only fault injection; never set in production. */
  faultInjection: z.enum(["none", "crash-after-action"]).default("none"),
});
export type Config = z.infer<typeof ConfigSchema>;

const toFlag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
const toEnv = (key: string) => `ARF_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

export class ConfigError extends Error {}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const keys = Object.keys(ConfigSchema.shape);
  const byFlag = new Map(keys.map((key) => [toFlag(key), key]));
  const raw: Record<string, string> = {};
  for (const key of keys) {
    const value = env[toEnv(key)];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  if (raw.kubeconfig === undefined && env.KUBECONFIG) raw.kubeconfig = env.KUBECONFIG;
  const errors: string[] = [];
  // The old setting replaced the vendor key without saying so; refuse it by name rather than ignore it.
  if (env.ARF_LICENSE_PUBLIC_KEY !== undefined || argv.some((arg) => arg.split("=")[0] === "--license-public-key")) {
    errors.push(
      "--license-public-key (ARF_LICENSE_PUBLIC_KEY) was removed: the vendor's key ships in the image; " +
        "to replace it, set --unsafe-license-public-key-override (ARF_UNSAFE_LICENSE_PUBLIC_KEY_OVERRIDE)",
    );
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const key = byFlag.get(flag);
    if (flag === "--license-public-key") {
      if (inline === undefined && argv[i + 1] !== undefined && !argv[i + 1]?.startsWith("--")) i++;
      continue;
    }
    if (!key) {
      errors.push(`unknown flag ${flag}`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      // A boolean flag may stand alone: --leader-elect means true.
      if (next === undefined || next.startsWith("--")) value = "true";
      else value = argv[++i];
    }
    raw[key] = value as string;
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0]);
      errors.push(`invalid setting ${toFlag(key)} (${toEnv(key)}): ${issue.message}`);
    }
  }
  if (errors.length > 0) throw new ConfigError(errors.join("\n"));
  const config = result.data as Config;
  if (config.renewDeadline >= config.leaseDuration) {
    throw new ConfigError(
      "invalid setting --renew-deadline (ARF_RENEW_DEADLINE): must be shorter than --lease-duration",
    );
  }
  if (config.retryPeriod >= config.renewDeadline) {
    throw new ConfigError("invalid setting --retry-period (ARF_RETRY_PERIOD): must be shorter than --renew-deadline");
  }
  return config;
}
