// The failure modes client-node's informer is known for, driven through a fake:
// it stops on errors, start() resolves even when the list failed, a half-open
// connection goes silent, and a throwing handler would become an unhandled
// rejection.
import type * as k8s from "@kubernetes/client-node";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { FakeClock } from "./fake-clock.ts";
import { type ListPage, pagedList, ResilientInformer } from "./informer.ts";

type Obj = k8s.KubernetesObject;

class FakeInformer {
  handlers = new Map<string, Array<(arg?: unknown) => void>>();
  starts = 0;
  stops = 0;
  failNextStarts = 0;
  on(verb: string, cb: (arg?: unknown) => void) {
    this.handlers.set(verb, [...(this.handlers.get(verb) ?? []), cb]);
  }
  off() {}
  emit(verb: string, arg?: unknown) {
    for (const cb of this.handlers.get(verb) ?? []) cb(arg);
  }
  async start() {
    this.starts++;
    if (this.failNextStarts > 0) {
      this.failNextStarts--;
      this.emit("error", new Error("list failed"));
      return;
    }
    this.emit("connect");
  }
  async stop() {
    this.stops++;
  }
  list() {
    return [];
  }
  get() {
    return undefined;
  }
}

const options = { staleAfterMs: 60_000, minRestartDelayMs: 500, maxRestartDelayMs: 8_000 };
const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

function setup() {
  const fake = new FakeInformer();
  const clock = new FakeClock();
  const informer = new ResilientInformer<Obj>(
    "things",
    {} as k8s.KubeConfig,
    "/api/v1/things",
    async () => ({ items: [] }) as never,
    pino({ level: "silent" }),
    clock,
    options,
    (() => fake) as never,
  );
  return { fake, clock, informer };
}

async function advance(clock: FakeClock, ms: number) {
  for (let t = 0; t < ms; t += 100) {
    clock.advance(100);
    await flush();
  }
}

describe("ResilientInformer", () => {
  it("drops managedFields from what it caches and hands on", async () => {
    const { fake, informer } = setup();
    const seen: Obj[] = [];
    informer.onChange((object) => seen.push(object));
    const added = { metadata: { name: "a", managedFields: [{ manager: "kubectl", fieldsV1: { "f:spec": {} } }] } };
    const updated = { metadata: { name: "a", managedFields: [{ manager: "flux" }] }, spec: { x: 1 } };
    fake.emit("add", added);
    fake.emit("update", updated);
    // The same objects the (fake) cache holds: stripped in place.
    expect(added.metadata.managedFields).toBeUndefined();
    expect(updated.metadata.managedFields).toBeUndefined();
    expect(seen).toEqual([{ metadata: { name: "a" } }, { metadata: { name: "a" }, spec: { x: 1 } }]);
  });

  it("keeps retrying a failed initial list with backoff, and is synced only after one succeeds", async () => {
    const { fake, clock, informer } = setup();
    fake.failNextStarts = 3;
    const started = informer.start();
    await flush();
    expect(informer.hasSynced()).toBe(false);
    await advance(clock, 500 + 1000 + 2000);
    await started;
    expect(fake.starts).toBe(4);
    expect(informer.hasSynced()).toBe(true);
    await informer.stop();
  });

  it("restarts the watch after an error, backing off exponentially until it recovers", async () => {
    const { fake, clock, informer } = setup();
    await informer.start();
    fake.emit("error", new Error("watch broke"));
    await advance(clock, 400);
    expect(fake.starts).toBe(1);
    await advance(clock, 200);
    expect(fake.starts).toBe(2);
    fake.emit("error", new Error("again"));
    await advance(clock, 900);
    expect(fake.starts).toBe(2);
    await advance(clock, 200);
    expect(fake.starts).toBe(3);
    // An event means it is healthy again: the next failure starts from the minimum delay.
    fake.emit("add", { metadata: { name: "x" } });
    fake.emit("error", new Error("later"));
    await advance(clock, 600);
    expect(fake.starts).toBe(4);
    await informer.stop();
  });

  it("restarts a watch that has been silent longer than staleAfterMs", async () => {
    const { fake, clock, informer } = setup();
    await informer.start();
    await advance(clock, 50_000);
    fake.emit("update", { metadata: { name: "x" } });
    await advance(clock, 50_000);
    expect(fake.starts).toBe(1);
    await advance(clock, 40_000);
    expect(fake.starts).toBe(2);
    expect(fake.stops).toBe(1);
    await informer.stop();
  });

  it("contains a handler that throws, and still calls the others", async () => {
    const { fake, informer } = setup();
    const seen: string[] = [];
    informer.onChange(() => {
      throw new Error("handler bug");
    });
    informer.onChange((o) => seen.push(o.metadata?.name ?? ""));
    await informer.start();
    expect(() => fake.emit("add", { metadata: { name: "a" } })).not.toThrow();
    expect(seen).toEqual(["a"]);
    await informer.stop();
  });

  it("does nothing more once stopped", async () => {
    const { fake, clock, informer } = setup();
    await informer.start();
    await informer.stop();
    fake.emit("error", new Error("late error"));
    await advance(clock, 200_000);
    expect(fake.starts).toBe(1);
  });
});

describe("pagedList", () => {
  type Obj = k8s.KubernetesObject;
  const obj = (name: string): Obj => ({
    metadata: { name, managedFields: [{ manager: "kubectl", operation: "Apply" }] },
  });

  it("asks page after page with the continue token, and returns one list without managedFields", async () => {
    const asked: Array<{ limit: number; _continue?: string }> = [];
    const pages: Record<string, k8s.KubernetesListObject<Obj>> = {
      "": { items: [obj("a"), obj("b")], metadata: { resourceVersion: "7", continue: "p2" } as never },
      p2: { items: [obj("c"), obj("d")], metadata: { resourceVersion: "7", continue: "p3" } as never },
      p3: { items: [obj("e")], metadata: { resourceVersion: "7" } },
    };
    const page: ListPage<Obj> = async (options) => {
      asked.push(options);
      return pages[options._continue ?? ""] as k8s.KubernetesListObject<Obj>;
    };
    const list = await pagedList(page, 2)();
    expect(asked).toEqual([{ limit: 2 }, { limit: 2, _continue: "p2" }, { limit: 2, _continue: "p3" }]);
    expect(list.items.map((i) => i.metadata?.name)).toEqual(["a", "b", "c", "d", "e"]);
    expect(list.items.every((i) => i.metadata?.managedFields === undefined)).toBe(true);
    expect(list.metadata?.resourceVersion).toBe("7");
    expect((list.metadata as { continue?: string }).continue).toBeUndefined();
  });

  it("follows client-node's typed _continue too, and fails the whole list when a page fails", async () => {
    let calls = 0;
    const typed: ListPage<Obj> = async () =>
      calls++ === 0 ? { items: [obj("a")], metadata: { _continue: "next" } } : { items: [obj("b")], metadata: {} };
    expect((await pagedList(typed)()).items).toHaveLength(2);
    const failing: ListPage<Obj> = async (options) => {
      if (options._continue) throw new Error("410 Gone: the continue token expired");
      return { items: [obj("a")], metadata: { continue: "stale" } as never };
    };
    await expect(pagedList(failing)()).rejects.toThrow("410 Gone");
    const looping: ListPage<Obj> = async () => ({ items: [obj("a")], metadata: { continue: "same" } as never });
    await expect(pagedList(looping)()).rejects.toThrow("continue token came back again");
  });
});
