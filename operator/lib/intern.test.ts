import { describe, expect, it } from "vitest";
import { StringInterner } from "./intern.ts";

const intent = (name: string) => ({
  metadata: { name, labels: { app: "web" } },
  status: {
    phase: "Advisory",
    conditions: [
      { type: "Valid", status: "True", reason: "SpecValid", lastTransitionTime: "2026-11-21T10:01:02Z" },
      { type: "Ready", status: "True", reason: "Decided", lastTransitionTime: "2026-11-21T10:01:02Z" },
    ],
    history: [{ at: "2026-11-21T10:01:02Z", reason: "Advisory", count: 1, flags: [true, null] }],
  },
});

describe("StringInterner", () => {
  it("leaves every value as it was, in place, numbers, booleans and nulls included", () => {
    const interner = new StringInterner();
    const object = intent("a");
    const same = interner.internAll(object);
    expect(same).toBe(object);
    expect(object).toEqual(intent("a"));
  });

  it("keeps one entry per distinct string, across objects", () => {
    const interner = new StringInterner();
    interner.internAll(intent("a"));
    const afterOne = interner.size;
    interner.internAll(intent("b"));
    // Only the second name is new.
    expect(interner.size).toBe(afterOne + 1);
  });

  it("skips long strings, and starts over when full instead of growing", () => {
    const interner = new StringInterner({ maxEntries: 3, maxLength: 5 });
    interner.internAll(["aaaaaaaaaa", "bbbbbbbbbb"]);
    expect(interner.size).toBe(0);
    interner.internAll(["a", "b", "c"]);
    expect(interner.size).toBe(3);
    interner.internAll(["d"]);
    expect(interner.size).toBe(1);
  });
});
