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

  it("is bounded in characters too", () => {
    const interner = new StringInterner({ maxCharacters: 10 });
    interner.internAll(["aaaa", "bbbb"]);
    expect(interner.size).toBe(2);
    interner.internAll(["cccc"]); // 12 characters: starts over
    expect(interner.size).toBe(1);
  });

  it("never keeps resourceVersions and uids, which are unique", () => {
    const interner = new StringInterner();
    interner.internAll({ metadata: { uid: "9f1c", resourceVersion: "41", name: "web" } });
    expect(interner.size).toBe(1);
  });

  it("survives an object nested far deeper than a call stack, leaving the deep part alone", () => {
    let deep: Record<string, unknown> = { leaf: "x" };
    for (let i = 0; i < 100_000; i++) deep = { child: deep, note: "same" };
    const interner = new StringInterner({ maxDepth: 64 });
    expect(() => interner.internAll(deep)).not.toThrow();
    expect(interner.size).toBe(1); // "same", from the first 64 levels only
  });

  it("leaves frozen objects as they are instead of throwing", () => {
    const interner = new StringInterner();
    const frozen = Object.freeze({ a: "x", nested: { b: "y" } });
    expect(() => interner.internAll({ frozen })).not.toThrow();
    expect(frozen).toEqual({ a: "x", nested: { b: "y" } });
  });
});
