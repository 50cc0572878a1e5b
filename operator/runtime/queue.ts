// A work queue with client-go/controller-runtime semantics:
// - a key is never processed by two workers at once;
// - adding a key that is already queued is a no-op; adding one that is being
//   processed marks it dirty, and it is queued again once done;
// - rate-limited requeues back off per key exponentially, within an overall
//   token bucket, so a failing key cannot starve the rest;
// - a delay is capped at MAX_REQUEUE_DELAY_MS: reconciles are level-triggered,
//   so a key asked back in weeks (a freeze window ending in December) is simply
//   re-checked every hour, and no delay can reach the 2^31-1 ms at which Node
//   fires timers after 1 ms (which would make the key spin).
import type { Clock } from "./clock.ts";

export const MAX_REQUEUE_DELAY_MS = 60 * 60 * 1000;

export interface QueueMetrics {
  depth(value: number): void;
  added(): void;
  retried(): void;
  queueDuration(seconds: number): void;
}

export interface RateLimiterOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Overall requeue rate, tokens per second, and burst. */
  qps: number;
  burst: number;
}

export const DEFAULT_RATE_LIMITER: RateLimiterOptions = { baseDelayMs: 5, maxDelayMs: 1_000_000, qps: 10, burst: 100 };

/** Per-key exponential backoff combined with an overall token bucket; the longer delay wins. */
export class RateLimiter {
  private readonly failures = new Map<string, number>();
  private tokens: number;
  private lastRefill: number;

  private readonly options: RateLimiterOptions;
  private readonly clock: Clock;

  constructor(options: RateLimiterOptions, clock: Clock) {
    this.options = options;
    this.clock = clock;
    this.tokens = options.burst;
    this.lastRefill = clock.monotonicMs();
  }

  when(key: string): number {
    const attempts = this.failures.get(key) ?? 0;
    this.failures.set(key, attempts + 1);
    const backoff = Math.min(this.options.baseDelayMs * 2 ** attempts, this.options.maxDelayMs);
    return Math.max(backoff, this.bucketDelay());
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  private bucketDelay(): number {
    const now = this.clock.monotonicMs();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.options.qps);
    this.lastRefill = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.options.qps) * 1000;
  }
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; cancel(): void }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  private readonly clock: Clock;
  readonly rateLimiter: RateLimiter;
  private readonly metrics: QueueMetrics | undefined;

  constructor(clock: Clock, rateLimiter: RateLimiter, metrics?: QueueMetrics) {
    this.clock = clock;
    this.rateLimiter = rateLimiter;
    this.metrics = metrics;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics?.added();
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.makeReady(key);
  }

  /** Adds the key after a delay (at most MAX_REQUEUE_DELAY_MS); an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    // NaN (a bad computation upstream) also gets the cap: a late re-check, never a spin.
    const delay = Number.isNaN(ms) ? MAX_REQUEUE_DELAY_MS : Math.min(ms, MAX_REQUEUE_DELAY_MS);
    const at = this.clock.monotonicMs() + delay;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.cancel();
    const timer = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delay);
    this.delayed.set(key, { at, cancel: timer.cancel });
  }

  addRateLimited(key: string): void {
    this.metrics?.retried();
    this.addAfter(key, this.rateLimiter.when(key));
  }

  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** Resolves with the next key, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.metrics?.depth(this.queue.length);
      return Promise.resolve(this.take(key));
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.makeReady(key);
  }

  /** Hands a ready key to a waiting worker, or queues it. */
  private makeReady(key: string): void {
    this.addedAt.set(key, this.clock.monotonicMs());
    const waiter = this.waiters.shift();
    if (waiter) this.hand(key, waiter);
    else {
      this.queue.push(key);
      this.metrics?.depth(this.queue.length);
    }
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const pending of this.delayed.values()) pending.cancel();
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  get length(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  private hand(key: string, waiter: (key: string) => void): void {
    waiter(this.take(key));
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    const added = this.addedAt.get(key);
    if (added !== undefined) this.metrics?.queueDuration((this.clock.monotonicMs() - added) / 1000);
    this.addedAt.delete(key);
    return key;
  }
}
