import pino from "pino";
import { describe, expect, it } from "vitest";
import { OperatorMetrics } from "../metrics.ts";
import { Controller } from "./controller.ts";
import { FakeClock } from "./fake-clock.ts";
import {
  ConflictError,
  LeaderElector,
  type LeaseClient,
  type LeaseRecord,
  leadershipGuard,
  microTime,
  NotLeaderError,
  type StoredLease,
} from "./leader.ts";

/** An in-memory Lease with the API server's optimistic concurrency. */
class MemoryLease implements LeaseClient {
  stored?: StoredLease;
  private version = 0;
  failing = false;
  async get() {
    if (this.failing) throw new Error("connection refused");
    return this.stored && structuredClone(this.stored);
  }
  async create(record: LeaseRecord) {
    if (this.failing) throw new Error("connection refused");
    if (this.stored) throw new ConflictError("exists");
    this.stored = { record, resourceVersion: String(++this.version) };
    return structuredClone(this.stored);
  }
  async update(record: LeaseRecord, resourceVersion: string) {
    if (this.failing) throw new Error("connection refused");
    if (this.stored?.resourceVersion !== resourceVersion) throw new ConflictError("conflict");
    this.stored = { record, resourceVersion: String(++this.version) };
    return structuredClone(this.stored);
  }
}

/**
 * A Lease behind a connection that can stall: while `hang` is set, every
 * update is sent but never answered (its signal is recorded); `delayMs` makes
 * updates slow but successful.
 */
class StallingLease extends MemoryLease {
  hang = false;
  delayMs = 0;
  updatesSent = 0;
  readonly signals: AbortSignal[] = [];
  /** Completes the hung updates later (as a healed connection would): they reach the server then. */
  readonly hung: Array<() => void> = [];
  private readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    super();
    this.clock = clock;
  }
  override async update(record: LeaseRecord, resourceVersion: string, signal?: AbortSignal) {
    this.updatesSent++;
    if (signal) this.signals.push(signal);
    if (this.hang) {
      return new Promise<StoredLease>((resolve, reject) =>
        this.hung.push(() => super.update(record, resourceVersion).then(resolve, reject)),
      );
    }
    if (this.delayMs > 0) {
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.delayMs));
    }
    return super.update(record, resourceVersion);
  }
}

const options = (identity: string) => ({
  identity,
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
});
/** Lets every pending promise chain settle (setImmediate runs only once the microtask queue is empty). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function elector(lease: LeaseClient, clock: FakeClock, identity: string) {
  const events: string[] = [];
  const e = new LeaderElector(lease, options(identity), clock, pino({ level: "silent" }), {
    onStartedLeading: () => events.push("started"),
    onStoppedLeading: () => events.push("stopped"),
  });
  return { e, events };
}

async function tick(clock: FakeClock, ms: number) {
  for (let elapsed = 0; elapsed < ms; elapsed += 500) {
    await flush();
    clock.advance(500);
    await flush();
  }
}

describe("LeaderElector", () => {
  it("formats MicroTime with six fractional digits", () => {
    expect(microTime(new Date("2026-11-21T10:00:00.123Z"))).toBe("2026-11-21T10:00:00.123000Z");
  });

  it("lets exactly one of two candidates lead", async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = elector(lease, clock, "a");
    const b = elector(lease, clock, "b");
    a.e.start();
    b.e.start();
    await tick(clock, 10_000);
    expect([a.e.isLeader(), b.e.isLeader()].filter(Boolean)).toHaveLength(1);
  });

  it("hands over only after the holder's lease expires, as observed locally", async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = elector(lease, clock, "a");
    a.e.start();
    await tick(clock, 1000);
    expect(a.e.isLeader()).toBe(true);
    // "a" dies silently: it stops renewing but never releases.
    (a.e as any).stopped = true;
    const b = elector(lease, clock, "b");
    b.e.start();
    await tick(clock, 12_000);
    expect(b.e.isLeader()).toBe(false);
    await tick(clock, 6_000);
    expect(b.e.isLeader()).toBe(true);
    expect(lease.stored?.record).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
  });

  it("stops leading when it cannot renew within the renew deadline", async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = elector(lease, clock, "a");
    a.e.start();
    await tick(clock, 1000);
    lease.failing = true;
    await tick(clock, 8_000);
    expect(a.e.isLeader()).toBe(true);
    await tick(clock, 4_000);
    expect(a.e.isLeader()).toBe(false);
    expect(a.events).toEqual(["started", "stopped"]);
  });

  it("releases the lease on stop so a successor takes over at once", async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = elector(lease, clock, "a");
    a.e.start();
    await tick(clock, 1000);
    const stopping = a.e.stop();
    await tick(clock, 1000);
    await stopping;
    expect(lease.stored?.record.holderIdentity).toBe("");
    const b = elector(lease, clock, "b");
    b.e.start();
    await tick(clock, 2500);
    expect(b.e.isLeader()).toBe(true);
  });

  it("stops leading at the renew deadline while a renew request hangs, and says so on time", async () => {
    const clock = new FakeClock();
    const lease = new StallingLease(clock);
    const a = elector(lease, clock, "a");
    a.e.start(); // acquires at t=0
    await tick(clock, 2000); // renews at t=2000 (the last one sent that succeeds)
    expect(lease.updatesSent).toBe(1);
    lease.hang = true; // from now on no renew is ever answered
    await tick(clock, 9_500); // t=11_500
    expect(a.e.isLeader()).toBe(true);
    await tick(clock, 500); // t=12_000 = last successful renew sent (2000) + renewDeadline (10_000)
    expect(a.e.isLeader()).toBe(false);
    expect(a.events).toEqual(["started", "stopped"]);
  });

  it("isLeader() turns false at the deadline by itself, even when no timer has run (a blocked event loop)", async () => {
    const clock = new FakeClock();
    const lease = new StallingLease(clock);
    const a = elector(lease, clock, "a");
    a.e.start();
    await tick(clock, 2000);
    lease.hang = true;
    clock.advanceWithoutTimers(9_999); // t=11_999
    expect(a.e.isLeader()).toBe(true);
    clock.advanceWithoutTimers(1);
    expect(a.e.isLeader()).toBe(false);
    expect(leadershipGuard(() => a.e).isLeader()).toBe(false);
    expect(() => leadershipGuard(() => a.e).assertLeader()).toThrow(NotLeaderError);
    // The callback fires once the timers run again.
    expect(a.events).toEqual(["started"]);
    await tick(clock, 500);
    expect(a.events).toEqual(["started", "stopped"]);
  });

  it("times out a hung request as a failed renew, aborts it, and ignores its late answer", async () => {
    const clock = new FakeClock();
    const lease = new StallingLease(clock);
    const a = elector(lease, clock, "a");
    a.e.start();
    await tick(clock, 1000);
    lease.hang = true;
    await tick(clock, 1000); // t=2000: an update is sent and hangs
    expect(lease.updatesSent).toBe(1);
    const first = lease.signals[0] as AbortSignal;
    await tick(clock, 4_500);
    expect(first.aborted).toBe(false);
    await tick(clock, 500); // t=7000: default request timeout, half the renew deadline
    expect(first.aborted).toBe(true);
    expect(String(first.reason)).toContain("did not answer within 5000ms");
    // The loop is not stuck on it: it tries again after the retry period.
    await tick(clock, 2000);
    expect(lease.updatesSent).toBe(2);
    // The connection heals for a moment and the first (timed-out) renew lands late, successfully:
    // it was given up on, so it must not extend leadership, which still dates from the acquire at t=0.
    const before = lease.stored?.resourceVersion;
    lease.hung.shift()?.();
    await flush();
    expect(lease.stored?.resourceVersion).not.toBe(before);
    await tick(clock, 500); // t=9500
    expect(a.e.isLeader()).toBe(true);
    await tick(clock, 500); // t=10_000 = acquire sent (0) + renewDeadline
    expect(a.e.isLeader()).toBe(false);
    expect(a.events).toEqual(["started", "stopped"]);
  });

  it("measures the deadline from when the successful renew was sent, not when it returned", async () => {
    const clock = new FakeClock();
    const lease = new StallingLease(clock);
    const a = elector(lease, clock, "a");
    a.e.start(); // acquires at t=0 (create)
    lease.delayMs = 3000;
    await tick(clock, 2000); // t=2000: renew sent, answered at t=5000
    await tick(clock, 3000);
    expect(lease.stored?.resourceVersion).toBe("2");
    lease.failing = true;
    await tick(clock, 6_500); // t=11_500
    expect(a.e.isLeader()).toBe(true);
    await tick(clock, 500); // t=12_000: sent (2000) + 10_000; measured from the answer it would be 15_000
    expect(a.e.isLeader()).toBe(false);
  });

  it("is not fooled by the wall clock stepping: elapsed time is monotonic", async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = elector(lease, clock, "a");
    a.e.start();
    await tick(clock, 1000);
    // A standby looks at a's lease, then the wall clock jumps an hour ahead.
    (a.e as any).stopped = true;
    const b = elector(lease, clock, "b");
    b.e.start();
    await tick(clock, 500);
    clock.jumpWallClock(3_600_000);
    await tick(clock, 10_000);
    expect(b.e.isLeader()).toBe(false); // a's lease is not expired just because the wall clock moved
    // And a leader whose renews fail stops at the deadline even if the wall clock steps back.
    const clock2 = new FakeClock();
    const lease2 = new MemoryLease();
    const c = elector(lease2, clock2, "c");
    c.e.start();
    await tick(clock2, 1000);
    lease2.failing = true;
    clock2.jumpWallClock(-3_600_000);
    await tick(clock2, 10_000);
    expect(c.e.isLeader()).toBe(false);
  });

  it("aborts in-flight reconciles the moment leadership is lost", async () => {
    const clock = new FakeClock();
    const lease = new StallingLease(clock);
    const log = pino({ level: "silent" });
    let controller: Controller | undefined;
    const e = new LeaderElector(lease, options("a"), clock, log, {
      onStartedLeading: () => controller?.start(1),
      onStoppedLeading: () => controller?.abortInFlight(new NotLeaderError("lost the lease")),
    });
    const guard = leadershipGuard(() => e);
    const seen: Array<{ signal: AbortSignal; wroteAfterAbort?: unknown }> = [];
    controller = new Controller(
      "test",
      async ({ signal }) => {
        const entry: { signal: AbortSignal; wroteAfterAbort?: unknown } = { signal };
        seen.push(entry);
        // A long action: waits until told to stop, then tries to write anyway.
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
        try {
          guard.assertLeader();
        } catch (error) {
          entry.wroteAfterAbort = error;
        }
        signal.throwIfAborted();
        return undefined;
      },
      log,
      new OperatorMetrics(),
      clock,
      guard.isLeader,
    );
    e.start();
    await tick(clock, 1000);
    controller.enqueue("ns", "x");
    await flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.signal.aborted).toBe(false);
    lease.hang = true;
    await tick(clock, 10_500);
    expect(e.isLeader()).toBe(false);
    expect(seen[0]?.signal.aborted).toBe(true);
    expect(seen[0]?.signal.reason).toBeInstanceOf(NotLeaderError);
    expect(seen[0]?.wroteAfterAbort).toBeInstanceOf(NotLeaderError);
    // And nothing further is reconciled.
    controller.enqueue("ns", "y");
    await tick(clock, 1000);
    expect(seen).toHaveLength(1);
  });

  it("does not lead again once it has lost leadership, even if the lease is still its own", async () => {
    const clock = new FakeClock();
    const lease = new StallingLease(clock);
    const a = elector(lease, clock, "a");
    a.e.start();
    await tick(clock, 2000);
    lease.hang = true;
    await tick(clock, 10_500);
    expect(a.e.isLeader()).toBe(false);
    // The connection heals before anyone else took the lease: still no second term for this process.
    lease.hang = false;
    for (const late of lease.hung.splice(0)) late();
    await tick(clock, 10_000);
    expect(a.e.isLeader()).toBe(false);
    expect(a.events).toEqual(["started", "stopped"]);
    // On stop it hands the lease over rather than let it expire.
    await a.e.stop();
    expect(lease.stored?.record.holderIdentity).toBe("");
  });

  it("a guard without an elector (leader election off) always allows", () => {
    const guard = leadershipGuard(() => undefined);
    expect(guard.isLeader()).toBe(true);
    expect(() => guard.assertLeader()).not.toThrow();
  });
});
