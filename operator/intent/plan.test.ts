// planAction's rollback semantics, table by table against what kubectl does
// (kubectl/pkg/polymorphichelpers/rollback.go and history.go).
import { describe, expect, it } from "vitest";
import type { HealingIntentSpec } from "../api/index.ts";
import {
  chooseControllerRevision,
  chooseReplicaSet,
  DEPLOYMENT_OWNED_ANNOTATIONS,
  planAction,
  sameTemplate,
} from "./plan.ts";

const uid = "uid-web";
const rollback = (revision?: number): HealingIntentSpec => ({
  action: "rollback",
  target: { kind: "Deployment", name: "web" },
  ...(revision !== undefined ? { parameters: { revision } } : {}),
  justification: "j",
  confidence: 0.8,
  incidentId: "INC-1",
  detectedAt: "2026-11-21T10:00:00Z",
  source: { type: "alert", name: "a" },
});
const template = (image: string, labels: Record<string, string> = {}) => ({
  metadata: { labels: { app: "web", ...labels } },
  spec: { containers: [{ name: "app", image }] },
});
const deployment = (revision: number, image: string, annotations: Record<string, string> = {}) => ({
  metadata: {
    name: "web",
    uid,
    generation: 7,
    annotations: { "deployment.kubernetes.io/revision": String(revision), ...annotations },
  },
  spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template: template(image) },
});
type Owner = { uid?: string; controller?: boolean };
const replicaSet = (
  revision: number | undefined,
  image: string,
  { owner = { uid, controller: true } as Owner, labels = { app: "web" }, annotations = {} } = {},
) => ({
  metadata: {
    name: `web-${revision ?? "x"}-${image.replace(/\W/g, "")}`,
    labels: { ...labels, "pod-template-hash": `h${revision}` },
    annotations: {
      ...(revision !== undefined ? { "deployment.kubernetes.io/revision": String(revision) } : {}),
      ...annotations,
    },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", ...owner }],
  },
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: template(image, { "pod-template-hash": `h${revision}` }),
  },
});
const controllerRevision = (n: number, image: string, owner: Owner = { uid, controller: true }) => ({
  metadata: {
    name: `web-${n}-${image.replace(/\W/g, "")}`,
    labels: { app: "web" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "web", ...owner }],
  },
  revision: n,
  data: { spec: { template: { ...template(image), $patch: "replace" } } },
});

const planDeployment = (observed: { workload: unknown; replicaSets?: unknown[] }, revision?: number) =>
  planAction(rollback(revision), { kind: "Deployment", name: "web", ...(observed as any) });
const planStatefulSet = (workload: unknown, revisions: unknown[], revision?: number) =>
  planAction(
    { ...rollback(revision), target: { kind: "StatefulSet", name: "web" } },
    { kind: "StatefulSet", name: "web", workload: workload as any, controllerRevisions: revisions as any },
  );

describe("owned revisions: only those the workload controls (ownerReference with controller: true)", () => {
  it.each([
    ["controller: true", { uid, controller: true }, "app:1"],
    ["controller: false", { uid, controller: false }, "app:2"],
    ["controller missing", { uid }, "app:2"],
    ["another owner's controller reference", { uid: "other", controller: true }, "app:2"],
  ] as const)("a decoy at revision 3 with %s", (_name, owner, target) => {
    // Revision 4 is current; the decoy claims revision 3, the real previous one is 2.
    const plan = planDeployment({
      workload: deployment(4, "app:4"),
      replicaSets: [
        replicaSet(2, "app:2"),
        replicaSet(3, "app:1", { owner }),
        replicaSet(4, "app:4"),
        replicaSet(1, "app:0"),
      ],
    });
    if (!plan.ok) throw new Error(plan.message);
    // With the decoy owned, revision 3 (app:1) is the previous one; otherwise revision 2 (app:2).
    expect(plan.template?.spec?.containers?.[0]?.image).toBe(target);
    expect(plan.toRevision).toBe(target === "app:1" ? 3 : 2);
  });

  it("a ReplicaSet the Deployment's selector does not select is not its history (kubectl lists by selector)", () => {
    const plan = planDeployment({
      workload: deployment(3, "app:3"),
      replicaSets: [
        replicaSet(3, "app:3"),
        replicaSet(2, "app:2", { labels: { app: "other" } }),
        replicaSet(1, "app:1"),
      ],
    });
    expect(plan.ok && plan.toRevision).toBe(1);
  });

  it.each([
    ["controller: false", { uid, controller: false }],
    ["controller missing", { uid }],
  ] as const)("a ControllerRevision with %s is not history", (_name, owner) => {
    const plan = planStatefulSet(
      {
        metadata: { name: "web", uid },
        spec: { selector: { matchLabels: { app: "web" } }, template: template("c:3") },
      },
      [controllerRevision(1, "c:1"), controllerRevision(2, "c:2", owner), controllerRevision(3, "c:3")],
    );
    expect(plan.ok && plan.toRevision).toBe(1);
  });
});

describe("the previous revision is kubectl's: the second-highest owned revision", () => {
  const rs = (revision: number | undefined) => ({
    metadata: revision === undefined ? {} : { annotations: { "deployment.kubernetes.io/revision": String(revision) } },
    id: revision,
  });
  it.each([
    ["in order", [1, 2, 3], undefined, 2],
    ["in any order", [3, 1, 2], undefined, 2],
    ["with gaps", [5, 9, 2], undefined, 5],
    ["one revision: none", [4], undefined, "none"],
    ["no revisions: none", [], undefined, "none"],
    ["a ReplicaSet without the annotation is revision 0", [undefined, 1], undefined, undefined],
    ["a requested revision", [1, 2, 3], 1, 1],
    ["a requested revision that does not exist", [1, 2, 3], 7, "none"],
    ["revision 0 means the previous one", [1, 2, 3], 0, 2],
  ] as const)("ReplicaSets %s", (_name, revisions, requested, expected) => {
    const chosen = chooseReplicaSet(
      revisions.map((r) => rs(r)),
      requested,
    );
    expect(chosen ? chosen.id : "none").toBe(expected);
  });

  it("a malformed revision annotation is skipped, as deploymentutil.Revision fails on it", () => {
    const owned = [
      { metadata: { annotations: { "deployment.kubernetes.io/revision": "x" } }, id: "bad" },
      { metadata: { annotations: { "deployment.kubernetes.io/revision": "1" } }, id: 1 },
      { metadata: { annotations: { "deployment.kubernetes.io/revision": "2" } }, id: 2 },
    ];
    expect(chooseReplicaSet(owned, undefined)?.id).toBe(1);
  });

  it("is not 'the highest below the Deployment's current revision annotation'", () => {
    // The Deployment's annotation lags (2) while ReplicaSets 1..3 exist: kubectl takes 2, not 1.
    const plan = planDeployment({
      workload: deployment(2, "app:3"),
      replicaSets: [replicaSet(1, "app:1"), replicaSet(2, "app:2"), replicaSet(3, "app:3")],
    });
    expect(plan.ok && plan.toRevision).toBe(2);
  });

  it.each([
    ["sorted", [1, 2, 3], undefined, 2],
    ["unsorted", [3, 1, 2], undefined, 2],
    ["with gaps", [10, 4, 7], undefined, 7],
    ["one: none", [1], undefined, "none"],
    ["requested", [1, 2, 3], 1, 1],
    ["requested and missing", [1, 2, 3], 5, "none"],
  ] as const)("ControllerRevisions %s", (_name, revisions, requested, expected) => {
    const chosen = chooseControllerRevision(
      revisions.map((revision) => ({ revision })),
      requested,
    );
    expect(chosen ? chosen.revision : "none").toBe(expected);
  });

  it("for a StatefulSet, ignores which revision status.updateRevision names (as kubectl does)", () => {
    const plan = planStatefulSet(
      {
        metadata: { name: "web", uid },
        spec: { selector: { matchLabels: { app: "web" } }, template: template("c:2") },
        status: { updateRevision: "web-2-c2" },
      },
      [controllerRevision(1, "c:1"), controllerRevision(3, "c:3"), controllerRevision(2, "c:2")],
    );
    expect(plan.ok && plan.toRevision).toBe(2);
    expect(plan.ok && plan.noop).toBe(true);
  });
});

describe("Deployment annotations: kubectl's annotationsToSkip", () => {
  it("are exactly kubectl's list", () => {
    expect([...DEPLOYMENT_OWNED_ANNOTATIONS].sort()).toEqual([
      "deployment.kubernetes.io/desired-replicas",
      "deployment.kubernetes.io/max-replicas",
      "deployment.kubernetes.io/revision",
      "deployment.kubernetes.io/revision-history",
      "deprecated.deployment.rollback.to",
      "kubectl.kubernetes.io/last-applied-configuration",
    ]);
  });

  it.each([
    ["deployment.kubernetes.io/revision-history", false],
    ["deployment.kubernetes.io/desired-replicas", false],
    ["deployment.kubernetes.io/max-replicas", false],
    ["kubectl.kubernetes.io/last-applied-configuration", false],
    ["deprecated.deployment.rollback.to", false],
    ["kubernetes.io/change-cause", true],
    ["team/owner", true],
  ] as const)("%s is copied from the ReplicaSet: %s", (key, copied) => {
    const plan = planDeployment({
      workload: deployment(2, "app:2"),
      replicaSets: [replicaSet(1, "app:1", { annotations: { [key]: "from-rs" } }), replicaSet(2, "app:2")],
    });
    if (!plan.ok || plan.mutation.type !== "rollbackDeployment") throw new Error("expected a deployment rollback");
    expect(plan.mutation.annotations[key]).toBe(copied ? "from-rs" : undefined);
    // The ReplicaSet's own revision (1) is never copied either.
    expect(plan.mutation.annotations["deployment.kubernetes.io/revision"]).toBeUndefined();
  });
});

describe("template comparison ignores key order", () => {
  const reordered = (image: string) => ({
    spec: { containers: [{ image, name: "app" }] },
    metadata: { labels: { app: "web" } },
  });

  it.each([
    ["the same template", template("app:1"), reordered("app:1"), true],
    ["another image", template("app:1"), reordered("app:2"), false],
    [
      "a null field is an absent field",
      template("app:1"),
      { ...template("app:1"), metadata: { ...template("app:1").metadata, creationTimestamp: null } },
      true,
    ],
    [
      "array order matters",
      { spec: { containers: [{ name: "a" }, { name: "b" }] } },
      { spec: { containers: [{ name: "b" }, { name: "a" }] } },
      false,
    ],
  ])("%s", (_name, a, b, equal) => {
    expect(sameTemplate(a, b)).toBe(equal);
  });

  it("produces identical changes whatever the key order of the cached objects", () => {
    const ordered = planDeployment({
      workload: deployment(2, "app:2"),
      replicaSets: [replicaSet(1, "app:1"), replicaSet(2, "app:2")],
    });
    const rs1 = replicaSet(1, "app:1");
    const shuffled = planDeployment({
      workload: { ...deployment(2, "app:2"), spec: { ...deployment(2, "app:2").spec, template: reordered("app:2") } },
      replicaSets: [
        {
          ...rs1,
          spec: {
            template: {
              spec: { containers: [{ image: "app:1", name: "app" }] },
              metadata: { labels: { "pod-template-hash": "h1", app: "web" } },
            },
            selector: rs1.spec.selector,
          },
        },
        replicaSet(2, "app:2"),
      ],
    });
    if (!ordered.ok || !shuffled.ok) throw new Error("expected plans");
    expect(shuffled.changes).toEqual(ordered.changes);
    expect(ordered.changes).toEqual([{ field: "image of container app", from: "app:2", to: "app:1" }]);
  });

  it("a template that only differs in key order is a no-op", () => {
    const plan = planDeployment({
      workload: { ...deployment(2, "app:1"), spec: { ...deployment(2, "app:1").spec, template: reordered("app:1") } },
      replicaSets: [replicaSet(1, "app:1"), replicaSet(2, "app:2")],
    });
    expect(plan.ok && plan.noop).toBe(true);
  });
});

describe("the plan records the generation it was computed from", () => {
  it("from the workload's metadata.generation", () => {
    const plan = planDeployment({
      workload: deployment(2, "app:2"),
      replicaSets: [replicaSet(1, "app:1"), replicaSet(2, "app:2")],
    });
    expect(plan.ok && plan.generation).toBe(7);
  });
});

describe("undo", () => {
  const undoSpec = {
    action: "undo" as const,
    target: { kind: "Deployment" as const, name: "web" },
    parameters: { intent: "restart-web" },
    justification: "j",
    confidence: 0.9,
    incidentId: "INC",
    detectedAt: "2026-11-20T10:00:00Z",
    source: { type: "human" as const, name: "me" },
  };
  const live: any = {
    metadata: { name: "web", generation: 5 },
    spec: {
      replicas: 4,
      template: {
        metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": "x" } },
        spec: { containers: [{ name: "app", image: "web:2" }] },
      },
    },
  };
  const before = { spec: { containers: [{ name: "app", image: "web:2" }] } };

  it("restores the earlier intent's pod template from its snapshot", () => {
    const plan = planAction(undoSpec, {
      kind: "Deployment",
      name: "web",
      workload: live,
      undo: {
        ok: true,
        intentName: "restart-web",
        intentId: "hi-1",
        action: "restart",
        snapshot: { template: before },
        generationAfter: 5,
      },
    });
    expect(plan).toMatchObject({
      ok: true,
      noop: false,
      mutation: { type: "restoreSnapshot", of: "hi-1", template: before },
    });
    expect(plan.ok && plan.summary).toContain("undo restart-web: restore deployment/web's pod template from before it");
  });

  it("refuses to undo over a change made after the earlier intent acted, or when that is unknown", () => {
    const source = {
      ok: true as const,
      intentName: "restart-web",
      intentId: "hi-1",
      action: "restart",
      snapshot: { template: before },
    };
    const later = planAction(undoSpec, {
      kind: "Deployment",
      name: "web",
      workload: live,
      undo: { ...source, generationAfter: 4 },
    });
    expect(later).toMatchObject({ ok: false, reason: "NothingToUndo" });
    expect(!later.ok && later.message).toContain("changed since restart-web acted (generation 5, it left 4)");
    const unknown = planAction(undoSpec, { kind: "Deployment", name: "web", workload: live, undo: source });
    expect(!unknown.ok && unknown.message).toContain("cannot be ruled out");
  });

  it("an undo of a scale approves the replica count it starts from, and refuses when someone moved it", () => {
    const source = {
      ok: true as const,
      intentName: "scale-web",
      intentId: "hi-2",
      action: "scale",
      snapshot: { replicas: 2 },
    };
    const at = (replicas: number, replicasAfter: number) =>
      planAction(undoSpec, {
        kind: "Deployment",
        name: "web",
        workload: { ...live, spec: { ...live.spec, replicas } },
        undo: { ...source, replicasAfter },
      });
    expect(at(6, 6)).toMatchObject({
      ok: true,
      mutation: { type: "restoreSnapshot", replicas: 2, expectedReplicas: 6 },
    });
    expect(at(40, 6)).toMatchObject({ ok: false, reason: "NothingToUndo" });
  });

  it("restores the replica count before a scale, and says when there is nothing to undo", () => {
    const scaled = planAction(undoSpec, {
      kind: "Deployment",
      name: "web",
      workload: live,
      undo: { ok: true, intentName: "scale-web", intentId: "hi-2", action: "scale", snapshot: { replicas: 2 } },
    });
    expect(scaled).toMatchObject({ ok: true, mutation: { type: "restoreSnapshot", replicas: 2 } });
    expect(scaled.ok && scaled.summary).toContain("replicas 4 -> 2");
    const never = planAction(undoSpec, {
      kind: "Deployment",
      name: "web",
      workload: live,
      undo: { ok: false, message: "never acted" },
    });
    expect(never).toEqual({ ok: false, reason: "NothingToUndo", message: "never acted" });
  });
});
