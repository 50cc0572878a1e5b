// The licensed edition against the real control plane, running as its own
// token user under the chart's licensed RBAC, with licenses issued by this
// test's own key pair.
import { readFileSync } from "node:fs";
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
  type TestUser,
} from "./support/kube.ts";
import { LICENSE_SECRET, quickLeaseArgs, removeLicensedEdition, TestLicenses } from "./support/license.ts";
import {
  condition,
  createArf,
  getArf,
  installChartRbac,
  intentWhere,
  OPERATOR_NAMESPACE,
  type RunningOperator,
  startOperator,
} from "./support/operator.ts";
import { createWorkloadsWithTwoRevisions, deploymentBody, intentBody, policyBody } from "./support/workloads.ts";

const SECRET = LICENSE_SECRET;
const licenses = new TestLicenses();
const LEASE_ARGS = quickLeaseArgs("arf-licensed-e2e");
const LICENSE_ARGS = licenses.args();

const namespaces: string[] = [];
let operator: RunningOperator;

const license = (overrides: Parameters<TestLicenses["issue"]>[0] = {}) => licenses.issue(overrides);
const setLicense = (token: string) => licenses.install(token);
const autonomousPolicy = (name: string, spec: Record<string, unknown> = {}) =>
  policyBody(name, { mode: "autonomous", ...spec });

async function namespace(prefix: string): Promise<string> {
  const ns = await createTestNamespace(prefix);
  namespaces.push(ns);
  return ns;
}

const succeeded = (ns: string, name: string) =>
  intentWhere(ns, name, "executed", (i) => ["Succeeded", "Failed"].includes(i.status?.phase), 45_000).then((i) => {
    expect(i.status.phase, JSON.stringify(i.status.execution)).toBe("Succeeded");
    return i;
  });

const workloadWritesTo = (since: number, resource: string, name?: string) =>
  operatorWrites(since, { resources: [resource], ...(name !== undefined ? { name } : {}) });

beforeAll(async () => {
  await installChartRbac("licensed");
  await licenses.bindToCluster();
});

afterAll(async () => {
  await operator?.stop();
  await removeLicensedEdition();
  for (const ns of namespaces) await deleteTestNamespace(ns);
});

describe("licenses", () => {
  it("tampered, expired, wrong-cluster and not-yet-valid licenses keep the operator advisory", async () => {
    const ns = await namespace("e2e-lic");
    await createWorkloadsWithTwoRevisions(ns);
    await createArf("approvalpolicies", ns, autonomousPolicy("act-now"));
    const tampered = (() => {
      const [prefix, body, signature] = license().split(".") as [string, string, string];
      const json = JSON.parse(Buffer.from(body, "base64url").toString());
      json.expiresAt += 10 * 365 * 86_400;
      return `${prefix}.${Buffer.from(JSON.stringify(json)).toString("base64url")}.${signature}`;
    })();
    const now = Math.floor(Date.now() / 1000);
    const invalid: Array<[string, string]> = [
      ["Tampered", tampered],
      ["Expired", license({ notBefore: now - 7200, expiresAt: now - 3600 })],
      ["WrongCluster", license({ clusterUID: "00000000-0000-0000-0000-000000000000" })],
      ["NotYetValid", license({ notBefore: now + 3600, expiresAt: now + 7200 })],
    ];
    const since = Date.now();
    await setLicense(invalid[0]?.[1] as string);
    operator = await startOperator("licensed-1", [...LEASE_ARGS, ...LICENSE_ARGS]);
    await eventually("ready", async () => ((await operator.ready()) ? true : undefined));
    // The test's own key replaces the vendor's only through the unsafe override, and the operator says so.
    expect(await operator.metric("arf_license_public_key_info", { source: "override" })).toBe(1);
    expect(await operator.metric("arf_license_public_key_info", { source: "vendor" })).toBeUndefined();
    expect(await operator.metric("arf_license_configured")).toBe(1);
    expect(readFileSync(operator.logFile, "utf8")).toContain("LICENSE PUBLIC KEY OVERRIDDEN");
    await createArf(
      "healingintents",
      ns,
      intentBody("would-scale", "scale", "Deployment", "web", { parameters: { replicas: 3 } }),
    );
    for (const [state, token] of invalid) {
      await setLicense(token);
      await eventually(`the operator to report ${state}`, async () =>
        readFileSync(operator.logFile, "utf8").includes(`"licenseState":"${state}"`) ? true : undefined,
      );
      expect(await operator.metric("arf_license_valid")).toBe(0);
      expect(await operator.metric("arf_edition_info", { edition: "oss" })).toBe(1);
      const intent = await intentWhere(ns, "would-scale", "advisory", (i) => i.status?.phase === "Advisory");
      expect(intent.status.decision.reasons[0]).toContain("OSS edition: advisory only");
    }
    // The Events on the Secret say which it was.
    const events = await clientsFor("admin").core.listNamespacedEvent({
      namespace: OPERATOR_NAMESPACE,
      fieldSelector: `involvedObject.name=${SECRET}`,
    });
    for (const [state] of invalid) expect(events.items.map((e) => e.reason)).toContain(`License${state}`);
    // Audit log: nothing written to any workload while unlicensed.
    for (const resource of ["deployments", "statefulsets", "daemonsets"])
      expect(workloadWritesTo(since, resource)).toEqual([]);
    expect(
      (await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name: "web" })).spec?.replicas,
    ).toBe(2);
    // No token, nor its signature, is ever logged.
    const log = readFileSync(operator.logFile, "utf8");
    for (const [, token] of invalid) expect(log).not.toContain(token.split(".")[2] as string);

    // A valid license takes effect without a restart, and the intent runs.
    await setLicense(license());
    await eventually("the licensed edition", async () =>
      (await operator.metric("arf_license_valid")) === 1 ? true : undefined,
    );
    expect(await operator.metric("arf_edition_info", { edition: "licensed" })).toBe(1);
    expect(await operator.metric("arf_license_expiry_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000);
    await succeeded(ns, "would-scale");
    expect(
      (await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name: "web" })).spec?.replicas,
    ).toBe(3);
  });
});

describe("actions on each workload kind, as kubectl would do them", () => {
  let ns: string;
  beforeAll(async () => {
    ns = await namespace("e2e-act");
    await Promise.all(["-a", "-b", "-c"].map((suffix) => createWorkloadsWithTwoRevisions(ns, suffix)));
    await createArf(
      "approvalpolicies",
      ns,
      autonomousPolicy("act-now", {
        requireRollbackPlan: true,
        rollbackPlanDefaults: { autoRollback: { duration: "5m", checkInterval: "15s" } },
      }),
    );
  });

  it("rolls a Deployment back through its ReplicaSets", async () => {
    const { apps } = clientsFor("admin");
    const rsBefore = (await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: "app=web-a" })).items;
    const revisionOne = rsBefore.find((rs) => rs.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "1");
    await createArf("healingintents", ns, intentBody("rollback-web", "rollback", "Deployment", "web-a"));
    const intent = await succeeded(ns, "rollback-web");
    expect(intent.status.execution.desired).toMatchObject({
      type: "rollbackDeployment",
      toRevision: 1,
      fromRevision: 2,
    });
    const deployment = await eventually("revision 3", async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: "web-a" });
      return d.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "3" ? d : undefined;
    });
    expect(deployment.spec?.template?.spec?.containers?.[0]?.image).toBe("web:1");
    // kubectl semantics: revision 1's ReplicaSet is reused and becomes revision 3.
    const reused = await apps.readNamespacedReplicaSet({ namespace: ns, name: revisionOne?.metadata?.name as string });
    expect(reused.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("3");
    expect(deployment.metadata?.managedFields?.some((f) => f.manager === "arf-operator")).toBe(true);
    // The pre-action snapshot is on a RollbackPlan created from the policy's defaults.
    const plan = await getArf("rollbackplans", ns, "deployment-web-a");
    expect(plan.spec.autoRollback.duration).toBe("5m");
    const snapshot = plan.status.snapshots.find((s: any) => s.intentName === "rollback-web");
    expect(snapshot.template.spec.containers[0].image).toBe("web:2");
    expect(snapshot.revision).toBe(2);
  });

  it.each([
    ["StatefulSet", "cache-a", "cache:1"],
    ["DaemonSet", "agent-a", "agent:1"],
  ])("rolls a %s back through its ControllerRevisions", async (kind, name, image) => {
    await createArf("healingintents", ns, intentBody(`rollback-${name}`, "rollback", kind, name));
    const intent = await succeeded(ns, `rollback-${name}`);
    expect(intent.status.execution.desired).toMatchObject({ type: "rollbackControllerRevision", toRevision: 1 });
    // The snapshot names the ControllerRevision it was taken at, not an observedGeneration.
    const plan = await getArf("rollbackplans", ns, `${kind.toLowerCase()}-${name}`);
    const snapshot = plan.status.snapshots.find((s: any) => s.intentName === `rollback-${name}`);
    expect(snapshot.revision).toBe(2);
    expect(snapshot.template.spec.containers[0].image).toBe(image.replace(":1", ":2"));
    const { apps } = clientsFor("admin");
    const workload =
      kind === "StatefulSet"
        ? await apps.readNamespacedStatefulSet({ namespace: ns, name })
        : await apps.readNamespacedDaemonSet({ namespace: ns, name });
    expect(workload.spec?.template?.spec?.containers?.[0]?.image).toBe(image);
  });

  it.each([
    ["Deployment", "web-b"],
    ["StatefulSet", "cache-b"],
    ["DaemonSet", "agent-b"],
  ])("restarts a %s with the restartedAt annotation", async (kind, name) => {
    await createArf("healingintents", ns, intentBody(`restart-${name}`, "restart", kind, name));
    const intent = await succeeded(ns, `restart-${name}`);
    const { apps } = clientsFor("admin");
    const read = { namespace: ns, name };
    const workload =
      kind === "Deployment"
        ? await apps.readNamespacedDeployment(read)
        : kind === "StatefulSet"
          ? await apps.readNamespacedStatefulSet(read)
          : await apps.readNamespacedDaemonSet(read);
    expect(workload.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toBe(
      intent.status.execution.desired.restartedAt,
    );
    expect(workload.spec?.template?.spec?.containers?.[0]?.image).toMatch(/:2$/);
  });

  it.each([
    ["Deployment", "web-c", 5],
    ["StatefulSet", "cache-c", 3],
  ])("scales a %s through the scale subresource", async (kind, name, replicas) => {
    const since = Date.now();
    await createArf(
      "healingintents",
      ns,
      intentBody(`scale-${name}`, "scale", kind, name, { parameters: { replicas } }),
    );
    await succeeded(ns, `scale-${name}`);
    const { apps } = clientsFor("admin");
    const workload =
      kind === "Deployment"
        ? await apps.readNamespacedDeployment({ namespace: ns, name })
        : await apps.readNamespacedStatefulSet({ namespace: ns, name });
    expect(workload.spec?.replicas).toBe(replicas);
    const writes = workloadWritesTo(since, kind === "Deployment" ? "deployments" : "statefulsets", name);
    expect(writes.map((w) => `${w.verb} ${w.objectRef?.subresource}`)).toEqual(["patch scale"]);
  });

  it("scales a Deployment up from zero replicas (a Scale omits replicas: 0)", async () => {
    const { apps } = clientsFor("admin");
    await apps.createNamespacedDeployment({ namespace: ns, body: deploymentBody("idle", "idle:1", 0) });
    await createArf(
      "healingintents",
      ns,
      intentBody("wake-idle", "scale", "Deployment", "idle", { parameters: { replicas: 2 } }),
    );
    await succeeded(ns, "wake-idle");
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: "idle" })).spec?.replicas).toBe(2);
  });
});

describe("approvals by people whose identity the API server verifies", () => {
  let ns: string;
  beforeAll(async () => {
    ns = await namespace("e2e-approve");
    await createWorkloadsWithTwoRevisions(ns);
    await allowToWriteIntents(ns, ["requester", "alice", "bob", "outsider"]);
    await createArf("approvalpolicies", ns, {
      apiVersion: "arf.dev/v1alpha1",
      kind: "ApprovalPolicy",
      metadata: { name: "two-of-three" },
      spec: {
        mode: "approval",
        approvers: { users: ["alice", "bob", "requester"] },
        requiredApprovals: 2,
        approvalTTL: "1h",
      },
    });
  });

  const arf = (user: TestUser, args: string[]) => kubectlArf(ns, user, args);
  const appendApproval = (user: TestUser, approval: Record<string, unknown>) =>
    clientsFor(user).custom.patchNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "healingintents",
      name: "scale-web",
      body: [{ op: "add", path: "/spec/approvals/-", value: approval }],
    });

  it("rejects a requester who claims to be someone else", async () => {
    const forged = intentBody("forged-requester", "scale", "Deployment", "web", {
      parameters: { replicas: 4 },
      requestedBy: "alice",
    });
    const failure = await apiFailure(createArf("healingintents", ns, forged, "requester"));
    expect(failure.message).toContain("spec.requestedBy must be the creating user, requester");
  });

  it("counts two real approvers, never the requester or an outsider, and acts once", async () => {
    const since = Date.now();
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
    await intentWhere(ns, "scale-web", "awaiting approval", (i) => i.status?.phase === "AwaitingApproval");

    // The requester approves their own intent: admitted (it names them), never counted.
    await arf("requester", ["approve", "scale-web"]);
    // Alice tries to approve in Bob's name: the API server refuses.
    const forged = await apiFailure(appendApproval("alice", { user: "bob", decision: "approve" }));
    expect(forged.code).toBe(403);
    expect(forged.message).toContain("a new or changed approval must name the user who writes it, alice");
    // An authenticated user who may write intents but is no approver.
    await arf("outsider", ["approve", "scale-web"]);
    await arf("alice", ["approve", "scale-web", "-m", "latency confirmed"]);
    const waiting = await intentWhere(
      ns,
      "scale-web",
      "one counted approval",
      (i) => i.status?.approvals?.counted?.length === 1,
    );
    expect(waiting.status.phase).toBe("AwaitingApproval");
    expect(waiting.status.approvals.counted).toEqual(["alice"]);
    expect(waiting.status.approvals.ignored).toEqual([
      { user: "requester", reason: "four-eyes: the requester cannot approve or reject their own intent" },
      { user: "outsider", reason: "not an approver under the governing policy" },
    ]);
    expect(
      (await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name: "web" })).spec?.replicas,
    ).toBe(2);

    await arf("bob", ["approve", "scale-web"]);
    const done = await succeeded(ns, "scale-web");
    expect(done.status.approvals.counted).toEqual(["alice", "bob"]);
    expect(done.status.decision.reasons[0]).toContain("approved by alice and bob");
    expect(
      (await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name: "web" })).spec?.replicas,
    ).toBe(4);
    expect(workloadWritesTo(since, "deployments", "web")).toHaveLength(1);
    const { stdout } = await arf("admin", ["explain", "scale-web"]);
    expect(stdout).toContain("approved by:");
    expect(stdout).toContain("Succeeded");
  });

  it("ends an intent that an allowed approver rejects", async () => {
    await createArf(
      "healingintents",
      ns,
      intentBody("restart-web", "restart", "Deployment", "web", { requestedBy: "requester", approvals: [] }),
      "requester",
    );
    await arf("bob", ["reject", "restart-web", "-m", "not during the migration"]);
    const rejected = await intentWhere(ns, "restart-web", "rejected", (i) => i.status?.phase === "Rejected");
    expect(rejected.status.decision.reasons[0]).toBe("rejected by bob");
  });
});

describe("license expiry while running", () => {
  it("stops execution; approvals wait and count again once a valid license returns", async () => {
    const ns = await namespace("e2e-expiry");
    await createWorkloadsWithTwoRevisions(ns);
    await allowToWriteIntents(ns, ["requester", "alice", "bob"]);
    await createArf("approvalpolicies", ns, {
      apiVersion: "arf.dev/v1alpha1",
      kind: "ApprovalPolicy",
      metadata: { name: "two" },
      spec: { mode: "approval", approvers: { users: ["alice", "bob"] }, requiredApprovals: 2 },
    });
    await createArf(
      "healingintents",
      ns,
      intentBody("pending", "scale", "Deployment", "web", {
        parameters: { replicas: 3 },
        requestedBy: "requester",
        approvals: [],
      }),
      "requester",
    );
    const recommended = await intentWhere(ns, "pending", "a plan to approve", (i) => i.status?.recommendation?.digest);
    const approve = (user: TestUser) =>
      clientsFor(user).custom.patchNamespacedCustomObject({
        group: "arf.dev",
        version: "v1alpha1",
        namespace: ns,
        plural: "healingintents",
        name: "pending",
        body: [
          {
            op: "add",
            path: "/spec/approvals/-",
            value: { user, decision: "approve", planDigest: recommended.status.recommendation.digest },
          },
        ],
      });
    await approve("alice");
    await intentWhere(ns, "pending", "one approval", (i) => i.status?.approvals?.counted?.length === 1);

    const now = Math.floor(Date.now() / 1000);
    await setLicense(license({ notBefore: now - 7200, expiresAt: now - 60 }));
    await eventually("the OSS edition", async () =>
      (await operator.metric("arf_license_valid")) === 0 ? true : undefined,
    );
    await approve("bob");
    const waiting = await intentWhere(
      ns,
      "pending",
      "re-evaluated without a license",
      (i) => i.status?.observedGeneration === i.metadata.generation,
    );
    expect(waiting.status.phase).toBe("Advisory");
    expect(waiting.status.execution).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(
      (await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name: "web" })).spec?.replicas,
    ).toBe(2);

    await setLicense(license());
    const done = await succeeded(ns, "pending");
    expect(done.status.approvals.counted).toEqual(["alice", "bob"]);
    expect(
      (await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name: "web" })).spec?.replicas,
    ).toBe(3);
  });
});

describe("safety limits", () => {
  it("refuses beyond maxReplicas and inside a freeze window, saying why", async () => {
    const ns = await namespace("e2e-limits");
    await createWorkloadsWithTwoRevisions(ns);
    await createArf(
      "approvalpolicies",
      ns,
      autonomousPolicy("scale-capped", { selector: { actions: ["scale"] }, limits: { maxReplicas: 3 } }),
    );
    await createArf(
      "approvalpolicies",
      ns,
      autonomousPolicy("restarts-frozen", {
        selector: { actions: ["restart"] },
        freezeWindows: [{ name: "always", schedule: "* * * * *", duration: "1h" }],
      }),
    );
    await createArf(
      "healingintents",
      ns,
      intentBody("too-many", "scale", "Deployment", "web", { parameters: { replicas: 5 } }),
    );
    await createArf("healingintents", ns, intentBody("frozen", "restart", "Deployment", "web"));
    const tooMany = await intentWhere(ns, "too-many", "refused", (i) => i.status?.phase === "Refused");
    expect(condition(tooMany, "Executed")).toMatchObject({ reason: "MaxReplicasExceeded" });
    expect(tooMany.status.decision.reasons[0]).toContain("exceeds the policy's maxReplicas 3");
    const frozen = await intentWhere(ns, "frozen", "refused", (i) => i.status?.phase === "Refused");
    expect(condition(frozen, "Executed")).toMatchObject({ reason: "FreezeWindow" });
    expect(frozen.status.decision.reasons[0]).toContain("freeze window always is open until");
  });

  it("does not run approval-mode intents while the admission policy is missing (fail closed)", async () => {
    const ns = await namespace("e2e-closed");
    await createWorkloadsWithTwoRevisions(ns);
    await createArf("approvalpolicies", ns, {
      apiVersion: "arf.dev/v1alpha1",
      kind: "ApprovalPolicy",
      metadata: { name: "needs-people" },
      spec: { mode: "approval", approvers: { users: ["alice"] } },
    });
    const admission = clientsFor("admin").kc.makeApiClient(AdmissionregistrationV1Api);
    await admission.deleteValidatingAdmissionPolicyBinding({ name: "healingintent-approvals.arf.dev" });
    try {
      await createArf(
        "healingintents",
        ns,
        intentBody("unguarded", "scale", "Deployment", "web", {
          parameters: { replicas: 3 },
          requestedBy: "arf-admin",
        }),
      );
      const intent = await intentWhere(
        ns,
        "unguarded",
        "refused",
        (i) => condition(i, "Executed")?.reason === "AdmissionPolicyMissing",
        60_000,
      );
      expect(intent.status.phase).toBe("Refused");
    } finally {
      await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(REPO_ROOT, "crds")]);
    }
  });
});

describe("at most once", () => {
  it("does not repeat an action when the operator dies after acting and before recording it", async () => {
    const ns = await namespace("e2e-crash");
    await createWorkloadsWithTwoRevisions(ns);
    await operator.stop();
    await createArf("approvalpolicies", ns, autonomousPolicy("act-now"));
    const since = Date.now();
    const crashing = await startOperator("crashing", [
      ...LEASE_ARGS,
      ...LICENSE_ARGS,
      "--fault-injection=crash-after-action",
    ]);
    await createArf("healingintents", ns, intentBody("restart-once", "restart", "Deployment", "web"));
    const code = await new Promise<number | null>((resolve) => crashing.process.on("exit", resolve));
    expect(code).toBe(137);
    const recorded = await getArf("healingintents", ns, "restart-once");
    expect(recorded.status.phase).toBe("Executing");
    expect(recorded.status.execution.state).toBe("Started");
    const { apps } = clientsFor("admin");
    const afterCrash = await apps.readNamespacedDeployment({ namespace: ns, name: "web" });
    expect(afterCrash.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toBe(
      recorded.status.execution.desired.restartedAt,
    );

    operator = await startOperator("licensed-2", [...LEASE_ARGS, ...LICENSE_ARGS]);
    const done = await succeeded(ns, "restart-once");
    expect(done.status.execution.attemptId).toBe(recorded.status.execution.attemptId);
    expect(done.status.execution.message).toContain("already restarted");
    const now = await apps.readNamespacedDeployment({ namespace: ns, name: "web" });
    expect(now.metadata?.generation).toBe(afterCrash.metadata?.generation);
    expect(workloadWritesTo(since, "deployments", "web")).toHaveLength(1);
  });
});
