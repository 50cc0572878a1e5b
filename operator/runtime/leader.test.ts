import pino from "pino";
import { describe, expect, it } from "vitest";
import { FakeClock } from "./fake-clock.ts";
import {
  ConflictError,
  LeaderElector,
  type LeaseClient,
  type LeaseRecord,
  microTime,
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

const options = (identity: string) => ({
  identity,
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
});
const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

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
});
