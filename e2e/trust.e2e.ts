// Trust: what runs is exactly what was approved, and nothing else can make the
// operator act. The licensed edition against the real control plane, with real
// token users, proven from the API server's audit log.
import { join } from "node:path";
import { AdmissionregistrationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/env.ts";
import {
  allowToWriteIntents,
  apiFailure,
  clientsFor,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubectl,
  kubectlArf,
  operatorWrites,
} from "./support/kube.ts";
import { quickLeaseArgs, removeLicensedEdition, TestLicenses } from "./support/license.ts";
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
import { createWorkloadsWithTwoRevisions, intentBody, policyBody } from "./support/workloads.ts";

const licenses = new TestLicenses();
const ARGS = [...quickLeaseArgs("arf-trust-e2e"), ...licenses.args()];
const BINDING = "healingintent-approvals.arf.dev";

const namespaces: string[] = [];
let operator: RunningOperator;

async function setValidLicense(): Promise<void> {
  await licenses.install();
  await eventually("the licensed edition", async () =>
    (await operator.metric("arf_edition_info", { edition: "licensed" })) === 1 ? true : undefined,
  );
}

async function namespace(prefix: string): Promise<string> {
  const ns = await createTestNamespace(prefix);
  namespaces.push(ns);
  await createWorkloadsWithTwoRevisions(ns);
  return ns;
}

const policy = policyBody;

/** Workload writes by the operator since a time (dry runs excluded). */
const workloadWrites = (since: number, namespace: string) => operatorWrites(since, { namespace });

const replicasOf = async (ns: string, name = "web") =>
  (await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name })).spec?.replicas;

const arf = kubectlArf;

beforeAll(async () => {
  await licenses.bindToCluster();
  await removeLicensedEdition(); // no license at first: the OSS edition
  await installChartRbac("licensed");
  operator = await startOperator("trust-1", ARGS);
  await eventually("ready", async () => ((await operator.ready()) ? true : undefined));
});

afterAll(async () => {
  await operator?.stop();
  await removeLicensedEdition();
  for (const ns of namespaces) await deleteTestNamespace(ns);
});

describe("intents go stale", () => {
  it("an intent decided under OSS expires at the end of its life and never runs when a license arrives", async () => {
    const ns = await namespace("e2e-stale");
    const since = Date.now();
    await createArf("approvalpolicies", ns, policy("act-now", { mode: "autonomous" }));
    await createArf(
      "healingintents",
      ns,
      intentBody("old-scale", "scale", "Deployment", "web", { parameters: { replicas: 5 }, expiresAfter: "4s" }),
    );
    await intentWhere(ns, "old-scale", "advisory under OSS", (i) => i.status?.phase === "Advisory");
    const expired = await intentWhere(ns, "old-scale", "expired", (i) => i.status?.phase === "Expired", 30_000);
    expect(condition(expired, "Executed")).toMatchObject({ status: "False", reason: "Expired" });
    await setValidLicense();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await getArf("healingintents", ns, "old-scale")).status.phase).toBe("Expired");
    expect(await replicasOf(ns)).toBe(2);
    expect(workloadWrites(since, ns)).toEqual([]);
  });

  it("an intent refused by a freeze window expires instead of running when the freeze lifts", async () => {
    const ns = await namespace("e2e-freeze");
    const since = Date.now();
    await createArf(
      "approvalpolicies",
      ns,
      policy("frozen", {
        mode: "autonomous",
        freezeWindows: [{ name: "always", schedule: "* * * * *", duration: "1h" }],
      }),
    );
    await createArf(
      "healingintents",
      ns,
      intentBody("frozen-restart", "restart", "Deployment", "web", { expiresAfter: "5s" }),
    );
    await intentWhere(ns, "frozen-restart", "refused", (i) => condition(i, "Executed")?.reason === "FreezeWindow");
    await intentWhere(ns, "frozen-restart", "expired", (i) => i.status?.phase === "Expired", 30_000);
    await clientsFor("admin").custom.deleteNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "approvalpolicies",
      name: "frozen",
    });
    await createArf("approvalpolicies", ns, policy("act-now", { mode: "autonomous" }));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await getArf("healingintents", ns, "frozen-restart")).status.phase).toBe("Expired");
    expect(workloadWrites(since, ns)).toEqual([]);
  });
});

describe("fail closed on broken policy", () => {
  it("an invalid strict policy blocks intents it could govern, instead of a looser catch-all governing them", async () => {
    const ns = await namespace("e2e-broken");
    await createArf("approvalpolicies", ns, policy("catch-all", { mode: "autonomous" }));
    // A typo in a strict approval policy for restarts (it arrives past an older, looser CRD).
    await withLooseSpec("approvalpolicies", ns, () =>
      createArf(
        "approvalpolicies",
        ns,
        policy("strict-restarts", {
          mode: "approval",
          selector: { actions: ["restart"] },
          approvers: { users: ["alice"] },
          approvalTTL: "1 hour",
        }),
      ),
    );
    const since = Date.now();
    await createArf("healingintents", ns, intentBody("restart-web", "restart", "Deployment", "web"));
    const blocked = await intentWhere(ns, "restart-web", "blocked", (i) => i.status?.phase === "Refused");
    expect(condition(blocked, "PolicyResolved")).toMatchObject({ status: "False", reason: "PolicyInvalid" });
    expect(condition(blocked, "PolicyResolved").message).toContain(
      "ApprovalPolicy strict-restarts is invalid (spec.approvalTTL",
    );
    // A scale is not selected by the broken policy: the catch-all governs it.
    await createArf(
      "healingintents",
      ns,
      intentBody("scale-web", "scale", "Deployment", "web", { parameters: { replicas: 3 } }),
    );
    await intentWhere(ns, "scale-web", "executed", (i) => i.status?.phase === "Succeeded");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(workloadWrites(since, ns).map((w) => w.objectRef?.subresource)).toEqual(["scale"]);
  });
});

describe("status is a record, never a command", () => {
  it("a forged Started attempt written by a user with only status access makes the operator write nothing", async () => {
    const ns = await namespace("e2e-forge");
    const { rbac } = clientsFor("admin");
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: "status-writer" },
        rules: [
          { apiGroups: ["arf.dev"], resources: ["healingintents"], verbs: ["get"] },
          { apiGroups: ["arf.dev"], resources: ["healingintents/status"], verbs: ["update"] },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: "status-writer" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "status-writer" },
        subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "outsider" }],
      },
    });
    // No policy: advisory. The forger claims an attempt to scale web to 9.
    await createArf(
      "healingintents",
      ns,
      intentBody("advice", "scale", "Deployment", "web", { parameters: { replicas: 3 } }),
    );
    const advised = await intentWhere(ns, "advice", "advisory", (i) => i.status?.phase === "Advisory");
    const since = Date.now();
    const forged = {
      ...advised,
      status: {
        ...advised.status,
        phase: "Executing",
        execution: {
          attemptId: "forged-attempt",
          state: "Started",
          startedAt: "2026-11-22T00:00:00Z",
          desired: { type: "scale", replicas: 9, expectedReplicas: 2 },
        },
      },
    };
    await clientsFor("outsider").custom.replaceNamespacedCustomObjectStatus({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "healingintents",
      name: "advice",
      body: forged,
    });
    const handled = await intentWhere(ns, "advice", "the claim dismissed", (i) =>
      i.status?.history?.some((h: any) => h.reason === "UnverifiedAttempt"),
    );
    expect(handled.status.execution).toBeUndefined();
    expect(handled.status.phase).toBe("Advisory");
    const note = handled.status.history.find((h: any) => h.reason === "UnverifiedAttempt");
    expect(note.message).toContain("status.execution claims attempt forged-attempt");
    expect(note.message).toContain("status is a record, never a command");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(workloadWrites(since, ns)).toEqual([]);
    expect(await replicasOf(ns)).toBe(2);
  });
});

describe("what runs is exactly what the approvers saw", () => {
  it("an approval stops counting when the plan changes, and the approver approves the new plan", async () => {
    const ns = await namespace("e2e-digest");
    await allowToWriteIntents(ns, ["requester", "alice", "bob"]);
    await createArf(
      "approvalpolicies",
      ns,
      policy("two", { mode: "approval", approvers: { users: ["alice", "bob"] }, requiredApprovals: 2 }),
    );
    await createArf(
      "healingintents",
      ns,
      intentBody("scale-web", "scale", "Deployment", "web", {
        parameters: { replicas: 4 },
        requestedBy: "requester",
        approvals: [],
      }),
      "requester",
    );
    const first = await intentWhere(ns, "scale-web", "a plan", (i) => i.status?.recommendation?.digest);
    expect(first.status.recommendation.summary).toContain("replicas 2 -> 4");
    await arf(ns, "alice", ["approve", "scale-web"]);
    const afterAlice = await getArf("healingintents", ns, "scale-web");
    expect(afterAlice.spec.approvals[0].planDigest).toBe(first.status.recommendation.digest);

    // The world moves (an autoscaler, a person): the plan is now 3 -> 4.
    const since = Date.now();
    await kubectl(["scale", "deployment/web", "-n", ns, "--replicas=3"]);
    const moved = await intentWhere(ns, "scale-web", "a new plan", (i) =>
      i.status?.recommendation?.summary?.includes("replicas 3 -> 4"),
    );
    expect(moved.status.recommendation.digest).not.toBe(first.status.recommendation.digest);
    await arf(ns, "bob", ["approve", "scale-web"]);
    const waiting = await intentWhere(ns, "scale-web", "bob counted", (i) =>
      i.status?.approvals?.counted?.includes("bob"),
    );
    expect(waiting.status.phase).toBe("AwaitingApproval");
    // Waiting for people does not hold up a GitOps sync: Ready, not Stalled, observedGeneration current.
    expect(condition(waiting, "Ready")).toMatchObject({ status: "True" });
    expect(condition(waiting, "Stalled")).toMatchObject({ status: "False" });
    expect(waiting.status.observedGeneration).toBe(waiting.metadata.generation);
    expect(waiting.status.approvals.counted).toEqual(["bob"]);
    expect(waiting.status.approvals.ignored[0]).toMatchObject({ user: "alice" });
    expect(waiting.status.approvals.ignored[0].reason).toContain("but the plan is now");
    expect(workloadWrites(since, ns)).toEqual([]);

    // Alice approves again: her own entry is replaced, and the approved plan runs, exactly.
    await arf(ns, "alice", ["approve", "scale-web"]);
    const done = await intentWhere(ns, "scale-web", "executed", (i) =>
      ["Succeeded", "Failed"].includes(i.status?.phase),
    );
    expect(done.status.phase, JSON.stringify(done.status.execution)).toBe("Succeeded");
    expect(done.status.execution.desired).toMatchObject({ type: "scale", replicas: 4, expectedReplicas: 3 });
    expect(done.status.execution.planDigest).toBe(moved.status.recommendation.digest);
    expect(done.spec.approvals.filter((a: any) => a.user === "alice")).toHaveLength(1);
    expect(await replicasOf(ns)).toBe(4);
    expect(workloadWrites(since, ns)).toHaveLength(1);
  });

  it("confidence and incidentId are immutable", async () => {
    const ns = await namespace("e2e-immutable");
    await createArf("healingintents", ns, intentBody("fixed", "restart", "Deployment", "web"));
    for (const [path, value] of [
      ["/spec/confidence", 0.1],
      ["/spec/incidentId", "INC-other"],
    ] as const) {
      const failure = await apiFailure(
        clientsFor("admin").custom.patchNamespacedCustomObject({
          group: "arf.dev",
          version: "v1alpha1",
          namespace: ns,
          plural: "healingintents",
          name: "fixed",
          body: [{ op: "replace", path, value }],
        }),
      );
      expect(failure.message).toContain("is immutable");
    }
  });
});

describe("approvals count only if the API server verified them", () => {
  it("an approval made while the binding was missing never counts, even after it is restored", async () => {
    const ns = await namespace("e2e-gap");
    await allowToWriteIntents(ns, ["requester", "alice"]);
    await createArf("approvalpolicies", ns, policy("one", { mode: "approval", approvers: { users: ["alice"] } }));
    await createArf(
      "healingintents",
      ns,
      intentBody("gap", "scale", "Deployment", "web", {
        parameters: { replicas: 3 },
        requestedBy: "requester",
        approvals: [],
      }),
      "requester",
    );
    await intentWhere(ns, "gap", "awaiting", (i) => i.status?.phase === "AwaitingApproval");
    const admission = clientsFor("admin").kc.makeApiClient(AdmissionregistrationV1Api);
    const since = Date.now();
    await admission.deleteValidatingAdmissionPolicyBinding({ name: BINDING });
    try {
      await arf(ns, "alice", ["approve", "gap"]);
    } finally {
      await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(REPO_ROOT, "crds")]);
    }
    const refused = await intentWhere(
      ns,
      "gap",
      "refused",
      (i) => condition(i, "Executed")?.reason === "AdmissionChangedAfterCreation",
      60_000,
    );
    expect(refused.status.phase).toBe("Refused");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(workloadWrites(since, ns)).toEqual([]);
  });

  it("a binding that only warns verifies nothing", async () => {
    const ns = await namespace("e2e-warn");
    await createArf("approvalpolicies", ns, policy("one", { mode: "approval", approvers: { users: ["alice"] } }));
    await kubectl(
      [
        "patch",
        "validatingadmissionpolicybinding",
        BINDING,
        "--type=merge",
        "-p",
        '{"spec":{"validationActions":["Warn"]}}',
      ],
      "admin",
    );
    try {
      await createArf(
        "healingintents",
        ns,
        intentBody("warned", "scale", "Deployment", "web", { parameters: { replicas: 3 }, requestedBy: "arf-admin" }),
      );
      const intent = await intentWhere(
        ns,
        "warned",
        "refused",
        (i) => condition(i, "Executed")?.reason === "AdmissionPolicyAltered",
        60_000,
      );
      expect(condition(intent, "Executed").message).toContain("validationActions are [Warn], not Deny");
    } finally {
      await kubectl(
        [
          "patch",
          "validatingadmissionpolicybinding",
          BINDING,
          "--type=merge",
          "-p",
          '{"spec":{"validationActions":["Deny"]}}',
        ],
        "admin",
      );
    }
  });
});

describe("one action per target at a time, and per proposal ever", () => {
  it("two identical intents filed together act once, whoever has the smaller name; re-filing after deletion does not act again", async () => {
    const ns = await namespace("e2e-dup");
    await createArf("approvalpolicies", ns, policy("act-now", { mode: "autonomous" }));
    const since = Date.now();
    const same = { incidentId: "INC-same" };
    await createArf("healingintents", ns, intentBody("zz-first", "restart", "Deployment", "web", same));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await createArf("healingintents", ns, intentBody("aa-second", "restart", "Deployment", "web", same));
    await eventually("both settled", async () => {
      const phases = await Promise.all(
        ["zz-first", "aa-second"].map(async (n) => (await getArf("healingintents", ns, n)).status?.phase),
      );
      return phases.includes("Succeeded") && phases.includes("Duplicate") ? phases : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(workloadWrites(since, ns)).toHaveLength(1);

    // The one that ran is deleted; the same proposal filed again must not run again.
    const ran =
      (await getArf("healingintents", ns, "zz-first")).status.phase === "Succeeded" ? "zz-first" : "aa-second";
    await clientsFor("admin").custom.deleteNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "healingintents",
      name: ran,
    });
    await createArf("healingintents", ns, intentBody("again", "restart", "Deployment", "web", same));
    const again = await intentWhere(ns, "again", "refused as already acted on", (i) =>
      ["Duplicate", "Succeeded"].includes(i.status?.phase),
    );
    expect(again.status.phase).toBe("Duplicate");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(workloadWrites(since, ns)).toHaveLength(1);
  });

  it("a rate limit of one action per hour holds for intents filed together, and survives deleting the one that acted", async () => {
    const ns = await namespace("e2e-rate");
    await createArf(
      "approvalpolicies",
      ns,
      policy("once-an-hour", { mode: "autonomous", limits: { rateLimit: { maxActions: 1, window: "1h" } } }),
    );
    const since = Date.now();
    await Promise.all(
      ["r1", "r2", "r3"].map((n) => createArf("healingintents", ns, intentBody(n, "restart", "Deployment", "web"))),
    );
    const settled = await eventually("all decided", async () => {
      const list = await Promise.all(["r1", "r2", "r3"].map((n) => getArf("healingintents", ns, n)));
      return list.every((i) => ["Succeeded", "Refused"].includes(i.status?.phase)) ? list : undefined;
    });
    expect(settled.filter((i) => i.status.phase === "Succeeded")).toHaveLength(1);
    for (const i of settled.filter((x) => x.status.phase === "Refused"))
      expect(condition(i, "Executed").reason).toBe("RateLimited");
    const ran = settled.find((i) => i.status.phase === "Succeeded").metadata.name;
    await clientsFor("admin").custom.deleteNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "healingintents",
      name: ran,
    });
    await createArf("healingintents", ns, intentBody("r4", "restart", "Deployment", "web"));
    const r4 = await intentWhere(ns, "r4", "refused", (i) => ["Succeeded", "Refused"].includes(i.status?.phase));
    expect(condition(r4, "Executed").reason).toBe("RateLimited");
    expect(workloadWrites(since, ns)).toHaveLength(1);
  });
});
