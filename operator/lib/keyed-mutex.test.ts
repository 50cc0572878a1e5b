import { describe, expect, it } from "vitest";
import { KeyedMutex } from "./keyed-mutex.ts";

describe("KeyedMutex", () => {
  it("wakes whoever waits for a key once the last holder finishes, not before, and only for that key", async () => {
    const mutex = new KeyedMutex();
    const woken: string[] = [];
    let release: () => void = () => undefined;
    const held = mutex.run("a", () => new Promise<void>((resolve) => (release = resolve)));
    const queued = mutex.run("a", async () => woken.push("second holder ran"));
    mutex.whenFree("a", () => woken.push("waiter a"));
    mutex.whenFree("b", () => woken.push("waiter b (free at once)"));
    await new Promise((resolve) => setTimeout(resolve, 0)); // the first holder has started
    expect(woken).toEqual(["waiter b (free at once)"]);
    release();
    await held;
    await queued;
    // Woken after both holders, once.
    expect(woken).toEqual(["waiter b (free at once)", "second holder ran", "waiter a"]);
    expect(mutex.busy("a")).toBe(false);
  });
});
