import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_TIMER_STEP_MS, systemClock } from "./clock.ts";
import { FakeClock } from "./fake-clock.ts";
import { DEFAULT_RATE_LIMITER, MAX_REQUEUE_DELAY_MS, RateLimiter, WorkQueue } from "./queue.ts";

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

// Node fires a timer whose delay exceeds 2^31-1 ms after 1 ms: a requeue weeks
// away (a freeze window ending in December) would spin instead of waiting.
describe("long delays", () => {
  const weeks = 6 * 7 * 24 * 3_600_000;
  const realSleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  afterEach(() => {
    vi.useRealTimers();
  });

  it("caps a requeue weeks away at an hour: the key is re-checked, not forgotten", () => {
    const { queue, clock } = newQueue();
    queue.addAfter("freeze", weeks);
    expect(clock.pendingDelays()).toEqual([MAX_REQUEUE_DELAY_MS]);
    clock.advance(MAX_REQUEUE_DELAY_MS - 1);
    expect(queue.length).toBe(0);
    clock.advance(1);
    expect(queue.length).toBe(1);
  });

  it("caps a NaN or infinite delay too", () => {
    const { queue, clock } = newQueue();
    queue.addAfter("nan", Number.NaN);
    queue.addAfter("inf", Number.POSITIVE_INFINITY);
    expect(clock.pendingDelays()).toEqual([MAX_REQUEUE_DELAY_MS, MAX_REQUEUE_DELAY_MS]);
    expect(queue.length).toBe(0);
  });

  it("does not spin on the system clock when a key is requeued beyond 2^31-1 ms", async () => {
    const queue = new WorkQueue(systemClock, new RateLimiter(DEFAULT_RATE_LIMITER, systemClock));
    queue.addAfter("freeze", 2 ** 31 + 1000);
    await realSleep(30);
    expect(queue.length).toBe(0);
    queue.shutDown();
  });

  it("the system clock's timer waits out a delay beyond 2^31-1 ms instead of firing at once", async () => {
    let fired = 0;
    const timer = systemClock.setTimeout(() => fired++, 2 ** 31 + 1000);
    await realSleep(30);
    expect(fired).toBe(0);
    timer.cancel();
  });

  it("the system clock's timer fires on time for a delay longer than one step, and not before", () => {
    vi.useFakeTimers();
    let fired = 0;
    const delay = 2 * MAX_TIMER_STEP_MS + 1234;
    systemClock.setTimeout(() => fired++, delay);
    vi.advanceTimersByTime(delay - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    const cancelled = systemClock.setTimeout(() => fired++, delay);
    vi.advanceTimersByTime(MAX_TIMER_STEP_MS + 1);
    cancelled.cancel();
    vi.advanceTimersByTime(delay);
    expect(fired).toBe(1);
  });
});
