// Time is injected everywhere decisions depend on it, so tests can pin it.
//
// Two clocks: now() is the wall clock, for timestamps that leave the process
// (a Lease's renewTime, a status condition); monotonicMs() is for measuring
// elapsed time inside the process, which a wall-clock step (NTP, a VM
// resuming) must never stretch or shrink.
export interface Clock {
  now(): Date;
  /** Milliseconds from an arbitrary origin; never goes backwards, unaffected by wall-clock steps. */
  monotonicMs(): number;
  setTimeout(callback: () => void, ms: number): { cancel(): void };
}

/**
 * The longest single timer the system clock arms. Node fires a timer whose
 * delay exceeds 2^31-1 ms (about 24.8 days) after 1 ms instead, so a long
 * delay is reached by re-arming in steps of at most this much.
 */
export const MAX_TIMER_STEP_MS = 60 * 60 * 1000;

export const systemClock: Clock = {
  now: () => new Date(),
  monotonicMs: () => performance.now(),
  setTimeout(callback, ms) {
    // NaN and negative delays mean "as soon as possible", as they do for Node's own timers.
    let remaining = Number.isNaN(ms) ? 0 : Math.max(ms, 0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cancelled = false;
    const arm = () => {
      const step = Math.min(remaining, MAX_TIMER_STEP_MS);
      remaining -= step;
      timer = setTimeout(() => {
        if (cancelled) return;
        if (remaining > 0) arm();
        else callback();
      }, step);
      timer.unref?.();
    };
    arm();
    return {
      cancel: () => {
        cancelled = true;
        clearTimeout(timer);
      },
    };
  },
};
