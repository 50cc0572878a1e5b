import { describe, expect, it } from "vitest";
import { FakeClock } from "./fake-clock.ts";
import { DEFAULT_RATE_LIMITER, RateLimiter, WorkQueue } from "./queue.ts";

const newQueue = (clock = new FakeClock(), options = DEFAULT_RATE_LIMITER) => ({
  clock,
  queue: new WorkQueue(clock, new RateLimiter(options, clock)),
});

describe("WorkQueue", () => {
  it("collapses repeated adds of a queued key into one", async () => {
    const { queue } = newQueue();
    queue.add("a");
    queue.add("b");
    queue.add("a");
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe("a");
    expect(await queue.get()).toBe("b");
  });

  it("never hands out a key that is being processed; re-adds it after done", async () => {
    const { queue } = newQueue();
    queue.add("a");
    const key = await queue.get();
    queue.add("a"); // arrives while "a" is processed
    expect(queue.length).toBe(0);
    let second: string | undefined;
    void queue.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    queue.done(key as string);
    await Promise.resolve();
    expect(second).toBe("a");
  });

  it("wakes a waiting worker when a key arrives", async () => {
    const { queue } = newQueue();
    const waiting = queue.get();
    queue.add("x");
    expect(await waiting).toBe("x");
  });

  it("addAfter delivers after the delay, and the earliest pending delay wins", async () => {
    const { queue, clock } = newQueue();
    queue.addAfter("a", 1000);
    queue.addAfter("a", 5000);
    clock.advance(999);
    expect(queue.length).toBe(0);
    clock.advance(1);
    expect(queue.length).toBe(1);
    clock.advance(10_000);
    expect(queue.length).toBe(1);
  });

  it("backs off exponentially per key and resets on forget", () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ baseDelayMs: 5, maxDelayMs: 1000, qps: 1000, burst: 1000 }, clock);
    expect([1, 2, 3, 4].map(() => limiter.when("a"))).toEqual([5, 10, 20, 40]);
    expect(limiter.when("b")).toBe(5);
    for (let i = 0; i < 20; i++) limiter.when("a");
    expect(limiter.when("a")).toBe(1000);
    limiter.forget("a");
    expect(limiter.when("a")).toBe(5);
  });

  it("limits the overall requeue rate with a token bucket", () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ baseDelayMs: 1, maxDelayMs: 1000, qps: 10, burst: 2 }, clock);
    expect(limiter.when("a")).toBe(1);
    expect(limiter.when("b")).toBe(1);
    expect(limiter.when("c")).toBeCloseTo(100);
    clock.advance(1000);
    expect(limiter.when("d")).toBe(1);
  });

  it("returns undefined to waiters and drops adds after shutdown", async () => {
    const { queue } = newQueue();
    const waiting = queue.get();
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    queue.add("a");
    expect(queue.length).toBe(0);
  });
});
