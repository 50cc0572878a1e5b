import { describe, expect, it } from "vitest";
import { RollbackPlanSpec } from "../api/index.ts";
import { sampleOf } from "./prometheus.ts";
import { applyRound, type CheckMeasurement, judgePrometheus, judgeWorkload, openWindow, windowEnd } from "./window.ts";

const spec = (autoRollback: Record<string, unknown> = {}, onFailure = "rollback") =>
  RollbackPlanSpec.parse({
    target: { kind: "Deployment", name: "web" },
    autoRollback: { duration: "60s", checkInterval: "10s", ...autoRollback },
    healthChecks: {
      workloadReady: { minAvailableRatio: 1 },
      prometheus: {
        queries: [{ name: "errors", query: "q", operator: "LessThan", threshold: 0.5, maxIncreaseFactor: 1.5 }],
      },
    },
    onFailure,
  });
const t0 = new Date("2026-11-22T10:00:00Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const m = (result: CheckMeasurement["result"], check = "errors"): CheckMeasurement => ({
  check,
  result,
  message: `${check} ${result}`,
});
const check = spec().healthChecks.prometheus?.queries[0];
if (!check) throw new Error("no check");

function run(plan: ReturnType<typeof spec>, rounds: CheckMeasurement["result"][][], step = 10) {
  let window = openWindow(plan, { name: "i", id: "hi-1" }, undefined, t0);
  let verdict: ReturnType<typeof applyRound>["verdict"] | undefined;
  rounds.forEach((results, index) => {
    ({ window, verdict } = applyRound(
      window,
      plan,
      results.map((r) => m(r)),
      at((index + 1) * step),
    ));
  });
  return { window, verdict };
}

describe("applyRound: limits and the error budget", () => {
  it.each([
    ["one failure with failureLimit 1 rolls back", spec(), [["Failed"]], "rollback", "RolledBack"],
    [
      "failureLimit 2 needs two failed rounds in a row",
      spec({ failureLimit: 2 }),
      [["Failed"], ["Successful"], ["Failed"]],
      "continue",
      "Watching",
    ],
    [
      "two failed rounds in a row reach failureLimit 2",
      spec({ failureLimit: 2 }),
      [["Failed"], ["Failed"]],
      "rollback",
      "RolledBack",
    ],
    ["alertOnly only reports", spec({}, "alertOnly"), [["Failed"]], "alert", "AlertOnly"],
    [
      "an outage alone never rolls back: errors end Inconclusive",
      spec({ errorLimit: 3 }),
      [["Error"], ["Error"], ["Error"]],
      "inconclusive",
      "Inconclusive",
    ],
    [
      "errors below the budget keep watching",
      spec({ errorLimit: 3 }),
      [["Error"], ["Error"], ["Successful"], ["Error"]],
      "continue",
      "Watching",
    ],
    ["a failure beats an error in the same round", spec(), [["Error", "Failed"]], "rollback", "RolledBack"],
    [
      "no data ends Inconclusive at its limit",
      spec({ inconclusiveLimit: 2 }),
      [["Inconclusive"], ["Inconclusive"]],
      "inconclusive",
      "Inconclusive",
    ],
    [
      "inconclusiveLimit 0 is unlimited",
      spec({ inconclusiveLimit: 0 }),
      [["Inconclusive"], ["Inconclusive"], ["Inconclusive"]],
      "continue",
      "Watching",
    ],
    [
      "healthy to the end passes",
      spec(),
      [["Successful"], ["Successful"], ["Successful"], ["Successful"], ["Successful"], ["Successful"]],
      "pass",
      "Passed",
    ],
  ] as const)("%s", (_name, plan, rounds, kind, state) => {
    const { window, verdict } = run(
      plan,
      rounds.map((r) => [...r]),
    );
    expect(verdict?.kind).toBe(kind);
    expect(window.state).toBe(state);
  });

  it("keeps the newest 10 measurements per check and cumulative counters", () => {
    const plan = spec({ duration: "10m", inconclusiveLimit: 0 });
    const { window } = run(
      plan,
      Array.from({ length: 14 }, (_, i) => [i % 2 ? "Successful" : "Inconclusive"]),
    );
    const errors = window.checks.find((c) => c.name === "errors");
    expect(errors?.measurements).toHaveLength(10);
    expect(errors?.counts).toEqual({ successful: 7, failed: 0, inconclusive: 7, error: 0 });
    expect(window.rounds).toBe(14);
  });

  it("an outage extends the window by one interval per unmeasured round, up to twice its duration", () => {
    const plan = spec({ onOutage: "Extend" });
    const window = openWindow(plan, { name: "i", id: "hi-1" }, undefined, t0);
    expect(windowEnd(plan, t0, window).toISOString()).toBe("2026-11-22T10:01:00.000Z");
    const outage = structuredClone(window);
    (outage.checks[1] as { counts: { error: number } }).counts.error = 3;
    expect(windowEnd(plan, t0, outage).toISOString()).toBe("2026-11-22T10:01:30.000Z");
    (outage.checks[1] as { counts: { error: number } }).counts.error = 100;
    expect(windowEnd(plan, t0, outage).toISOString()).toBe("2026-11-22T10:02:00.000Z");
    expect(windowEnd(spec(), t0, outage).toISOString()).toBe("2026-11-22T10:01:00.000Z");
  });

  it("keeps its original schedule, whenever a round runs", () => {
    const plan = spec();
    const window = openWindow(plan, { name: "i", id: "hi-1" }, undefined, t0);
    const late = applyRound(window, plan, [m("Successful")], at(23.5)).verdict;
    expect(late.kind === "continue" && late.nextCheckAt.toISOString()).toBe("2026-11-22T10:00:30.000Z");
  });

  it("a settling rollout neither counts toward inconclusiveLimit nor resets it", () => {
    const plan = spec({ inconclusiveLimit: 2 });
    let window = openWindow(plan, { name: "i", id: "hi-1" }, undefined, t0);
    const settling: CheckMeasurement = {
      check: "workload-ready",
      result: "Inconclusive",
      settling: true,
      message: "settling",
    };
    ({ window } = applyRound(window, plan, [m("Inconclusive")], at(10)));
    ({ window } = applyRound(window, plan, [settling, m("Successful")], at(20)));
    expect(window.consecutiveInconclusive).toBe(1);
    const { verdict } = applyRound(window, plan, [m("Inconclusive")], at(30));
    expect(verdict.kind).toBe("inconclusive");
  });

  it("never acts on a round that runs after the window ended", () => {
    const plan = spec();
    const window = openWindow(plan, { name: "i", id: "hi-1" }, undefined, t0);
    const { verdict, window: ended } = applyRound(window, plan, [m("Failed")], at(3 * 3600));
    expect(verdict).toMatchObject({ kind: "inconclusive", reason: "WindowMissed" });
    expect(ended.state).toBe("Inconclusive");
  });

  it("a value as bad as before the action is not worse: Inconclusive, unless past the factor", () => {
    expect(judgePrometheus(check, { ok: true, value: 0.9 }, 0.8).result).toBe("Inconclusive");
    expect(judgePrometheus(check, { ok: true, value: 1.5 }, 0.8).result).toBe("Failed");
  });

  it("names the check, its value and its threshold in the verdict", () => {
    const plan = spec();
    const window = openWindow(plan, { name: "i", id: "hi-1" }, undefined, t0);
    const measured = judgePrometheus(check, { ok: true, value: 0.9 }, undefined);
    const { verdict } = applyRound(window, plan, [measured], at(10));
    expect(verdict.kind === "rollback" && verdict.message).toContain("errors = 0.9, wanted < 0.5");
  });
});

describe("judgePrometheus", () => {
  it.each([
    ["below the threshold and the baseline factor", { ok: true as const, value: 0.12 }, 0.1, "Successful"],
    ["above the threshold", { ok: true as const, value: 0.6 }, undefined, "Failed"],
    ["under the threshold but worse than 1.5x the baseline", { ok: true as const, value: 0.2 }, 0.1, "Failed"],
    ["an empty result", { ok: true as const, value: undefined }, 0.1, "Inconclusive"],
    ["NaN", { ok: true as const, value: Number.NaN }, 0.1, "Inconclusive"],
    ["an unreachable Prometheus", { ok: false as const, error: "ECONNREFUSED" }, 0.1, "Error"],
  ])("%s", (_name, answer, baseline, result) => {
    expect(judgePrometheus(check, answer, baseline).result).toBe(result);
  });

  it("reads one sample, and refuses several", () => {
    expect(sampleOf({ resultType: "vector", result: [] })).toEqual({ ok: true, value: undefined });
    expect(sampleOf({ resultType: "vector", result: [{ value: [1, "0.25"] }] })).toEqual({ ok: true, value: 0.25 });
    expect(sampleOf({ resultType: "vector", result: [{ value: [1, "1"] }, { value: [1, "2"] }] }).ok).toBe(false);
    expect(sampleOf({ resultType: "scalar", result: [1, "NaN"] })).toMatchObject({ ok: true });
  });
});

describe("judgeWorkload", () => {
  const deployment = (available: number, extra: Record<string, unknown> = {}) => ({
    metadata: { generation: 2 },
    spec: { replicas: 2 },
    status: { observedGeneration: 2, availableReplicas: available, ...extra },
  });
  it.each([
    ["all available", deployment(2), "Successful"],
    ["too few and settled", deployment(1, { updatedReplicas: 2 }), "Failed"],
    [
      "too few while rolling out",
      deployment(1, { conditions: [{ type: "Progressing", status: "True" }] }),
      "Inconclusive",
    ],
    [
      "stuck past its progress deadline",
      deployment(1, { conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }] }),
      "Failed",
    ],
    ["gone", undefined, "Failed"],
  ])("%s", (_name, workload, result) => {
    expect(judgeWorkload("Deployment", workload as never, 1).result).toBe(result);
  });

  it("gives new pods time to become available after the action", () => {
    const settling = deployment(1, { updatedReplicas: 2 });
    expect(judgeWorkload("Deployment", settling as never, 1, 5_000)).toMatchObject({
      result: "Inconclusive",
      settling: true,
    });
    // Up to the Deployment's progress deadline (600 s by default), as the Deployment controller itself waits.
    expect(judgeWorkload("Deployment", settling as never, 1, 300_000).result).toBe("Inconclusive");
    expect(judgeWorkload("Deployment", settling as never, 1, 700_000).result).toBe("Failed");
  });

  it.each([
    [
      "a StatefulSet whose pods are not all updated yet",
      "StatefulSet",
      { replicas: 2 },
      { observedGeneration: 2, availableReplicas: 1, updatedReplicas: 1, currentRevision: "a", updateRevision: "b" },
      "Inconclusive",
    ],
    [
      "a StatefulSet, updated and short of replicas",
      "StatefulSet",
      { replicas: 2 },
      { observedGeneration: 2, availableReplicas: 1, updatedReplicas: 2, currentRevision: "b", updateRevision: "b" },
      "Failed",
    ],
    [
      "a DaemonSet still updating",
      "DaemonSet",
      {},
      { observedGeneration: 2, desiredNumberScheduled: 2, numberAvailable: 1, updatedNumberScheduled: 1 },
      "Inconclusive",
    ],
    [
      "a DaemonSet, updated and short",
      "DaemonSet",
      {},
      { observedGeneration: 2, desiredNumberScheduled: 2, numberAvailable: 1, updatedNumberScheduled: 2 },
      "Failed",
    ],
  ])("%s", (_name, kind, specPart, statusPart, result) => {
    expect(
      judgeWorkload(kind, { metadata: { generation: 2 }, spec: specPart, status: statusPart } as never, 1).result,
    ).toBe(result);
  });
});
