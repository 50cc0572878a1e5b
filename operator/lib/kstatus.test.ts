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
    ["Advisory", "True", "False"],
    ["AwaitingApproval", "True", "False"],
    ["Executing", "True", "False"],
    ["Succeeded", "True", "False"],
    ["Duplicate", "True", "False"],
    ["Invalid", "False", "True"],
    ["Refused", "False", "True"],
    ["Rejected", "False", "True"],
    ["Expired", "False", "True"],
    ["Failed", "False", "True"],
    ["RolledBack", "False", "True"],
  ])("a HealingIntent in %s is Ready=%s, Stalled=%s", (phase, ready, stalled) => {
    expect(conditionsOf("healingintents", { phase, observedGeneration: 2 })).toMatchObject({
      Ready: ready,
      Stalled: stalled,
    });
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
