// Follows the license Secret: re-reads it (and re-checks expiry) every
// interval, so a new, renewed or removed license takes effect without a
// restart. Each change of state is logged, recorded as an Event on the Secret
// and exported as metrics. The token itself never leaves this module.
import type { KeyObject } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { EventRecorder } from "../kube/gateway.ts";
import type { OperatorMetrics } from "../metrics.ts";
import type { Clock } from "../runtime/clock.ts";
import { type LicenseState, verifyLicense } from "./license.ts";

export interface LicenseSource {
  /** The token, or undefined when the Secret or its key is absent. */
  token(): Promise<string | undefined>;
  /** The UID of the kube-system namespace, which identifies the cluster. */
  clusterUID(): Promise<string | undefined>;
}

export function secretLicenseSource(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  key = "license",
): LicenseSource {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let uid: string | undefined;
  return {
    async token() {
      try {
        const secret = await core.readNamespacedSecret({ namespace, name });
        const value = secret.data?.[key];
        return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
      } catch (error) {
        if (error instanceof k8s.ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
    async clusterUID() {
      uid ??= (await core.readNamespace({ name: "kube-system" })).metadata?.uid;
      return uid;
    },
  };
}

export class LicenseManager {
  private state: LicenseState = { state: "Missing", reason: "not checked yet" };
  private timer?: ReturnType<typeof setInterval>;
  private readonly source: LicenseSource | undefined;
  private readonly publicKey: KeyObject | undefined;
  private readonly secretRef: { namespace: string; name: string } | undefined;
  private readonly deps: { clock: Clock; log: Logger; metrics: OperatorMetrics; events: EventRecorder };
  private readonly onChange: (state: LicenseState) => Promise<void> | void;

  constructor(
    source: LicenseSource | undefined,
    publicKey: KeyObject | undefined,
    secretRef: { namespace: string; name: string } | undefined,
    deps: { clock: Clock; log: Logger; metrics: OperatorMetrics; events: EventRecorder },
    onChange: (state: LicenseState) => Promise<void> | void,
  ) {
    this.source = source;
    this.publicKey = publicKey;
    this.secretRef = secretRef;
    this.deps = deps;
    this.onChange = onChange;
  }

  current(): LicenseState {
    return this.state;
  }

  async start(intervalMs: number): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async check(): Promise<void> {
    let next: LicenseState;
    if (!this.source) {
      next = {
        state: "Missing",
        reason: "no license Secret is configured (--license-secret); running the OSS edition",
      };
    } else {
      try {
        const [token, clusterUID] = await Promise.all([this.source.token(), this.source.clusterUID()]);
        next = verifyLicense(token, this.publicKey, clusterUID, this.deps.clock.now());
      } catch (error) {
        // Cannot read it now: keep a valid license until it would expire, rather than flap on a blip.
        if (this.state.state === "Valid" && this.state.license.expiresAt * 1000 > this.deps.clock.now().getTime())
          return;
        next = {
          state: "Missing",
          reason: `cannot read the license Secret: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
    }
    const { metrics } = this.deps;
    metrics.licenseValid.set(next.state === "Valid" ? 1 : 0);
    if (next.state === "Valid") metrics.licenseExpiry.set(next.license.expiresAt);
    else metrics.licenseExpiry.set(0);
    const changed =
      next.state !== this.state.state ||
      (next.state === "Valid" && this.state.state === "Valid" && next.license.id !== this.state.license.id);
    this.state = next;
    if (!changed) return;
    const summary =
      next.state === "Valid"
        ? {
            licenseState: next.state,
            licensee: next.license.licensee,
            licenseId: next.license.id,
            expiresAt: new Date(next.license.expiresAt * 1000).toISOString(),
          }
        : { licenseState: next.state, reason: next.reason };
    if (next.state === "Valid") this.deps.log.info(summary, "license verified: licensed edition");
    else this.deps.log.warn(summary, "no valid license: OSS edition (advisory only)");
    if (this.secretRef) {
      await this.deps.events
        .record(
          { kind: "Secret", apiVersion: "v1", namespace: this.secretRef.namespace, name: this.secretRef.name },
          next.state === "Valid" ? "Normal" : "Warning",
          next.state === "Valid" ? "LicenseValid" : `License${next.state}`,
          next.state === "Valid" ? `licensed to ${next.license.licensee} until ${summary.expiresAt}` : next.reason,
        )
        .catch((error) => this.deps.log.warn({ err: String(error) }, "could not record the license event"));
    }
    // Awaited, so the edition has switched before anyone acts on the new state.
    await this.onChange(next);
  }
}
