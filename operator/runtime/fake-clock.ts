// A clock for tests: time moves only when the test says so.
import type { Clock } from "./clock.ts";

export class FakeClock implements Clock {
  private current: number;
  private timers: Array<{ at: number; callback: () => void; cancelled: boolean }> = [];

  constructor(start = "2026-11-21T10:00:00Z") {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  setTimeout(callback: () => void, ms: number) {
    const timer = { at: this.current + ms, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.current = due.at;
      due.cancelled = true;
      due.callback();
    }
    this.current = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }
}
