import { describe, expect, it } from "vitest";
import { heapByConstructor, topSelfTime } from "./profile.ts";
import { classify } from "./proxy.ts";
import { distribution } from "./stats.ts";

describe("classify", () => {
  it.each([
    ["GET", "/apis/arf.dev/v1alpha1/namespaces/a/healingintents?watch=true&resourceVersion=1", "watch healingintents"],
    ["GET", "/apis/arf.dev/v1alpha1/healingintents?limit=500", "list healingintents"],
    ["GET", "/apis/apps/v1/namespaces/a/deployments/web", "get deployments"],
    ["PUT", "/apis/arf.dev/v1alpha1/namespaces/a/healingintents/x/status", "update healingintents/status"],
    ["PATCH", "/apis/apps/v1/namespaces/a/deployments/web?dryRun=All", "dry-run patch deployments"],
    ["PATCH", "/apis/apps/v1/namespaces/a/deployments/web?fieldManager=arf", "patch deployments"],
    ["POST", "/api/v1/namespaces/a/events", "create events"],
    ["DELETE", "/api/v1/namespaces/a/configmaps/x", "delete configmaps"],
    ["GET", "/api/v1/namespaces/kube-system", "get namespaces"],
    ["PUT", "/apis/apps/v1/namespaces/a/deployments/web/scale", "update deployments/scale"],
  ])("%s %s is %s", (method, url, expected) => {
    expect(classify(method, url)).toBe(expected);
  });
});

describe("distribution", () => {
  it("reports measured values by nearest rank", () => {
    const d = distribution([5, 1, 4, 2, 3, 6, 7, 8, 9, 10]);
    expect(d).toEqual({ count: 10, p50: 5, p95: 10, p99: 10, max: 10 });
    expect(distribution([]).p50).toBeNaN();
  });
});

describe("profile summaries", () => {
  it("ranks functions by self time", () => {
    const top = topSelfTime({
      startTime: 0,
      endTime: 1_000_000,
      nodes: [
        { id: 1, callFrame: { functionName: "a", url: "file:///x/operator/a.ts", lineNumber: 9 }, hitCount: 3 },
        { id: 2, callFrame: { functionName: "", url: "", lineNumber: 0 }, hitCount: 1 },
        { id: 3, callFrame: { functionName: "a", url: "file:///x/operator/a.ts", lineNumber: 9 }, hitCount: 4 },
      ],
    });
    expect(top[0]).toEqual({ function: "a operator/a.ts:10", selfMs: 875, selfPercent: 87.5 });
    expect(top[1]?.function).toBe("(anonymous)");
  });

  it("sums a heap snapshot's self sizes by constructor", () => {
    const holders = heapByConstructor({
      snapshot: { meta: { node_fields: ["type", "name", "id", "self_size"], node_types: [["object", "string"]] } },
      // type, name, id, self_size
      nodes: [0, 0, 1, 1048576, 0, 0, 2, 1048576, 1, 1, 3, 524288],
      strings: ["Intent", "some text"],
    });
    expect(holders).toEqual([
      { name: "Intent", count: 2, selfMiB: 2 },
      { name: "(string)", count: 1, selfMiB: 0.5 },
    ]);
  });
});
