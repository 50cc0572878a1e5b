// Follows the license Secret: re-reads it (and re-checks expiry) an interval
// after each check completes (never two at once, and a stale result never
// overrides a newer one), so a new, renewed or removed license takes effect
// without a restart. Each change of state is logged, recorded as an Event on the Secret
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

/** A check's read: a verdict, or the error that kept it from reading the Secret. */
type Reading = { next: LicenseState } | { error: unknown };

export class LicenseManager {
  private state: LicenseState = { state: "Missing", reason: "not checked yet" };
  private timer?: { cancel(): void };
  private stopped = false;
  /** Checks are numbered as they start; a result older than one already applied is dropped. */
  private started = 0;
  private applied = 0;
  /** Results are applied one at a time, in order, so onChange calls never interleave. */
  private applying: Promise<void> = Promise.resolve();
  private readonly source: LicenseSource | undefined;
  private readonly publicKey: KeyObject | undefined;
  private readonly secretRef: { namespace: string; name: string } | undefined;
  private readonly deps: { clock: Clock; log: Logger; metrics: OperatorMetrics; events: EventRecorder };
  private readonly onChange: (state: LicenseState) => Promise<void> | void;
  /** A read that takes longer is treated as a failed read (a valid license is kept until it expires). */
  readonly readTimeoutMs: number;

  constructor(
    source: LicenseSource | undefined,
    publicKey: KeyObject | undefined,
    secretRef: { namespace: string; name: string } | undefined,
    deps: { clock: Clock; log: Logger; metrics: OperatorMetrics; events: EventRecorder },
    onChange: (state: LicenseState) => Promise<void> | void,
    readTimeoutMs = 10_000,
  ) {
    this.source = source;
    this.publicKey = publicKey;
    this.secretRef = secretRef;
    this.deps = deps;
    this.onChange = onChange;
    this.readTimeoutMs = readTimeoutMs;
  }

  current(): LicenseState {
    return this.state;
  }

  /**
   * Checks now, then again intervalMs after each check has finished: checks
   * never overlap, so a slow one cannot land after (and undo) a newer one.
   */
  async start(intervalMs: number): Promise<void> {
    this.stopped = false;
    await this.check();
    this.scheduleNext(intervalMs);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private scheduleNext(intervalMs: number): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.check()
        .catch((error) => this.deps.log.warn({ err: String(error) }, "license check failed"))
        .finally(() => this.scheduleNext(intervalMs));
    }, intervalMs);
  }

  async check(): Promise<void> {
    const seq = ++this.started;
    const reading = await this.read();
    const applying = this.applying.then(() => this.apply(seq, reading));
    this.applying = applying.catch(() => undefined);
    await applying;
  }

  private async read(): Promise<Reading> {
    if (!this.source) {
      return {
        next: {
          state: "Missing",
          reason: "no license Secret is configured (--license-secret); running the OSS edition",
        },
      };
    }
    const source = this.source;
    let timer: { cancel(): void } | undefined;
    try {
      const [token, clusterUID] = await Promise.race([
        Promise.all([source.token(), source.clusterUID()]),
        new Promise<never>((_, reject) => {
          timer = this.deps.clock.setTimeout(
            () => reject(new Error(`no answer within ${this.readTimeoutMs}ms`)),
            this.readTimeoutMs,
          );
        }),
      ]);
      return { next: verifyLicense(token, this.publicKey, clusterUID, this.deps.clock.now()) };
    } catch (error) {
      return { error };
    } finally {
      timer?.cancel();
    }
  }

  private async apply(seq: number, reading: Reading): Promise<void> {
    if (seq < this.applied) {
      this.deps.log.debug(
        { check: seq, applied: this.applied },
        "license check result is older than the state in force; ignored",
      );
      return;
    }
    this.applied = seq;
    let next: LicenseState;
    if ("error" in reading) {
      const { error } = reading;
      // Cannot read it now: keep a valid license until it would expire, rather than flap on a blip.
      if (this.state.state === "Valid" && this.state.license.expiresAt * 1000 > this.deps.clock.now().getTime()) return;
      next = {
        state: "Missing",
        reason: `cannot read the license Secret: ${error instanceof Error ? error.message : String(error)}`,
      };
    } else {
      next = reading.next;
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
