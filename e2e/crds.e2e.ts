// The CRDs as the API server enforces them: names, printer columns, explain,
// defaults, the invalid corpus, and the rules that guard updates.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { INVALID_CASES } from "./corpus/invalid-objects.ts";
import { REPO_ROOT } from "./support/env.ts";
import { apiFailure, clientsFor, createTestNamespace, deleteTestNamespace, kubectl } from "./support/kube.ts";

const GROUP = "arf.dev";
const VERSION = "v1alpha1";
const PLURALS: Record<string, string> = {
  HealingIntent: "healingintents",
  ApprovalPolicy: "approvalpolicies",
  RollbackPlan: "rollbackplans",
};
const example = (file: string) => parse(readFileSync(join(REPO_ROOT, "examples", file), "utf8"));

let ns: string;
beforeAll(async () => {
  ns = await createTestNamespace("e2e-crds");
});
afterAll(async () => deleteTestNamespace(ns));

const create = (object: any, user: "admin" | "requester" = "admin") =>
  clientsFor(user).custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURALS[object.kind] as string,
    body: object,
    fieldValidation: "Strict",
  });

describe("CRDs on the API server", () => {
  it("accepts every example and applies the schema defaults", async () => {
    for (const file of [
      "healingintent-scale.yaml",
      "healingintent-rollback.yaml",
      "healingintent-restart.yaml",
      "approvalpolicy.yaml",
      "rollbackplan.yaml",
    ]) {
      await create(example(file));
    }
    const plan = await clientsFor("admin").custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: "rollbackplans",
      name: "web",
    });
    expect(plan.spec.autoRollback.inconclusiveLimit).toBe(3);
    expect(plan.spec.healthChecks.prometheus.queries[0].onEmpty).toBe("Inconclusive");
    // No operator runs in this file: every object reads as not yet observed, so kstatus
    // (Flux's wait) and Argo CD see it in progress, never healthy before the operator looked.
    for (const plural of Object.values(PLURALS)) {
      const list: any = await clientsFor("admin").custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural,
      });
      for (const object of list.items) {
        expect(object.metadata.generation, `${plural}/${object.metadata.name}`).toBe(1);
        expect(object.status, `${plural}/${object.metadata.name}`).toEqual({ observedGeneration: 0 });
      }
    }
  });

  it("lists all three kinds by short name and by the arf category, with printer columns", async () => {
    const out = await kubectl(["get", "hi,ap,rbp", "-n", ns]);
    expect(out).toMatch(/healingintent\.arf\.dev\/web-scale-out\s+scale\s+Deployment\s+web\s+0\.82/);
    expect(out).toMatch(/approvalpolicy\.arf\.dev\/frontend-approval\s+approval\s+2/);
    expect(out).toMatch(/rollbackplan\.arf\.dev\/web\s+Deployment\s+web\s+10m\s+rollback/);
    const byCategory = await kubectl(["get", "arf", "-n", ns, "-o", "name"]);
    expect(byCategory.trim().split("\n").sort()).toEqual([
      "approvalpolicy.arf.dev/frontend-approval",
      "healingintent.arf.dev/cache-restart",
      "healingintent.arf.dev/web-rollback",
      "healingintent.arf.dev/web-scale-out",
      "rollbackplan.arf.dev/web",
    ]);
  });

  it("explains every field of healingintent.spec", async () => {
    const out = await kubectl(["explain", "healingintent.spec"]);
    for (const field of [
      "action",
      "approvals",
      "confidence",
      "detectedAt",
      "incidentId",
      "justification",
      "parameters",
      "requestedBy",
      "source",
      "target",
    ]) {
      expect(out).toMatch(new RegExp(`^  ${field}\\t<\\S+>.*\\n\\s+\\S`, "m"));
    }
    const parameters = await kubectl(["explain", "healingintent.spec.parameters.replicas"]);
    expect(parameters).toContain("Required when action is scale");
  });

  it.each(INVALID_CASES.map((c) => [c.name, c] as const))("rejects %s, naming the field", async (_name, c) => {
    const failure = await apiFailure(create(c.object));
    expect([400, 422]).toContain(failure.code);
    expect(failure.message).toContain(c.field);
  });
});

describe("update rules", () => {
  const custom = () => clientsFor("admin").custom;
  const patch = (name: string, ops: unknown[]) =>
    custom().patchNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: "healingintents",
      name,
      body: ops,
    });

  it("keeps action, target and parameters immutable", async () => {
    const action = await apiFailure(
      patch("web-scale-out", [{ op: "replace", path: "/spec/action", value: "restart" }]),
    );
    expect(action.message).toContain("action and target are immutable");
    const replicas = await apiFailure(
      patch("web-scale-out", [{ op: "replace", path: "/spec/parameters/replicas", value: 60 }]),
    );
    expect(replicas.message).toContain("spec.parameters: Invalid value");
  });

  it("lets approvers add or renew their own decision, never remove one or undo a rejection", async () => {
    // Admission lets a user add or change only their own approval, so the admin approves as itself.
    await patch("web-scale-out", [
      { op: "add", path: "/spec/approvals", value: [{ user: "arf-admin", decision: "approve" }] },
    ]);
    const removed = await apiFailure(patch("web-scale-out", [{ op: "remove", path: "/spec/approvals/0" }]));
    expect(removed.message).toContain("spec.approvals");
    expect(removed.message).toContain("approvals cannot be removed");
    // Renewing one's own approval (for a new plan) and turning it into a rejection are allowed...
    await patch("web-scale-out", [
      { op: "add", path: "/spec/approvals/0/planDigest", value: `sha256:${"c".repeat(64)}` },
    ]);
    await patch("web-scale-out", [{ op: "replace", path: "/spec/approvals/0/decision", value: "reject" }]);
    // ...undoing a rejection is not.
    const undone = await apiFailure(
      patch("web-scale-out", [{ op: "replace", path: "/spec/approvals/0/decision", value: "approve" }]),
    );
    expect(undone.message).toContain("a rejection cannot be changed");
    const forged = await apiFailure(
      patch("web-scale-out", [{ op: "add", path: "/spec/approvals/-", value: { user: "alice", decision: "approve" } }]),
    );
    expect(forged.code).toBe(403);
    expect(forged.message).toContain("a new or changed approval must name the user who writes it, arf-admin");
  });

  it("ignores status in spec writes: status belongs to the status subresource", async () => {
    await patch("web-rollback", [{ op: "add", path: "/status", value: { phase: "Succeeded" } }]);
    const intent = await custom().getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: "healingintents",
      name: "web-rollback",
    });
    expect(intent.status?.phase).toBeUndefined();
  });
});
