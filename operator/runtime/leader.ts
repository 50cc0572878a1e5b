// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules:
// a holder is alive while its lease was renewed within leaseDuration *as
// observed locally* (never trusting remote clocks); writes use optimistic
// concurrency, so a 409 means another replica won. A leader that cannot renew
// within renewDeadline stops leading at once.
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Clock } from "./clock.ts";

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface StoredLease {
  record: LeaseRecord;
  resourceVersion: string;
}

/** The small slice of the API the elector needs; a 409 must surface as ConflictError. */
export interface LeaseClient {
  get(): Promise<StoredLease | undefined>;
  create(record: LeaseRecord): Promise<StoredLease>;
  update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
}

export class ConflictError extends Error {}

export interface ElectorOptions {
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private observed?: StoredLease;
  private observedAt = 0;
  private lastRenew = 0;
  private loop?: Promise<void>;
  private wake?: () => void;

  private readonly client: LeaseClient;
  private readonly options: ElectorOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly callbacks: { onStartedLeading(): void; onStoppedLeading(): void };

  constructor(
    client: LeaseClient,
    options: ElectorOptions,
    clock: Clock,
    log: Logger,
    callbacks: { onStartedLeading(): void; onStoppedLeading(): void },
  ) {
    this.client = client;
    this.options = options;
    this.clock = clock;
    this.log = log;
    this.callbacks = callbacks;
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops campaigning and, when leading, releases the lease so a successor need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.setLeading(false);
      await this.release();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const ok = await this.tryAcquireOrRenew().catch((error) => {
        this.log.warn({ err: String(error) }, "leader election: lease update failed");
        return false;
      });
      const now = this.clock.now().getTime();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) this.setLeading(true);
      } else if (this.leading && now - this.lastRenew >= this.options.renewDeadlineMs) {
        this.log.error("leader election: could not renew the lease within the renew deadline; stopping");
        this.setLeading(false);
      }
      await this.sleep(this.options.retryPeriodMs);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const mine: LeaseRecord = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    const current = await this.client.get();
    if (!current) {
      try {
        this.remember(await this.client.create(mine));
        return true;
      } catch (error) {
        if (error instanceof ConflictError) return false;
        throw error;
      }
    }
    if (this.observed?.resourceVersion !== current.resourceVersion) this.remember(current);
    const holder = current.record.holderIdentity ?? "";
    const heldByOther = holder !== "" && holder !== this.options.identity;
    const durationMs = (current.record.leaseDurationSeconds ?? 0) * 1000;
    if (heldByOther && this.observedAt + durationMs > now.getTime()) return false;

    const record: LeaseRecord =
      holder === this.options.identity
        ? { ...current.record, renewTime: mine.renewTime, leaseDurationSeconds: mine.leaseDurationSeconds }
        : { ...mine, leaseTransitions: (current.record.leaseTransitions ?? 0) + 1 };
    try {
      this.remember(await this.client.update(record, current.resourceVersion));
      return true;
    } catch (error) {
      if (error instanceof ConflictError) return false;
      throw error;
    }
  }

  private async release(): Promise<void> {
    try {
      const current = await this.client.get();
      if (!current || current.record.holderIdentity !== this.options.identity) return;
      await this.client.update(
        { ...current.record, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(this.clock.now()) },
        current.resourceVersion,
      );
      this.log.info("leader election: released the lease");
    } catch (error) {
      this.log.warn({ err: String(error) }, "leader election: could not release the lease; it will expire");
    }
  }

  private remember(lease: StoredLease): void {
    this.observed = lease;
    this.observedAt = this.clock.now().getTime();
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.log.info({ identity: this.options.identity, leading }, leading ? "became leader" : "stopped leading");
    if (leading) this.callbacks.onStartedLeading();
    else this.callbacks.onStoppedLeading();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(resolve, ms);
      this.wake = () => {
        timer.cancel();
        resolve();
      };
    });
  }
}

export function kubeLeaseClient(kc: k8s.KubeConfig, namespace: string, name: string): LeaseClient {
  const api = kc.makeApiClient(k8s.CoordinationV1Api);
  const toStored = (lease: k8s.V1Lease): StoredLease => ({
    record: (lease.spec ?? {}) as LeaseRecord,
    resourceVersion: lease.metadata?.resourceVersion ?? "",
  });
  // MicroTime fields are passed as strings: client-node would serialise a Date
  // with three fractional digits, which the API server rejects.
  const body = (record: LeaseRecord, resourceVersion?: string) =>
    ({ metadata: { name, namespace, resourceVersion }, spec: record }) as unknown as k8s.V1Lease;
  const conflict = (error: unknown) => {
    if (error instanceof k8s.ApiException && error.code === 409) throw new ConflictError("lease changed concurrently");
    throw error;
  };
  return {
    async get() {
      try {
        return toStored(await api.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if (error instanceof k8s.ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
    create: (record) => api.createNamespacedLease({ namespace, body: body(record) }).then(toStored, conflict),
    update: (record, resourceVersion) =>
      api.replaceNamespacedLease({ name, namespace, body: body(record, resourceVersion) }).then(toStored, conflict),
  };
}
