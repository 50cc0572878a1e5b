import { describe, expect, it } from "vitest";
import type { ApprovalPolicySpec, HealingIntentSpec } from "../api/index.ts";
import { decideIntent, expiresAt, type IntentFacts } from "./decide.ts";
import { planDigest } from "./digest.ts";
import { planAction } from "./plan.ts";
import type { PolicyResolution } from "./policy.ts";

const created = new Date("2026-11-20T10:00:00Z");
const spec = (overrides: Partial<HealingIntentSpec> = {}): HealingIntentSpec => ({
  action: "scale",
  target: { kind: "Deployment", name: "web" },
  parameters: { replicas: 6 },
  justification: "j",
  confidence: 0.9,
  incidentId: "INC",
  detectedAt: "2026-11-20T09:59:00Z",
  source: { type: "alert", name: "a" },
  ...overrides,
});
const policySpec = (overrides: Partial<ApprovalPolicySpec> = {}): ApprovalPolicySpec => ({
  mode: "autonomous",
  requiredApprovals: 1,
  approvalTTL: "1h",
  intentLifetime: "1h",
  requireRollbackPlan: false,
  ...overrides,
});
const workload: any = {
  metadata: { name: "web", uid: "u", generation: 4 },
  spec: { replicas: 3, template: { spec: { containers: [{ name: "app", image: "a:1" }] } } },
  status: { availableReplicas: 3 },
};

function facts(overrides: Partial<IntentFacts> & { policy?: PolicyResolution } = {}, s = spec()): IntentFacts {
  const plan = planAction(s, { kind: "Deployment", name: "web", workload });
  const policy: PolicyResolution = {
    policy: { name: "p", spec: policySpec() },
    mode: "autonomous",
    reason: "PolicyMatched",
    message: "m",
    notes: [],
  };
  return {
    now: new Date(created.getTime() + 60_000),
    generation: 1,
    createdAt: created,
    previous: undefined,
    edition: "licensed",
    spec: s,
    intentId: "hi-1",
    policy,
    workload,
    plan,
    digest: plan.ok ? planDigest("ns", s, plan, workload) : undefined,
    dryRun: { validated: true },
    recentActions: [],
    admission: { verified: true, lastChanged: new Date("2026-11-01T00:00:00Z") },
    ...overrides,
  };
}

describe("an intent's bounded life", () => {
  it("is the shorter of the policy's intentLifetime (default 1h) and spec.expiresAfter", () => {
    expect(expiresAt(created, undefined, undefined).toISOString()).toBe("2026-11-20T11:00:00.000Z");
    expect(expiresAt(created, policySpec({ intentLifetime: "10m" }), undefined).toISOString()).toBe(
      "2026-11-20T10:10:00.000Z",
    );
    expect(expiresAt(created, policySpec(), spec({ expiresAfter: "90s" })).toISOString()).toBe(
      "2026-11-20T10:01:30.000Z",
    );
    expect(expiresAt(created, policySpec({ intentLifetime: "5m" }), spec({ expiresAfter: "2h" })).toISOString()).toBe(
      "2026-11-20T10:05:00.000Z",
    );
  });

  it.each([
    ["an autonomous intent within its life executes", facts(), "Approved", true],
    [
      "an autonomous intent past its life expires, never executes",
      facts({ now: new Date("2026-11-20T11:00:00Z") }),
      "Expired",
      false,
    ],
    [
      "an OSS intent past its life expires (a license arriving later cannot run it)",
      facts({ edition: "oss", now: new Date("2026-11-20T12:00:00Z") }),
      "Expired",
      false,
    ],
    [
      "a duplicate past its life expires",
      facts({ duplicateOf: "other", now: new Date("2026-11-20T11:00:01Z") }),
      "Expired",
      false,
    ],
    [
      "an invalid policy blocks execution",
      facts({
        policy: { mode: "advisory", reason: "PolicyInvalid", message: "ApprovalPolicy x is invalid", notes: [] },
      }),
      "Refused",
      false,
    ],
  ] as const)("%s", (_name, input, phase, executes) => {
    const decided = decideIntent(input);
    expect(decided.status.phase).toBe(phase);
    expect(Boolean(decided.execute)).toBe(executes);
    if (phase === "Expired") {
      expect(decided.status.conditions?.find((c) => c.type === "Executed")).toMatchObject({
        status: "False",
        reason: "Expired",
      });
    }
  });

  it("asks to be looked at again no later than when its life ends", () => {
    const decided = decideIntent(facts({ edition: "oss" }));
    expect(decided.requeueAfterMs).toBe(59 * 60_000);
  });

  it.each([
    ["advisory (OSS)", { edition: "oss" as const }, spec()],
    [
      "awaiting approval",
      {
        policy: {
          policy: { name: "p", spec: policySpec({ mode: "approval", approvers: { users: ["alice"] } }) },
          mode: "approval",
          reason: "PolicyMatched",
          message: "m",
          notes: [],
        } as PolicyResolution,
      },
      spec({ requestedBy: "bob" }),
    ],
  ] as const)(
    "settles: deciding %s again later, from its own status, writes nothing new",
    (_name, overrides, intentSpec) => {
      const first = decideIntent(facts(overrides, intentSpec)).status;
      const later = {
        ...facts(overrides, intentSpec),
        now: new Date(created.getTime() + 30 * 60_000),
        previous: first,
      };
      // A status written again on every resync would be a write per intent per resync (and churn for GitOps tools).
      expect(decideIntent(later).status).toEqual(first);
    },
  );

  it("records the plan digest in the recommendation", () => {
    const input = facts();
    expect(decideIntent(input).status.recommendation?.digest).toBe(input.digest);
    expect(input.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe("planDigest", () => {
  it("changes when the observed starting point changes, so old approvals stop counting", () => {
    const s = spec();
    const at = (replicas: number) => {
      const w = { ...workload, spec: { ...workload.spec, replicas } };
      const plan = planAction(s, { kind: "Deployment", name: "web", workload: w });
      if (!plan.ok) throw new Error("no plan");
      return planDigest("ns", s, plan, w);
    };
    expect(at(3)).toBe(at(3));
    expect(at(3)).not.toBe(at(10));
  });
});
