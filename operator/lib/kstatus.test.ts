import { describe, expect, it } from "vitest";
import { withGitOpsConditions } from "./kstatus.ts";

const now = new Date("2026-11-22T10:00:00Z");
const conditionsOf = (plural: string, status: Record<string, unknown>) =>
  Object.fromEntries(
    (
      (withGitOpsConditions(plural, status, now) as { conditions: Array<{ type: string; status: string }> })
        .conditions ?? []
    ).map((c) => [c.type, c.status]),
  );

describe("conditions for Flux's kstatus and Argo CD", () => {
  it.each([
    ["Advisory", "True", "False", "False"],
    ["AwaitingApproval", "True", "False", "False"],
    ["Pending", "Unknown", "True", "False"],
    ["Approved", "Unknown", "True", "False"],
    ["Executing", "Unknown", "True", "False"],
    ["Succeeded", "True", "False", "False"],
    ["Duplicate", "True", "False", "False"],
    ["Invalid", "False", "False", "True"],
    ["Refused", "False", "False", "True"],
    ["Rejected", "False", "False", "True"],
    ["Expired", "False", "False", "True"],
    ["Failed", "False", "False", "True"],
    ["RolledBack", "False", "False", "True"],
  ])("a HealingIntent in %s is Ready=%s, Reconciling=%s, Stalled=%s", (phase, ready, reconciling, stalled) => {
    expect(conditionsOf("healingintents", { phase, observedGeneration: 2 })).toEqual({
      Ready: ready,
      Reconciling: reconciling,
      Stalled: stalled,
    });
  });

  const validPlan = (window?: Record<string, unknown>) => ({
    observedGeneration: 1,
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "Valid",
        message: "valid",
        lastTransitionTime: "2026-11-22T09:00:00Z",
        observedGeneration: 1,
      },
    ],
    ...(window ? { window } : {}),
  });

  it.each([
    ["no window yet", undefined, "False", "False"],
    ["a window watching", { state: "Watching" }, "False", "False"],
    ["a window that passed", { state: "Passed" }, "False", "False"],
    ["an inconclusive window", { state: "Inconclusive" }, "False", "False"],
    ["an undo running", { state: "RolledBack", rollback: { state: "Started" } }, "False", "True"],
    ["an undo that worked", { state: "RolledBack", rollback: { state: "Succeeded" } }, "False", "False"],
    // Never a sync failure: nothing could clear it before the next action (the alerts report it).
    ["an undo that failed", { state: "RolledBack", rollback: { state: "Failed", message: "moved" } }, "False", "False"],
    ["a failed window that only alerts", { state: "AlertOnly", verdict: { message: "errors" } }, "False", "False"],
  ])("a valid RollbackPlan with %s is Stalled=%s, Reconciling=%s", (_what, window, stalled, reconciling) => {
    expect(conditionsOf("rollbackplans", validPlan(window))).toMatchObject({
      Ready: "True",
      Stalled: stalled,
      Reconciling: reconciling,
    });
  });

  it.each([
    ["FreezeWindow", "True", "False"],
    ["TooFewAvailable", "True", "False"],
    ["RateLimited", "True", "False"],
    ["AdmissionPolicyMissing", "True", "False"],
    ["MaxReplicasExceeded", "False", "True"],
  ])(
    "a HealingIntent Refused with %s (retried by the operator unless terminal) is Ready=%s, Stalled=%s",
    (reason, ready, stalled) => {
      const status = {
        phase: "Refused",
        observedGeneration: 1,
        conditions: [
          {
            type: "Executed",
            status: "False",
            reason,
            message: "m",
            lastTransitionTime: "2026-11-22T09:00:00Z",
            observedGeneration: 1,
          },
        ],
      };
      expect(conditionsOf("healingintents", status)).toMatchObject({ Ready: ready, Stalled: stalled });
    },
  );

  it("an invalid plan whose undo was left started is Stalled, not also Reconciling", () => {
    const invalid = {
      ...validPlan({ state: "RolledBack", rollback: { state: "Started" } }),
      conditions: [
        {
          type: "Ready",
          status: "False",
          reason: "InvalidSpec",
          message: "bad",
          lastTransitionTime: "2026-11-22T09:00:00Z",
          observedGeneration: 1,
        },
      ],
    };
    expect(conditionsOf("rollbackplans", invalid)).toMatchObject({ Stalled: "True", Reconciling: "False" });
  });

  it("an invalid policy or plan is Stalled; a valid one is not", () => {
    const ready = (status: string) => ({
      observedGeneration: 1,
      conditions: [
        {
          type: "Ready",
          status,
          reason: status === "True" ? "Valid" : "InvalidSpec",
          message: "m",
          lastTransitionTime: "2026-11-22T09:00:00Z",
        },
      ],
    });
    expect(conditionsOf("approvalpolicies", ready("False"))).toMatchObject({ Ready: "False", Stalled: "True" });
    expect(conditionsOf("rollbackplans", ready("True"))).toMatchObject({ Ready: "True", Stalled: "False" });
  });

  it("keeps lastTransitionTime when nothing changed", () => {
    const once = withGitOpsConditions("healingintents", { phase: "Advisory", observedGeneration: 1 }, now);
    const twice = withGitOpsConditions("healingintents", once, new Date("2026-11-22T11:00:00Z"));
    expect(twice).toEqual(once);
  });
});
