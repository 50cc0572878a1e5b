import { describe, expect, it } from "vitest";
import type { ApprovalPolicySpec, HealingIntentSpec } from "../api/index.ts";
import { evaluateIntent } from "./evaluate.ts";
import { duplicateOf, intentId } from "./identity.ts";
import { planAction } from "./plan.ts";
import { type PolicyCandidate, policyCandidate, resolvePolicy } from "./policy.ts";
import { matchesSelector } from "./selector.ts";

const spec = (overrides: Partial<HealingIntentSpec> = {}): HealingIntentSpec => ({
  action: "scale",
  target: { kind: "Deployment", name: "web" },
  parameters: { replicas: 6 },
  justification: "j",
  confidence: 0.8,
  incidentId: "INC-1",
  detectedAt: "2026-11-21T10:00:00Z",
  source: { type: "alert", name: "a" },
  ...overrides,
});

describe("intentId", () => {
  it("depends on namespace, action, target, parameters and incident only", () => {
    const base = intentId("ns", spec());
    expect(
      intentId("ns", spec({ justification: "other", confidence: 0.1, source: { type: "human", name: "x" } })),
    ).toBe(base);
    for (const different of [
      intentId("other", spec()),
      intentId("ns", spec({ parameters: { replicas: 7 } })),
      intentId("ns", spec({ target: { kind: "StatefulSet", name: "web" } })),
      intentId("ns", spec({ incidentId: "INC-2" })),
    ]) {
      expect(different).not.toBe(base);
    }
    expect(base).toMatch(/^hi-[0-9a-f]{20}$/);
  });
});

describe("duplicateOf", () => {
  const id = (name: string, created: string, intentIdValue = "hi-1", deleting = false) => ({
    name,
    intentId: intentIdValue,
    creationTimestamp: created,
    deleting,
  });
  it.each([
    ["the oldest owns the id", id("b", "2026-01-02"), [id("a", "2026-01-01")], "a"],
    ["the owner is not its own duplicate", id("a", "2026-01-01"), [id("b", "2026-01-02")], undefined],
    ["a tie in age goes to the first name", id("b", "2026-01-01"), [id("a", "2026-01-01")], "a"],
    ["other ids do not count", id("b", "2026-01-02"), [id("a", "2026-01-01", "hi-2")], undefined],
    ["intents being deleted do not count", id("b", "2026-01-02"), [id("a", "2026-01-01", "hi-1", true)], undefined],
  ])("%s", (_name, self, siblings, expected) => {
    expect(duplicateOf(self, siblings)).toBe(expected);
  });
});

describe("matchesSelector", () => {
  const labels = { app: "web", tier: "frontend" };
  it.each([
    [{}, true],
    [{ matchLabels: { app: "web" } }, true],
    [{ matchLabels: { app: "api" } }, false],
    [{ matchExpressions: [{ key: "tier", operator: "In" as const, values: ["frontend", "edge"] }] }, true],
    [{ matchExpressions: [{ key: "tier", operator: "NotIn" as const, values: ["frontend"] }] }, false],
    [{ matchExpressions: [{ key: "zone", operator: "NotIn" as const, values: ["a"] }] }, true],
    [{ matchExpressions: [{ key: "app", operator: "Exists" as const }] }, true],
    [{ matchExpressions: [{ key: "app", operator: "DoesNotExist" as const }] }, false],
  ])("%j -> %s", (selector, expected) => {
    expect(matchesSelector(selector, labels)).toBe(expected);
  });
});

describe("resolvePolicy", () => {
  const policy = (mode: ApprovalPolicySpec["mode"], selector?: ApprovalPolicySpec["selector"]): ApprovalPolicySpec => ({
    mode,
    requiredApprovals: 1,
    approvalTTL: "1h",
    intentLifetime: "1h",
    requireRollbackPlan: false,
    ...(selector ? { selector } : {}),
  });
  const labels = { app: "web" };

  it.each([
    ["no policy means advisory", [], undefined, "advisory", "NoPolicy"],
    ["a catch-all policy governs", [{ name: "all", spec: policy("autonomous") }], "all", "autonomous", "PolicyMatched"],
    [
      "the most specific matching policy wins",
      [
        { name: "all", spec: policy("autonomous") },
        {
          name: "scale-web",
          spec: policy("approval", { actions: ["scale"], targetSelector: { matchLabels: { app: "web" } } }),
        },
      ],
      "scale-web",
      "approval",
      "PolicyMatched",
    ],
    [
      "a policy for other actions does not match",
      [{ name: "restarts", spec: policy("autonomous", { actions: ["restart"] }) }],
      undefined,
      "advisory",
      "NoPolicy",
    ],
    [
      "minConfidence above the intent's excludes the policy",
      [{ name: "sure", spec: policy("autonomous", { minConfidence: 0.9 }) }],
      undefined,
      "advisory",
      "NoPolicy",
    ],
    [
      "equal specificity is broken by name and reported",
      [
        { name: "zeta", spec: policy("autonomous", { actions: ["scale"] }) },
        { name: "alpha", spec: policy("approval", { targetKinds: ["Deployment"] }) },
      ],
      "alpha",
      "approval",
      "PolicyTie",
    ],
    [
      "an invalid policy that could govern blocks (fail closed), even beside a valid catch-all",
      [
        { name: "broken", spec: undefined, problems: "spec.limits.rateLimit.window: bad" },
        { name: "catch-all", spec: policy("autonomous") },
      ],
      undefined,
      "advisory",
      "PolicyInvalid",
    ],
    [
      "an invalid policy whose valid selector does not select the intent is only noted",
      [
        { name: "broken", spec: undefined, problems: "x", selector: { actions: ["restart" as const] } },
        { name: "catch-all", spec: policy("autonomous") },
      ],
      "catch-all",
      "autonomous",
      "PolicyMatched",
    ],
  ] as const)("%s", (_name, candidates, winner, mode, reason) => {
    const resolution = resolvePolicy(spec(), labels, [...candidates] as PolicyCandidate[]);
    expect(resolution.policy?.name).toBe(winner);
    expect(resolution.mode).toBe(mode);
    expect(resolution.reason).toBe(reason);
  });

  it("names the broken policy and its field, and reads an invalid policy's selector on its own", () => {
    const broken = policyCandidate("strict", {
      mode: "approval",
      approvers: { users: ["alice"] },
      limits: { rateLimit: { maxActions: 1, window: "soon" } },
    });
    expect(broken.spec).toBeUndefined();
    expect(broken.selector).toBeNull();
    const resolution = resolvePolicy(spec(), labels, [broken, { name: "loose", spec: policy("autonomous") }]);
    expect(resolution.reason).toBe("PolicyInvalid");
    expect(resolution.policy).toBeUndefined();
    expect(resolution.message).toContain("ApprovalPolicy strict is invalid (spec.limits.rateLimit.window:");
    const elsewhere = policyCandidate("restarts-only", { selector: { actions: ["restart"] }, mode: "bogus" });
    expect(elsewhere.selector).toEqual({ actions: ["restart"] });
    expect(resolvePolicy(spec(), labels, [elsewhere]).notes).toEqual([
      "ApprovalPolicy restarts-only is invalid but does not select this intent",
    ]);
  });

  it("does not match a label selector when the target's labels are unknown", () => {
    const resolution = resolvePolicy(spec(), undefined, [
      { name: "web", spec: policy("autonomous", { targetSelector: { matchLabels: labels } }) },
    ]);
    expect(resolution.reason).toBe("NoPolicy");
  });
});

const uid = "uid-web";
const template = (image: string, extra: Record<string, string> = {}) => ({
  metadata: { labels: { app: "web", ...extra } },
  spec: { containers: [{ name: "app", image }] },
});
const deployment = (revision: number, image: string, paused = false) => ({
  metadata: { name: "web", uid, annotations: { "deployment.kubernetes.io/revision": String(revision) } },
  spec: { replicas: 3, paused, selector: { matchLabels: { app: "web" } }, template: template(image) },
});
const replicaSet = (revision: number, image: string, owner = uid) => ({
  metadata: {
    name: `web-${revision}`,
    labels: { app: "web", "pod-template-hash": `h${revision}` },
    annotations: { "deployment.kubernetes.io/revision": String(revision), "team/owner": "sre" },
    ownerReferences: [{ uid: owner, controller: true, apiVersion: "apps/v1", kind: "Deployment", name: "web" }],
  },
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: template(image, { "pod-template-hash": `h${revision}` }),
  },
});
const revision = (n: number, image: string) => ({
  apiVersion: "apps/v1",
  metadata: {
    name: `cache-${n}`,
    labels: { app: "web" },
    ownerReferences: [{ uid, controller: true, apiVersion: "apps/v1", kind: "StatefulSet", name: "cache" }],
  },
  revision: n,
  data: { spec: { template: { ...template(image), $patch: "replace" } } },
});

describe("planAction", () => {
  it.each([
    [
      "scale a Deployment",
      spec(),
      { kind: "Deployment", workload: deployment(1, "a:1") },
      "deployment/web replicas 3 -> 6",
    ],
    [
      "scale to the current count is a no-op",
      spec({ parameters: { replicas: 3 } }),
      { kind: "Deployment", workload: deployment(1, "a:1") },
      "deployment/web already has 3 replicas; nothing to change",
    ],
    [
      "restart a StatefulSet",
      spec({ action: "restart", parameters: undefined, target: { kind: "StatefulSet", name: "web" } }),
      { kind: "StatefulSet", workload: deployment(1, "a:1") },
      "restart statefulset/web: roll every pod by setting the pod-template annotation kubectl.kubernetes.io/restartedAt",
    ],
    [
      "roll a Deployment back to the previous revision",
      spec({ action: "rollback", parameters: undefined }),
      {
        kind: "Deployment",
        workload: deployment(3, "app:1.4"),
        replicaSets: [replicaSet(1, "app:1.2"), replicaSet(2, "app:1.3"), replicaSet(3, "app:1.4")],
      },
      "rollback deployment/web from revision 3 (image app:1.4) to revision 2 (image app:1.3)",
    ],
    [
      "roll a Deployment back to a named revision",
      spec({ action: "rollback", parameters: { revision: 1 } }),
      {
        kind: "Deployment",
        workload: deployment(3, "app:1.4"),
        replicaSets: [replicaSet(1, "app:1.2"), replicaSet(2, "app:1.3"), replicaSet(3, "app:1.4")],
      },
      "rollback deployment/web from revision 3 (image app:1.4) to revision 1 (image app:1.2)",
    ],
    [
      "roll a StatefulSet back through ControllerRevisions",
      spec({ action: "rollback", parameters: undefined, target: { kind: "StatefulSet", name: "cache" } }),
      {
        kind: "StatefulSet",
        workload: { ...deployment(0, "c:2"), status: { updateRevision: "cache-2" } },
        controllerRevisions: [revision(1, "c:1"), revision(2, "c:2")],
      },
      "rollback statefulset/cache from revision 2 (image c:2) to revision 1 (image c:1)",
    ],
  ] as const)("%s", (_name, intent, observed, summary) => {
    const plan = planAction(intent, { name: intent.target.name, ...(observed as any) });
    expect(plan.ok && plan.summary).toBe(summary);
  });

  it.each([
    ["a missing target", spec(), { kind: "Deployment" }, "TargetNotFound"],
    [
      "scaling a DaemonSet",
      spec({ target: { kind: "DaemonSet", name: "web" } }),
      { kind: "DaemonSet", workload: deployment(1, "a") },
      "ActionNotApplicable",
    ],
    [
      "restarting a paused Deployment",
      spec({ action: "restart", parameters: undefined }),
      { kind: "Deployment", workload: deployment(1, "a", true) },
      "TargetPaused",
    ],
    [
      "a revision that does not exist",
      spec({ action: "rollback", parameters: { revision: 9 } }),
      { kind: "Deployment", workload: deployment(2, "a"), replicaSets: [replicaSet(1, "x"), replicaSet(2, "a")] },
      "RevisionNotFound",
    ],
    [
      "ReplicaSets of another Deployment",
      spec({ action: "rollback", parameters: undefined }),
      { kind: "Deployment", workload: deployment(2, "a"), replicaSets: [replicaSet(1, "x", "other-uid")] },
      "RevisionNotFound",
    ],
  ] as const)("refuses %s", (_name, intent, observed, reason) => {
    const plan = planAction(intent, { name: intent.target.name, ...(observed as any) });
    expect(plan.ok ? "ok" : plan.reason).toBe(reason);
  });

  it("copies the revision's template without pod-template-hash, and its annotations without the deployment-owned ones", () => {
    const plan = planAction(spec({ action: "rollback", parameters: undefined }), {
      kind: "Deployment",
      name: "web",
      workload: deployment(2, "app:2") as any,
      replicaSets: [replicaSet(1, "app:1"), replicaSet(2, "app:2")] as any,
    });
    if (!plan.ok || plan.mutation.type !== "rollbackDeployment") throw new Error("expected a deployment rollback");
    expect(plan.mutation.template.metadata?.labels).toEqual({ app: "web" });
    expect(plan.mutation.annotations).toEqual({ "team/owner": "sre" });
    expect(plan.changes).toContainEqual({ field: "image of container app", from: "app:2", to: "app:1" });
  });
});

describe("evaluateIntent", () => {
  const observation = (now: string, previous?: any) => ({
    generation: 1,
    previous,
    intentId: "hi-1",
    policy: resolvePolicy(spec(), {}, []),
    plan: planAction(spec(), { kind: "Deployment", name: "web", workload: deployment(1, "a") as any }),
    dryRun: { validated: true },
    edition: "oss" as const,
    now: new Date(now),
  });

  it("ends advisory in the OSS edition with the recommendation", () => {
    const { status, events } = evaluateIntent(observation("2026-11-21T10:00:00Z"));
    expect(status.phase).toBe("Advisory");
    expect(status.recommendation?.summary).toBe("deployment/web replicas 3 -> 6");
    expect(status.decision?.verdict).toBe("Recommend");
    expect(status.conditions?.find((c) => c.type === "Executed")?.reason).toBe("AdvisoryOnly");
    expect(events.map((e) => e.reason)).toContain("Recommended");
  });

  it("tells a decision in one Event: the policy resolved with it goes into the recommendation's", () => {
    const { events } = evaluateIntent(observation("2026-11-21T10:00:00Z"));
    expect(events).toEqual([
      {
        type: "Normal",
        reason: "Recommended",
        message: expect.stringMatching(
          /^deployment\/web replicas 3 -> 6; .*ApprovalPolicy|^deployment\/web replicas 3 -> 6; .*polic/,
        ),
      },
    ]);
  });

  it("does not change settled status when re-evaluated later (no flapping)", () => {
    const first = evaluateIntent(observation("2026-11-21T10:00:00Z")).status;
    const again = evaluateIntent(observation("2026-11-21T11:00:00Z", first));
    expect(again.status).toEqual(first);
    expect(again.events).toEqual([]);
  });

  it("does not churn when the API server hands the status back with its keys sorted", () => {
    const first = evaluateIntent({
      ...observation("2026-11-21T10:00:00Z"),
      dryRun: { validated: true, message: "accepted" },
    }).status;
    const sorted = JSON.parse(
      JSON.stringify(first, (_k, v) =>
        v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v,
      ),
    );
    const again = evaluateIntent({
      ...observation("2026-11-21T10:00:07Z", sorted),
      dryRun: sorted.recommendation.dryRun,
    });
    expect(again.status.recommendation?.computedAt).toBe("2026-11-21T10:00:00Z");
  });

  it("moves lastTransitionTime only for the condition whose status changed", () => {
    const first = evaluateIntent(observation("2026-11-21T10:00:00Z")).status;
    const invalid = evaluateIntent({
      ...observation("2026-11-21T11:00:00Z", first),
      problems: [{ field: "spec.confidence", message: "too big" }],
    });
    const valid = invalid.status.conditions?.find((c) => c.type === "Valid");
    expect(valid).toMatchObject({ status: "False", reason: "InvalidSpec", lastTransitionTime: "2026-11-21T11:00:00Z" });
    expect(valid?.message).toContain("spec.confidence: too big");
    expect(invalid.status.phase).toBe("Invalid");
  });

  it("marks a duplicate and does not recommend for it", () => {
    const { status } = evaluateIntent({ ...observation("2026-11-21T10:00:00Z"), duplicateOf: "first" });
    expect(status.phase).toBe("Duplicate");
    expect(status.duplicateOf).toBe("first");
    expect(status.recommendation).toBeUndefined();
  });
});
