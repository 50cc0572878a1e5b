// The OSS edition against the real control plane, running as its own token
// user under the chart's OSS RBAC: it recommends for every action and
// workload kind, detects duplicates, follows policy changes, reports invalid
// data, never flaps on restart, and, as the API server's audit log proves,
// never writes to a workload.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { REPO_ROOT } from "./support/env.ts";
import {
  clientsFor,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubectl,
  readAuditEvents,
} from "./support/kube.ts";
import { withLooseSpec } from "./support/loose-crd.ts";
import {
  condition,
  createArf,
  getArf,
  installChartRbac,
  intentWhere,
  type RunningOperator,
  startOperator,
} from "./support/operator.ts";
import { createWorkloadsWithTwoRevisions, deploymentBody, intentBody } from "./support/workloads.ts";

let ns: string;
let operator: RunningOperator;
let startedAt: number;

beforeAll(async () => {
  startedAt = Date.now();
  ns = await createTestNamespace("e2e-oss");
  await installChartRbac("oss");
  // Only the OSS rights: no binding left over from a licensed test.
  await clientsFor("admin")
    .rbac.deleteClusterRoleBinding({ name: "arf-licensed" })
    .catch(() => undefined);
  await createWorkloadsWithTwoRevisions(ns);
  operator = await startOperator("oss-1");
  await eventually("the operator to lead and be ready", async () =>
    (await operator.ready()) && (await operator.metric("leader_election_master_status")) === 1 ? true : undefined,
  );
});

afterAll(async () => {
  await operator?.stop();
  await deleteTestNamespace(ns);
});

const recommended = (name: string) =>
  intentWhere(ns, name, "has a recommendation decision", (i) => i.status?.decision !== undefined);

describe("recommendations for every action and workload kind", () => {
  it.each([
    [
      "scale-web",
      "scale",
      "Deployment",
      "web",
      { parameters: { replicas: 5 } },
      "deployment/web replicas 2 -> 5",
      false,
    ],
    [
      "scale-cache",
      "scale",
      "StatefulSet",
      "cache",
      { parameters: { replicas: 3 } },
      "statefulset/cache replicas 1 -> 3",
      false,
    ],
    ["restart-web", "restart", "Deployment", "web", {}, "restart deployment/web: roll every pod", true],
    ["restart-cache", "restart", "StatefulSet", "cache", {}, "restart statefulset/cache: roll every pod", true],
    ["restart-agent", "restart", "DaemonSet", "agent", {}, "restart daemonset/agent: roll every pod", true],
    [
      "rollback-web",
      "rollback",
      "Deployment",
      "web",
      {},
      "rollback deployment/web from revision 2 (image web:2) to revision 1 (image web:1)",
      true,
    ],
    [
      "rollback-cache",
      "rollback",
      "StatefulSet",
      "cache",
      {},
      "rollback statefulset/cache from revision 2 (image cache:2) to revision 1 (image cache:1)",
      true,
    ],
    [
      "rollback-agent",
      "rollback",
      "DaemonSet",
      "agent",
      { parameters: { revision: 1 } },
      "rollback daemonset/agent from revision 2 (image agent:2) to revision 1 (image agent:1)",
      true,
    ],
  ] as const)("%s", async (name, action, kind, target, extra, summary, dryRunValidated) => {
    await createArf("healingintents", ns, intentBody(name, action, kind, target, extra));
    const intent = await recommended(name);
    expect(intent.status.phase).toBe("Advisory");
    expect(intent.status.recommendation.summary).toContain(summary);
    expect(intent.status.recommendation.dryRun.validated).toBe(dryRunValidated);
    expect(intent.status.decision.verdict).toBe("Recommend");
    expect(intent.status.intentId).toMatch(/^hi-[0-9a-f]{20}$/);
    expect(condition(intent, "Recommended")).toMatchObject({ status: "True", observedGeneration: 1 });
    expect(condition(intent, "Executed")).toMatchObject({ status: "False", reason: "AdvisoryOnly" });
  });

  it("refuses what cannot apply, with the reason", async () => {
    await createArf(
      "healingintents",
      ns,
      intentBody("scale-agent", "scale", "DaemonSet", "agent", { parameters: { replicas: 3 } }),
    );
    await createArf("healingintents", ns, intentBody("restart-ghost", "restart", "Deployment", "ghost"));
    const daemon = await recommended("scale-agent");
    expect(condition(daemon, "Recommended")).toMatchObject({ status: "False", reason: "ActionNotApplicable" });
    const ghost = await recommended("restart-ghost");
    expect(condition(ghost, "Recommended")).toMatchObject({ status: "False", reason: "TargetNotFound" });
    expect(ghost.status.decision.verdict).toBe("Refuse");
    // An undo needs the licensed edition's records: said, not an error loop.
    await createArf(
      "healingintents",
      ns,
      intentBody("undo-web", "undo", "Deployment", "web", { parameters: { intent: "restart-web" } }),
    );
    const undo = await recommended("undo-web");
    expect(condition(undo, "Recommended")).toMatchObject({ status: "False", reason: "NothingToUndo" });
    expect(condition(undo, "Recommended").message).toContain("only the licensed edition");
  });

  it("verifies licenses against the vendor's key shipped with it, and reads none", async () => {
    expect(await operator.metric("arf_license_public_key_info", { source: "vendor" })).toBe(1);
    expect(await operator.metric("arf_license_public_key_info", { source: "override" })).toBeUndefined();
    expect(await operator.metric("arf_license_configured")).toBe(0);
  });

  it("records what it decided as Events on the intent", async () => {
    const events = await eventually("a Recommended event", async () => {
      const list = await clientsFor("admin").core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: "involvedObject.name=rollback-web",
      });
      return list.items.some((e) => e.reason === "Recommended") ? list.items : undefined;
    });
    expect(events.find((e) => e.reason === "Recommended")?.message).toContain("rollback deployment/web");
  });
});

describe("target changes", () => {
  it("re-evaluate an intent when its target appears", async () => {
    await createArf(
      "healingintents",
      ns,
      intentBody("early", "scale", "Deployment", "late", { parameters: { replicas: 2 } }),
    );
    await intentWhere(ns, "early", "target not found", (i) => condition(i, "Recommended")?.reason === "TargetNotFound");
    await clientsFor("admin").apps.createNamespacedDeployment({
      namespace: ns,
      body: deploymentBody("late", "late:1", 1),
    });
    const intent = await intentWhere(ns, "early", "recommended", (i) => condition(i, "Recommended")?.status === "True");
    expect(intent.status.recommendation.summary).toBe("deployment/late replicas 1 -> 2");
  });
});

describe("duplicates", () => {
  it("marks a second intent with the same proposal as a duplicate of the first", async () => {
    const body = intentBody("dup-first", "scale", "Deployment", "web", {
      parameters: { replicas: 4 },
      incidentId: "INC-DUP",
    });
    await createArf("healingintents", ns, body);
    await recommended("dup-first");
    await createArf("healingintents", ns, { ...body, metadata: { name: "dup-second" } });
    const second = await intentWhere(ns, "dup-second", "is a duplicate", (i) => i.status?.phase === "Duplicate");
    const first = await getArf("healingintents", ns, "dup-first");
    expect(second.status.duplicateOf).toBe("dup-first");
    expect(second.status.intentId).toBe(first.status.intentId);
    expect(condition(second, "Duplicate")).toMatchObject({ status: "True", reason: "SameIntentId" });
    expect(second.status.recommendation).toBeUndefined();
  });
});

describe("policy changes", () => {
  it("re-evaluates intents when a policy appears, changes and disappears", async () => {
    const before = await recommended("scale-web");
    expect(condition(before, "PolicyResolved")?.reason).toBe("NoPolicy");

    await createArf("approvalpolicies", ns, {
      apiVersion: "arf.dev/v1alpha1",
      kind: "ApprovalPolicy",
      metadata: { name: "auto-frontend" },
      spec: { mode: "autonomous", selector: { targetSelector: { matchLabels: { tier: "frontend" } } } },
    });
    const governed = await intentWhere(
      ns,
      "scale-web",
      "governed by auto-frontend",
      (i) => i.status?.decision?.policy === "auto-frontend",
    );
    expect(governed.status.decision.mode).toBe("autonomous");
    expect(governed.status.decision.verdict).toBe("Recommend");
    expect(governed.status.decision.reasons[0]).toContain("OSS edition: advisory only");
    expect(governed.status.phase).toBe("Advisory");
    // The StatefulSet carries no tier label, so the policy does not govern it.
    expect((await getArf("healingintents", ns, "scale-cache")).status.decision.policy).toBeUndefined();

    await clientsFor("admin").custom.patchNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "approvalpolicies",
      name: "auto-frontend",
      body: [{ op: "add", path: "/spec/selector/actions", value: ["restart"] }],
    });
    await intentWhere(
      ns,
      "scale-web",
      "no longer governed",
      (i) => condition(i, "PolicyResolved")?.reason === "NoPolicy",
    );
    const restart = await intentWhere(
      ns,
      "restart-web",
      "governed",
      (i) => i.status?.decision?.policy === "auto-frontend",
    );
    expect(restart.status.decision.mode).toBe("autonomous");
  });

  it("reports an invalid policy field by field, and blocks the intents it could govern (fail closed)", async () => {
    // Minute 61 is no schedule: the CRD refuses it today, so it arrives as data from an older, looser CRD.
    await withLooseSpec("approvalpolicies", ns, () =>
      createArf("approvalpolicies", ns, {
        apiVersion: "arf.dev/v1alpha1",
        kind: "ApprovalPolicy",
        metadata: { name: "bad-cron" },
        spec: { mode: "autonomous", freezeWindows: [{ name: "never", schedule: "61 * * * *", duration: "1h" }] },
      }),
    );
    const policy = await eventually("bad-cron to be judged", async () => {
      const p = await getArf("approvalpolicies", ns, "bad-cron");
      return condition(p, "Ready") ? p : undefined;
    });
    expect(condition(policy, "Ready")).toMatchObject({ status: "False", reason: "InvalidSpec" });
    expect(condition(policy, "Ready").message).toContain("spec.freezeWindows[0].schedule");
    const intent = await intentWhere(ns, "scale-cache", "blocked by the invalid policy", (i) =>
      String(condition(i, "PolicyResolved")?.message).includes("bad-cron is invalid"),
    );
    expect(condition(intent, "PolicyResolved")).toMatchObject({ status: "False", reason: "PolicyInvalid" });
    expect(condition(intent, "PolicyResolved").message).toContain("spec.freezeWindows[0].schedule");
    expect(intent.status.decision.verdict).toBe("Refuse");
    await clientsFor("admin").custom.deleteNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "approvalpolicies",
      name: "bad-cron",
    });
    await intentWhere(ns, "scale-cache", "unblocked", (i) => condition(i, "PolicyResolved")?.status === "True");
  });
});

describe("invalid data that slipped past an older CRD", () => {
  it("gets Valid=False naming each bad field, and no crash", async () => {
    const crdPath = join(REPO_ROOT, "crds", "arf.dev_healingintents.yaml");
    const strict = readFileSync(crdPath, "utf8");
    const loose = structuredClone((await import("yaml")).parse(strict));
    loose.spec.versions[0].schema.openAPIV3Schema.properties.spec = {
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
    };
    const apply = (text: string) => kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], "admin", text);
    await apply(stringify(loose));
    try {
      await eventually("the loose schema to be served", async () => {
        try {
          await createArf("healingintents", ns, {
            ...intentBody("slipped", "scale", "Pod", "web", { parameters: { replicas: 3 } }),
            spec: { ...intentBody("slipped", "scale", "Pod", "web").spec, confidence: 7, parameters: { replicas: 3 } },
          });
          return true;
        } catch {
          return undefined;
        }
      });
    } finally {
      await apply(strict);
      // A changed CRD reinitialises its storage; wait until it serves again (429 meanwhile).
      await eventually("the strict schema to be served", async () => {
        await clientsFor("admin").custom.listNamespacedCustomObject({
          group: "arf.dev",
          version: "v1alpha1",
          namespace: ns,
          plural: "healingintents",
        });
        return true;
      });
    }
    const intent = await intentWhere(ns, "slipped", "judged invalid", (i) => i.status?.phase === "Invalid");
    const valid = condition(intent, "Valid");
    expect(valid).toMatchObject({ status: "False", reason: "InvalidSpec" });
    expect(valid.message).toContain("spec.target.kind");
    expect(valid.message).toContain("spec.confidence");
    expect(await operator.ready()).toBe(true);
  });
});

describe("restarts", () => {
  it("do not change any settled status", async () => {
    const { custom } = clientsFor("admin");
    const snapshot = async () => {
      const lists = await Promise.all(
        ["healingintents", "approvalpolicies"].map((plural) =>
          custom.listNamespacedCustomObject({ group: "arf.dev", version: "v1alpha1", namespace: ns, plural }),
        ),
      );
      return Object.fromEntries(
        lists.flatMap((l: any) =>
          l.items.map((o: any) => [`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion]),
        ),
      );
    };
    // Settled: nothing written for a while.
    let before = await snapshot();
    await eventually("status to settle", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const now = await snapshot();
      const settled = JSON.stringify(now) === JSON.stringify(before);
      before = now;
      return settled ? true : undefined;
    });
    expect(await operator.stop()).toBe(0);
    const restartedAt = Date.now();
    operator = await startOperator("oss-2");
    await eventually("the new operator to lead and be ready", async () =>
      (await operator.ready()) && (await operator.metric("leader_election_master_status")) === 1 ? true : undefined,
    );
    // It has reconciled every intent again...
    await eventually("reconciles after restart", async () => {
      // Intents that are not final ask to be looked at again when their life ends (requeue_after).
      const counts = await Promise.all(
        ["success", "requeue_after"].map((result) =>
          operator.metric("controller_runtime_reconcile_total", { controller: "healingintent", result }),
        ),
      );
      const count = counts.reduce<number>((sum, c) => sum + (c ?? 0), 0);
      return count >= Object.keys(before).length - 2 ? true : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // ...and written nothing: every resourceVersion is unchanged, and the audit log shows no write.
    expect(await snapshot()).toEqual(before);
    const writes = readAuditEvents().filter(
      (e) =>
        e.user.username === "arf-operator" &&
        e.stage === "ResponseComplete" &&
        ["create", "update", "patch"].includes(e.verb) &&
        e.objectRef?.namespace === ns &&
        ["healingintents", "approvalpolicies"].includes(e.objectRef?.resource ?? "") &&
        new Date(e.requestReceivedTimestamp).getTime() >= restartedAt,
    );
    expect(writes.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`)).toEqual([]);
  });
});

describe("the audit log", () => {
  it("shows no mutating request by the operator on any workload, and its status writes", async () => {
    // Only this file's run: other files run the licensed edition as the same user.
    const events = readAuditEvents().filter(
      (e) =>
        e.user.username === "arf-operator" &&
        e.stage === "ResponseComplete" &&
        new Date(e.requestReceivedTimestamp).getTime() >= startedAt,
    );
    const mutating = events.filter((e) => ["create", "update", "patch", "delete", "deletecollection"].includes(e.verb));
    const workloadResources = [
      "deployments",
      "statefulsets",
      "daemonsets",
      "replicasets",
      "pods",
      "controllerrevisions",
    ];
    const onWorkloads = mutating.filter(
      (e) => workloadResources.includes(e.objectRef?.resource ?? "") && !e.requestURI.includes("dryRun="),
    );
    expect(onWorkloads).toEqual([]);
    // It never writes a spec: every write to an ARF resource goes through the status subresource.
    const arfWrites = mutating.filter((e) =>
      ["healingintents", "approvalpolicies", "rollbackplans"].includes(e.objectRef?.resource ?? ""),
    );
    expect(arfWrites.length).toBeGreaterThan(0);
    expect(arfWrites.filter((e) => e.objectRef?.subresource !== "status")).toEqual([]);
    // The filter can see the operator's writes: its status updates are there.
    expect(
      mutating.some((e) => e.objectRef?.resource === "healingintents" && e.objectRef?.subresource === "status"),
    ).toBe(true);
    // Anything else it created was dry-run only.
    const otherWrites = mutating.filter(
      (e) =>
        !["healingintents", "approvalpolicies", "rollbackplans", "events", "leases"].includes(
          e.objectRef?.resource ?? "",
        ),
    );
    for (const write of otherWrites) expect(write.requestURI).toContain("dryRun=All");
    // And the OSS RBAC would have refused a real write anyway.
    const denied = await kubectl(["auth", "can-i", "patch", "deployments", "-n", ns], "operator").catch((e) =>
      String(e.stdout ?? e),
    );
    expect(denied.trim()).toBe("no");
    // Every intent ended advisory, invalid or duplicate: nothing executed.
    const intents: any = await clientsFor("admin").custom.listNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "healingintents",
    });
    for (const intent of intents.items) expect(["Advisory", "Invalid", "Duplicate"]).toContain(intent.status?.phase);
  });
});
