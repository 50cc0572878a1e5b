// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules:
// a holder is alive while its lease was renewed within leaseDuration *as
// observed locally* (never trusting remote clocks); writes use optimistic
// concurrency, so a 409 means another replica won.
//
// A leader that may have lost its lease never acts:
// - every lease request is bounded by requestTimeoutMs (below renewDeadline),
//   and a request that times out is a failed renew;
// - leadership lasts renewDeadline from when the last successful renew was
//   *sent*, measured on the monotonic clock; isLeader() computes this itself,
//   so it turns false on time even while the renew loop waits on a hung
//   request, and a watchdog timer fires onStoppedLeading at that moment.
// Another replica takes over only after leaseDuration (> renewDeadline) without
// seeing the lease change, so the two leadership periods never overlap.
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

/**
 * The small slice of the API the elector needs; a 409 must surface as
 * ConflictError. The signal is aborted when the elector gives up on a request.
 */
export interface LeaseClient {
  get(signal?: AbortSignal): Promise<StoredLease | undefined>;
  create(record: LeaseRecord, signal?: AbortSignal): Promise<StoredLease>;
  update(record: LeaseRecord, resourceVersion: string, signal?: AbortSignal): Promise<StoredLease>;
}

export class ConflictError extends Error {
  override name = "ConflictError";
}

/** A lease request that did not answer within requestTimeoutMs. */
export class LeaseTimeoutError extends Error {
  override name = "LeaseTimeoutError";
}

/** Thrown by LeadershipGuard.assertLeader() when this replica is not (or may no longer be) the leader. */
export class NotLeaderError extends Error {
  override name = "NotLeaderError";
}

/** What code that writes on the leader's behalf checks, immediately before each write. */
export interface LeadershipGuard {
  isLeader(): boolean;
  /** Throws NotLeaderError unless this replica holds leadership right now. */
  assertLeader(): void;
}

/** A guard over an elector; without one (leader election disabled) the process always leads. */
export function leadershipGuard(elector: () => LeaderElector | undefined): LeadershipGuard {
  const isLeader = () => {
    const e = elector();
    return !e || e.isLeader();
  };
  return {
    isLeader,
    assertLeader() {
      if (!isLeader()) throw new NotLeaderError("not the leader (or the lease may have been lost): refusing to write");
    },
  };
}

export interface ElectorOptions {
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Bound on each get/create/update of the Lease; default half the renew deadline, always below it. */
  requestTimeoutMs?: number;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lost = false;
  private observed?: StoredLease;
  /** Monotonic time at which `observed` was first seen. */
  private observedAt = 0;
  /** Monotonic time at which the last successful acquire/renew request was sent. */
  private renewSentAt = Number.NEGATIVE_INFINITY;
  private watchdog?: { cancel(): void };
  private loop?: Promise<void>;
  private wake?: () => void;

  private readonly client: LeaseClient;
  private readonly options: ElectorOptions;
  private readonly requestTimeoutMs: number;
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
    this.requestTimeoutMs = Math.max(
      1,
      Math.min(options.requestTimeoutMs ?? options.renewDeadlineMs / 2, options.renewDeadlineMs - 1),
    );
    this.clock = clock;
    this.log = log;
    this.callbacks = callbacks;
  }

  /** True only while the last successful renew was sent less than renewDeadline ago (monotonic). */
  isLeader(): boolean {
    return this.leading && this.clock.monotonicMs() < this.leaseValidUntil();
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops campaigning and releases the lease if this replica holds it, so a successor need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.leading) this.setLeading(false);
    await this.release();
  }

  private leaseValidUntil(): number {
    return this.renewSentAt + this.options.renewDeadlineMs;
  }

  private async run(): Promise<void> {
    // Like client-go's elector, one that has lost leadership does not campaign again: its process restarts clean.
    while (!this.stopped && !this.lost) {
      const sentAt = await this.tryAcquireOrRenew().catch((error) => {
        this.log.warn({ err: String(error) }, "leader election: lease update failed");
        return undefined;
      });
      const now = this.clock.monotonicMs();
      // A success that took longer than the renew deadline proves nothing: by now another replica may lead.
      if (sentAt !== undefined && now < sentAt + this.options.renewDeadlineMs) {
        this.renewSentAt = Math.max(this.renewSentAt, sentAt);
        if (this.stopped || this.lost) break;
        this.armWatchdog();
        if (!this.leading) this.setLeading(true);
      } else if (this.leading && now >= this.leaseValidUntil()) {
        this.lose();
      }
      if (this.stopped || this.lost) break;
      await this.sleep(this.options.retryPeriodMs);
    }
  }

  /** Returns the monotonic time the successful write was sent, or undefined when this replica did not get the lease. */
  private async tryAcquireOrRenew(): Promise<number | undefined> {
    const now = this.clock.now();
    const mine: LeaseRecord = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    const current = await this.bounded("get", (signal) => this.client.get(signal));
    if (!current) {
      const sentAt = this.clock.monotonicMs();
      try {
        this.remember(await this.bounded("create", (signal) => this.client.create(mine, signal)));
        return sentAt;
      } catch (error) {
        if (error instanceof ConflictError) return undefined;
        throw error;
      }
    }
    if (this.observed?.resourceVersion !== current.resourceVersion) this.remember(current);
    const holder = current.record.holderIdentity ?? "";
    const heldByOther = holder !== "" && holder !== this.options.identity;
    const durationMs = (current.record.leaseDurationSeconds ?? 0) * 1000;
    if (heldByOther && this.observedAt + durationMs > this.clock.monotonicMs()) return undefined;

    const record: LeaseRecord =
      holder === this.options.identity
        ? { ...current.record, renewTime: mine.renewTime, leaseDurationSeconds: mine.leaseDurationSeconds }
        : { ...mine, leaseTransitions: (current.record.leaseTransitions ?? 0) + 1 };
    const sentAt = this.clock.monotonicMs();
    try {
      this.remember(
        await this.bounded("update", (signal) => this.client.update(record, current.resourceVersion, signal)),
      );
      return sentAt;
    } catch (error) {
      if (error instanceof ConflictError) return undefined;
      throw error;
    }
  }

  /** Runs one lease request, failing it (and aborting the call) after requestTimeoutMs. */
  private bounded<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    let timer: { cancel(): void } | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => {
        const error = new LeaseTimeoutError(`lease ${what} did not answer within ${this.requestTimeoutMs}ms`);
        abort.abort(error);
        reject(error);
      }, this.requestTimeoutMs);
    });
    return Promise.race([call(abort.signal), timeout]).finally(() => timer?.cancel());
  }

  private async release(): Promise<void> {
    try {
      const current = await this.bounded("get", (signal) => this.client.get(signal));
      if (!current || current.record.holderIdentity !== this.options.identity) return;
      await this.bounded("update", (signal) =>
        this.client.update(
          { ...current.record, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(this.clock.now()) },
          current.resourceVersion,
          signal,
        ),
      );
      this.log.info("leader election: released the lease");
    } catch (error) {
      this.log.warn({ err: String(error) }, "leader election: could not release the lease; it will expire");
    }
  }

  private remember(lease: StoredLease): void {
    this.observed = lease;
    this.observedAt = this.clock.monotonicMs();
  }

  /** Fires at the renew deadline even when the loop is stuck in a request, so onStoppedLeading is never late. */
  private armWatchdog(): void {
    this.watchdog?.cancel();
    const check = () => {
      if (!this.leading) return;
      const left = this.leaseValidUntil() - this.clock.monotonicMs();
      if (left > 0) this.watchdog = this.clock.setTimeout(check, Math.max(1, left));
      else this.lose();
    };
    this.watchdog = this.clock.setTimeout(check, Math.max(1, this.leaseValidUntil() - this.clock.monotonicMs()));
  }

  private lose(): void {
    if (!this.leading) return;
    this.lost = true;
    this.wake?.();
    this.log.error(
      { renewDeadlineMs: this.options.renewDeadlineMs },
      "leader election: could not renew the lease within the renew deadline; stopping",
    );
    this.setLeading(false);
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    if (!leading) this.watchdog?.cancel();
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
  // The elector's signal reaches fetch, so a request it gave up on is torn down rather than left to land later.
  const withSignal = (signal: AbortSignal | undefined): k8s.ConfigurationOptions | undefined =>
    signal && {
      middleware: [
        {
          pre: (context) => {
            context.setSignal(signal);
            return new k8s.Observable(Promise.resolve(context));
          },
          post: (context) => new k8s.Observable(Promise.resolve(context)),
        },
      ],
      middlewareMergeStrategy: "append",
    };
  return {
    async get(signal) {
      try {
        return toStored(await api.readNamespacedLease({ name, namespace }, withSignal(signal)));
      } catch (error) {
        if (error instanceof k8s.ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
    create: (record, signal) =>
      api.createNamespacedLease({ namespace, body: body(record) }, withSignal(signal)).then(toStored, conflict),
    update: (record, resourceVersion, signal) =>
      api
        .replaceNamespacedLease({ name, namespace, body: body(record, resourceVersion) }, withSignal(signal))
        .then(toStored, conflict),
  };
}
