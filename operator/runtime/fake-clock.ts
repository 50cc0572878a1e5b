// A clock for tests: time moves only when the test says so. Timers run on the
// monotonic clock, as Node's do; the wall clock can also be stepped on its own
// (jumpWallClock) to show that nothing measures elapsed time with it.
import type { Clock } from "./clock.ts";

export class FakeClock implements Clock {
  private monotonic = 0;
  private wallOffset: number;
  private timers: Array<{ at: number; callback: () => void; cancelled: boolean }> = [];

  constructor(start = "2026-11-21T10:00:00Z") {
    this.wallOffset = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.wallOffset + this.monotonic);
  }

  monotonicMs(): number {
    return this.monotonic;
  }

  /** Steps the wall clock (as NTP might) without moving monotonic time or firing timers. */
  jumpWallClock(ms: number): void {
    this.wallOffset += ms;
  }

  setTimeout(callback: () => void, ms: number) {
    const timer = { at: this.monotonic + (Number.isNaN(ms) ? 0 : Math.max(ms, 0)), callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Delays of the timers still pending, from now; for asserting what was armed. */
  pendingDelays(): number[] {
    return this.timers.filter((t) => !t.cancelled).map((t) => t.at - this.monotonic);
  }

  /** Moves time on without firing the timers that fall due, as when the event loop is blocked; the next advance() fires them. */
  advanceWithoutTimers(ms: number): void {
    this.monotonic += ms;
  }

  advance(ms: number): void {
    const target = this.monotonic + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.monotonic = Math.max(this.monotonic, due.at);
      due.cancelled = true;
      due.callback();
    }
    this.monotonic = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }
}
