/** Runs async functions one at a time per key; different keys run concurrently. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly waiters = new Map<string, Array<() => void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(fn);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      // The last one out removes the key, so the map does not grow with every target ever seen,
      // and tells whoever asked to hear when the key is free.
      if (this.tails.get(key) === tail) {
        this.tails.delete(key);
        const waiting = this.waiters.get(key) ?? [];
        this.waiters.delete(key);
        for (const wake of waiting) wake();
      }
    }
  }

  /**
   * Calls `wake` once the key is free: when the last function holding or
   * waiting for it finishes, or at once (in a microtask) when it is free now.
   */
  whenFree(key: string, wake: () => void): void {
    if (!this.tails.has(key)) {
      queueMicrotask(wake);
      return;
    }
    this.waiters.set(key, [...(this.waiters.get(key) ?? []), wake]);
  }

  /** Whether a function holds (or waits for) the key now. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  get size(): number {
    return this.tails.size;
  }
}
