import { describe, expect, it } from "vitest";
import { IntentIdIndex } from "./id-index.ts";
import type { HealingIntentObject } from "./objects.ts";

const intent = (namespace: string, name: string, id?: string): HealingIntentObject => ({
  metadata: { namespace, name },
  spec: { id },
});
const index = () => new IntentIdIndex((o) => (o.spec as { id?: string }).id);
const names = (objects: HealingIntentObject[]) => objects.map((o) => o.metadata?.name).sort();

describe("IntentIdIndex", () => {
  it("finds the intents of a namespace with an id, and no others", () => {
    const i = index();
    i.update("shop", "a", intent("shop", "a", "x"));
    i.update("shop", "b", intent("shop", "b", "x"));
    i.update("shop", "c", intent("shop", "c", "y"));
    i.update("other", "a", intent("other", "a", "x"));
    expect(names(i.withId("shop", "x"))).toEqual(["a", "b"]);
    expect(names(i.withId("shop", "y"))).toEqual(["c"]);
    expect(names(i.withId("other", "x"))).toEqual(["a"]);
    expect(i.withId("shop", "z")).toEqual([]);
  });

  it("moves an intent whose id changed, keeps the newest object, and forgets a deleted one", () => {
    const i = index();
    i.update("shop", "a", intent("shop", "a", "x"));
    const newer = intent("shop", "a", "y");
    i.update("shop", "a", newer);
    expect(i.withId("shop", "x")).toEqual([]);
    expect(i.withId("shop", "y")).toEqual([newer]);
    i.update("shop", "a", undefined);
    expect(i.withId("shop", "y")).toEqual([]);
  });

  it("files nothing for an intent without an id (an invalid spec)", () => {
    const i = index();
    i.update("shop", "a", intent("shop", "a", "x"));
    i.update("shop", "a", intent("shop", "a"));
    expect(i.withId("shop", "x")).toEqual([]);
  });
});
