// The OSS edition cannot act: no executor is wired, and no module reachable
// by static imports from the entry point mutates workloads.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { wireOssEdition } from "./edition.ts";

const operatorDir = import.meta.dirname;

function staticImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  // `import ... from "./x.ts"` and `export ... from "./x.ts"`. Type-only imports are erased before the
  // code runs, and dynamic import() is what the licensed edition uses; neither is a static edge.
  return [...text.matchAll(/^(?:import|export)\s(?!type\s)[^;]*?from\s+"(\.[^"]+)"/gms)].map((m) =>
    resolve(dirname(file), m[1] as string),
  );
}

function reachableFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    stack.push(...staticImports(file));
  }
  return seen;
}

// Calls that change a workload, by client-node method name.
const WORKLOAD_WRITES =
  /\b(patch|replace|create|delete)Namespaced(Deployment|StatefulSet|DaemonSet|ReplicaSet|Pod)(Scale)?\b/;

describe("OSS edition", () => {
  it("is wired without an executor", () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: "https://127.0.0.1:1" }],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    const wiring = wireOssEdition(kc);
    expect(wiring.edition).toBe("oss");
    expect(wiring.executor).toBeUndefined();
  });

  it("reaches no code that writes workloads from main.ts by static imports", () => {
    const reachable = reachableFrom(join(operatorDir, "main.ts"));
    expect(reachable.size).toBeGreaterThan(10);
    const offenders = [...reachable].filter((file) => WORKLOAD_WRITES.test(readFileSync(file, "utf8")));
    expect(offenders).toEqual([]);
    expect([...reachable].filter((file) => file.includes(`${join(operatorDir, "executor")}/`))).toEqual([]);
  });

  it("the walker follows value imports and skips type-only ones", () => {
    const reachable = reachableFrom(join(operatorDir, "edition.ts"));
    expect([...reachable].some((f) => f.endsWith("kube/gateway.ts"))).toBe(true);
    expect([...reachable].some((f) => f.endsWith("executor/executor.ts"))).toBe(false);
    expect(readFileSync(join(operatorDir, "edition.ts"), "utf8")).toContain('await import("./executor/executor.ts")');
  });

  it("the detector would notice a workload write", () => {
    expect(WORKLOAD_WRITES.test("await apps.patchNamespacedDeployment({})")).toBe(true);
    expect(WORKLOAD_WRITES.test("await apps.patchNamespacedStatefulSetScale({})")).toBe(true);
    expect(WORKLOAD_WRITES.test("await apps.readNamespacedDeployment({})")).toBe(false);
    expect(readdirSync(operatorDir)).toContain("main.ts");
  });
});
