import { describe, expect, it } from "vitest";
import type { ApprovalPolicySpec, HealingIntentSpec } from "../api/index.ts";
import { checkLimits, climbLadder, countApprovals, frozenUntil, type LadderInput } from "./ladder.ts";
import { type Plan, planAction } from "./plan.ts";

const now = new Date("2026-11-20T18:30:00Z"); // a Friday
const policy = (overrides: Partial<ApprovalPolicySpec> = {}): ApprovalPolicySpec => ({
  mode: "autonomous",
  requiredApprovals: 1,
  approvalTTL: "1h",
  intentLifetime: "1h",
  requireRollbackPlan: false,
  ...overrides,
});
const DIGEST = `sha256:${"a".repeat(64)}`;
const OTHER_DIGEST = `sha256:${"b".repeat(64)}`;
const VERIFIED = { verified: true as const, lastChanged: new Date("2026-11-20T17:00:00Z") };
const spec = (overrides: Partial<HealingIntentSpec> = {}): HealingIntentSpec => ({
  action: "scale",
  target: { kind: "Deployment", name: "web" },
  parameters: { replicas: 6 },
  justification: "j",
  confidence: 0.9,
  incidentId: "INC",
  detectedAt: "2026-11-20T18:00:00Z",
  source: { type: "alert", name: "a" },
  requestedBy: "requester",
  ...overrides,
});
const workload = (replicas = 3, available = 3): any => ({
  metadata: { name: "web", uid: "u" },
  spec: { replicas, template: { spec: { containers: [{ name: "app", image: "a:1" }] } } },
  status: { availableReplicas: available },
});
const okPlan = (s: HealingIntentSpec, w = workload()) => {
  const plan = planAction(s, { kind: s.target.kind, name: s.target.name, workload: w });
  if (!plan.ok) throw new Error(plan.message);
  return plan;
};

describe("checkLimits", () => {
  it.each([
    [
      "within every limit",
      policy({ limits: { maxReplicas: 10, maxScaleFactor: 3 } }),
      spec(),
      workload(),
      [],
      undefined,
    ],
    ["above maxReplicas", policy({ limits: { maxReplicas: 5 } }), spec(), workload(), [], "MaxReplicasExceeded"],
    [
      "above maxScaleFactor when scaling out",
      policy({ limits: { maxScaleFactor: 1.5 } }),
      spec(),
      workload(),
      [],
      "MaxScaleFactorExceeded",
    ],
    [
      "above maxScaleFactor when scaling in",
      policy({ limits: { maxScaleFactor: 2 } }),
      spec({ parameters: { replicas: 1 } }),
      workload(),
      [],
      "MaxScaleFactorExceeded",
    ],
    [
      "scaling from zero under a scale factor",
      policy({ limits: { maxScaleFactor: 2 } }),
      spec({ parameters: { replicas: 2 } }),
      workload(0, 0),
      [],
      "MaxScaleFactorExceeded",
    ],
    [
      "restart with too few available",
      policy({ limits: { minAvailableRatio: 0.8 } }),
      spec({ action: "restart", parameters: undefined }),
      workload(4, 2),
      [],
      "TooFewAvailable",
    ],
    [
      "scale ignores availability",
      policy({ limits: { minAvailableRatio: 0.8 } }),
      spec(),
      workload(4, 2),
      [],
      undefined,
    ],
    [
      "the rate limit reached in the window",
      policy({ limits: { rateLimit: { maxActions: 2, window: "1h" } } }),
      spec(),
      workload(),
      [new Date("2026-11-20T18:00:00Z"), new Date("2026-11-20T18:10:00Z")],
      "RateLimited",
    ],
    [
      "actions older than the window do not count",
      policy({ limits: { rateLimit: { maxActions: 2, window: "1h" } } }),
      spec(),
      workload(),
      [new Date("2026-11-20T16:00:00Z"), new Date("2026-11-20T18:10:00Z")],
      undefined,
    ],
    [
      "inside a freeze window",
      policy({ freezeWindows: [{ name: "friday", schedule: "0 17 * * 5", duration: "64h" }] }),
      spec(),
      workload(),
      [],
      "FreezeWindow",
    ],
    [
      "outside a freeze window",
      policy({ freezeWindows: [{ name: "monday", schedule: "0 9 * * 1", duration: "2h" }] }),
      spec(),
      workload(),
      [],
      undefined,
    ],
  ] as const)("%s", (_name, p, s, w, recent, reason) => {
    const refusal = checkLimits(p, s, okPlan(s, w), w, [...recent], now);
    expect(refusal?.reason).toBe(reason);
  });

  it("is frozen in the last second of a minute too (regression: a later reference point skipped it)", () => {
    const lastSecond = new Date("2026-11-21T06:12:59.119Z");
    expect(frozenUntil("* * * * *", "1h", undefined, lastSecond)?.toISOString()).toBe("2026-11-21T07:12:00.000Z");
    expect(frozenUntil("13 6 * * *", "1m", undefined, new Date("2026-11-21T06:13:00.000Z"))?.toISOString()).toBe(
      "2026-11-21T06:14:00.000Z",
    );
    expect(frozenUntil("13 6 * * *", "1m", undefined, new Date("2026-11-21T06:12:59.999Z"))).toBeUndefined();
  });

  it("tells when a freeze window ends", () => {
    expect(frozenUntil("0 17 * * 5", "64h", undefined, now)?.toISOString()).toBe("2026-11-23T09:00:00.000Z");
    expect(frozenUntil("0 17 * * 5", "1h", "Europe/Berlin", now)).toBeUndefined();
    expect(frozenUntil("0 19 * * 5", "1h", "Europe/Berlin", now)?.toISOString()).toBe("2026-11-20T19:00:00.000Z");
  });
});

describe("countApprovals", () => {
  const p = policy({
    mode: "approval",
    approvers: { users: ["alice", "bob", "requester"], groups: ["sre"] },
    requiredApprovals: 2,
  });
  it("counts allowed approvers, ignores the requester and outsiders, and notes rejections", () => {
    const count = countApprovals(
      [
        { user: "requester", decision: "approve", planDigest: DIGEST },
        { user: "alice", decision: "approve", planDigest: DIGEST },
        { user: "outsider", decision: "approve", planDigest: DIGEST },
        { user: "carol", decision: "approve", groups: ["sre"], planDigest: DIGEST },
        { user: "bob", decision: "reject" },
      ],
      "requester",
      p,
      DIGEST,
    );
    expect(count.counted).toEqual(["alice", "carol"]);
    expect(count.ignored.map((i) => i.user)).toEqual(["requester", "outsider"]);
    expect(count.ignored[0]?.reason).toContain("four-eyes");
    expect(count.rejectedBy).toBe("bob");
  });

  it("counts an approval only for the plan it names", () => {
    const count = countApprovals(
      [
        { user: "alice", decision: "approve", planDigest: OTHER_DIGEST },
        { user: "bob", decision: "approve" },
        { user: "carol", decision: "approve", groups: ["sre"], planDigest: DIGEST },
      ],
      "requester",
      p,
      DIGEST,
    );
    expect(count.counted).toEqual(["carol"]);
    expect(count.ignored).toEqual([
      { user: "alice", reason: expect.stringContaining("but the plan is now aaaaaaaaaaaa; approve the current") },
      { user: "bob", reason: expect.stringContaining("the approval names no plan") },
    ]);
  });
});

describe("limits apply to an undo as to the action it resembles", () => {
  it("an undo restoring replicas obeys maxReplicas and maxScaleFactor", () => {
    const undo = spec({ action: "undo", parameters: { intent: "scale-web" } });
    const plan = (replicas: number, expectedReplicas: number): Extract<Plan, { ok: true }> => ({
      ok: true,
      noop: false,
      summary: "",
      changes: [],
      mutation: { type: "restoreSnapshot", of: "hi-2", replicas, expectedReplicas },
    });
    expect(checkLimits(policy({ limits: { maxReplicas: 10 } }), undo, plan(40, 3), workload(3), [], now)?.reason).toBe(
      "MaxReplicasExceeded",
    );
    expect(checkLimits(policy({ limits: { maxScaleFactor: 2 } }), undo, plan(1, 8), workload(8), [], now)?.reason).toBe(
      "MaxScaleFactorExceeded",
    );
    expect(
      checkLimits(policy({ limits: { maxReplicas: 10 } }), undo, plan(4, 3), workload(3), [], now),
    ).toBeUndefined();
  });
});

describe("climbLadder", () => {
  const input = (overrides: Partial<LadderInput> = {}): LadderInput => {
    const s = overrides.spec ?? spec();
    return {
      policy: { name: "p", spec: policy() },
      spec: s,
      plan: okPlan(s),
      workload: workload(),
      recentActions: [],
      createdAt: new Date("2026-11-20T18:20:00Z"),
      digest: DIGEST,
      admission: VERIFIED,
      now,
      ...overrides,
    };
  };
  const approval = (approvals: HealingIntentSpec["approvals"], extra: Partial<ApprovalPolicySpec> = {}) =>
    input({
      spec: spec({ approvals: approvals?.map((a) => ({ planDigest: DIGEST, ...a })) }),
      policy: {
        name: "p",
        spec: policy({ mode: "approval", approvers: { users: ["alice", "bob"] }, requiredApprovals: 2, ...extra }),
      },
    });

  it.each([
    ["no policy recommends", input({ policy: undefined }), "Recommend"],
    ["advisory recommends", input({ policy: { name: "p", spec: policy({ mode: "advisory" }) } }), "Recommend"],
    ["autonomous executes", input(), "Execute"],
    [
      "autonomous still obeys limits",
      input({ policy: { name: "p", spec: policy({ limits: { maxReplicas: 4 } }) } }),
      "Refuse",
    ],
    ["approval waits for approvals", approval([{ user: "alice", decision: "approve" }]), "AwaitApproval"],
    [
      "approval executes with enough approvals",
      approval([
        { user: "alice", decision: "approve" },
        { user: "bob", decision: "approve" },
      ]),
      "Execute",
    ],
    [
      "a rejection by an allowed approver ends it",
      approval([
        { user: "alice", decision: "approve" },
        { user: "bob", decision: "reject" },
      ]),
      "Reject",
    ],
    [
      "the requester's approval does not count",
      approval([
        { user: "alice", decision: "approve" },
        { user: "requester", decision: "approve" },
      ]),
      "AwaitApproval",
    ],
    [
      "pending approvals expire after the TTL",
      approval([{ user: "alice", decision: "approve" }], { approvalTTL: "5m" }),
      "Expire",
    ],
    [
      "fail closed without the admission policy",
      { ...approval([]), admission: { verified: false, reason: "AdmissionPolicyMissing", message: "m" } },
      "Refuse",
    ],
    [
      "approvals do not count when admission changed after the intent was created",
      {
        ...approval([
          { user: "alice", decision: "approve" },
          { user: "bob", decision: "approve" },
        ]),
        admission: { verified: true, lastChanged: new Date("2026-11-20T18:20:00Z") },
      },
      "Refuse",
    ],
    [
      "approvals of another plan do not count",
      {
        ...approval([
          { user: "alice", decision: "approve" },
          { user: "bob", decision: "approve" },
        ]),
        digest: OTHER_DIGEST,
      },
      "AwaitApproval",
    ],
    ["approval mode needs a recorded requester", { ...approval([]), spec: spec({ requestedBy: undefined }) }, "Refuse"],
  ] as const)("%s", (_name, value, verdict) => {
    expect(climbLadder(value).verdict).toBe(verdict);
  });
});
