// GitOps with a real Flux: source-controller and kustomize-controller (built
// from the Go module proxy) sync an ApprovalPolicy, a RollbackPlan and
// HealingIntents from a git repository served on loopback, while the licensed
// operator decides and acts and two real users approve with the plugin.
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { FLUX_NAMESPACE, TestFlux } from "./support/flux.ts";
import { GitServer, type GitWorkTree } from "./support/git-server.ts";
import {
  allowToWriteIntents,
  clientsFor,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubectl,
  kubectlArf,
  operatorWrites,
} from "./support/kube.ts";
import { quickLeaseArgs, removeLicensedEdition, TestLicenses } from "./support/license.ts";
import {
  condition,
  getArf,
  installChartRbac,
  intentWhere,
  type RunningOperator,
  startOperator,
} from "./support/operator.ts";
import { deploymentBody, intentBody, policyBody } from "./support/workloads.ts";

const FLUX_USER = "flux-controller";
const licenses = new TestLicenses();
const flux = new TestFlux();
const git = new GitServer();
let repo: GitWorkTree;
let operator: RunningOperator;
let ns: string;
let firstCommit = "";

/** Where this test's Flux objects (both named after the test namespace) live. */
const SOURCE = { group: "source.toolkit.fluxcd.io", plural: "gitrepositories" } as const;
const KUSTOMIZATION = { group: "kustomize.toolkit.fluxcd.io", plural: "kustomizations" } as const;
const fluxObject = (kind: typeof SOURCE | typeof KUSTOMIZATION) => ({
  ...kind,
  version: "v1",
  namespace: FLUX_NAMESPACE,
  name: ns,
});

const kustomizations = () =>
  clientsFor("admin").custom.getNamespacedCustomObject(fluxObject(KUSTOMIZATION)) as Promise<any>;

/**
 * Waits until Flux has applied this commit (or tried to) and its Ready
 * condition has the given status; with `requestedAt`, only a sync that handled
 * that request counts, so a condition left from an earlier sync never does.
 */
const syncedTo = (sha: string, ready: "True" | "False", requestedAt?: string, timeoutMs = 90_000) =>
  eventually(
    `Kustomization at ${sha.slice(0, 7)} with Ready=${ready}`,
    async () => {
      const k = await kustomizations();
      const readyCondition = condition(k, "Ready");
      const revision = ready === "True" ? k.status?.lastAppliedRevision : k.status?.lastAttemptedRevision;
      const handled = requestedAt === undefined || k.status?.lastHandledReconcileAt === requestedAt;
      return String(revision).endsWith(sha) && readyCondition?.status === ready && handled ? k : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );

/** Asks Flux to sync now rather than at its next interval (what `flux reconcile` does); returns the request's mark. */
async function requestSync(): Promise<string> {
  const at = new Date().toISOString();
  for (const kind of [SOURCE, KUSTOMIZATION]) {
    await clientsFor("admin").custom.patchNamespacedCustomObject(
      { ...fluxObject(kind), body: { metadata: { annotations: { "reconcile.fluxcd.io/requestedAt": at } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }
  return at;
}

/** Pushes one commit and asks Flux to sync it; waits until Flux has, with Ready as given. */
async function commitAndSync(
  message: string,
  files: Record<string, unknown | undefined>,
  ready: "True" | "False" = "True",
): Promise<any> {
  const sha = await repo.commit(
    message,
    Object.fromEntries(
      Object.entries(files).map(([path, object]) => [path, object === undefined ? undefined : stringify(object)]),
    ),
  );
  return syncedTo(sha, ready, await requestSync());
}

/** Writes by a user to the arf.dev objects of the test namespace since a time, dry runs excluded. */
const arfWrites = (since: number, user: string) =>
  operatorWrites(since, { resources: ["healingintents", "approvalpolicies", "rollbackplans"], namespace: ns, user });

// What git holds. The namespace comes from the Kustomization's targetNamespace.
const policy = policyBody("two-approvers", {
  mode: "approval",
  approvers: { users: ["alice", "bob"] },
  requiredApprovals: 2,
  approvalTTL: "1h",
});
const plan = {
  apiVersion: "arf.dev/v1alpha1",
  kind: "RollbackPlan",
  metadata: { name: "web" },
  spec: {
    target: { kind: "Deployment", name: "web" },
    autoRollback: { duration: "90s", checkInterval: "2s" },
    healthChecks: { workloadReady: { minAvailableRatio: 1 } },
  },
};
// In approval mode an intent names its requester, checked at admission against
// the creating user: under GitOps that is Flux itself, so no approver is the requester.
const notes = (change: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "notes" },
  data: { change },
});
const intent = (name: string, replicas: number) =>
  intentBody(name, "scale", "Deployment", "web", { parameters: { replicas }, requestedBy: FLUX_USER });

beforeAll(async () => {
  await installChartRbac("licensed");
  await licenses.bindToCluster();
  await licenses.install();
  operator = await startOperator("arf-flux-e2e", [...quickLeaseArgs("arf-flux-e2e"), ...licenses.args()]);
  await flux.start();
  await git.start();
  ns = await createTestNamespace("e2e-flux");
  repo = await git.createRepository(ns);
  await allowToWriteIntents(ns, ["alice", "bob"]);
  // The workload is not in git: the operator's scale is the only change to it.
  await clientsFor("admin").apps.createNamespacedDeployment({
    namespace: ns,
    body: deploymentBody("web", "nginx:1", 2),
  });
  firstCommit = await repo.commit("policy, plan and the first intent", {
    "policy.yaml": stringify(policy),
    "plan.yaml": stringify(plan),
    "scale-web.yaml": stringify(intent("scale-web", 3)),
  });
  const custom = clientsFor("admin").custom;
  await custom.createNamespacedCustomObject({
    ...fluxObject(SOURCE),
    body: {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { name: ns },
      spec: { url: git.url(ns), ref: { branch: "main" }, interval: "1m" },
    },
  });
  await custom.createNamespacedCustomObject({
    ...fluxObject(KUSTOMIZATION),
    body: {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: ns },
      // wait: true health-checks every object applied (kstatus); a long timeout
      // shows that a failure is reported at once rather than when it runs out.
      spec: {
        sourceRef: { kind: "GitRepository", name: ns },
        path: "./",
        targetNamespace: ns,
        prune: true,
        wait: true,
        timeout: "10m",
        interval: "1m",
      },
    },
  });
});

afterAll(async () => {
  // Flux's objects live in flux-system and carry Flux's finalizers: delete them
  // and wait until Flux has let them go (pruning what they applied), before it stops.
  const custom = clientsFor("admin").custom;
  if (ns) {
    for (const kind of [KUSTOMIZATION, SOURCE]) {
      const where = fluxObject(kind);
      const { plural } = kind;
      await custom.deleteNamespacedCustomObject(where).catch(() => undefined);
      await eventually(
        `${plural} ${ns} to be gone`,
        async () => ((await custom.getNamespacedCustomObject(where).catch((e) => e?.code)) === 404 ? true : undefined),
        { timeoutMs: 30_000 },
      ).catch(async () => {
        // Flux did not finish: drop its finalizer rather than leave the object Terminating for ever.
        await custom
          .patchNamespacedCustomObject(
            { ...where, body: { metadata: { finalizers: null } } },
            setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
          )
          .catch(() => undefined);
      });
    }
  }
  await flux.stop();
  await git.stop();
  await operator?.stop();
  await removeLicensedEdition();
  if (ns) await deleteTestNamespace(ns);
});

describe("Flux drives intents, policies and approvals", () => {
  it("applies what git holds, and wait: true is not held up by an intent awaiting approval", async () => {
    const synced = await syncedTo(firstCommit, "True");
    expect(synced.status.inventory.entries.map((e: any) => e.id).sort()).toEqual(
      [
        `${ns}_two-approvers_arf.dev_ApprovalPolicy`,
        `${ns}_web_arf.dev_RollbackPlan`,
        `${ns}_scale-web_arf.dev_HealingIntent`,
      ].sort(),
    );
    // Ready while the intent still waits for people: a human approval is not "in progress" for a sync.
    const waiting = await getArf("healingintents", ns, "scale-web");
    expect(waiting.status.phase).toBe("AwaitingApproval");
    expect(condition(waiting, "Ready")?.status).toBe("True");
    expect(waiting.status.observedGeneration).toBe(waiting.metadata.generation);
  });

  it("keeps an approval made with kubectl arf approve through later syncs and commits", async () => {
    await kubectlArf(ns, "alice", ["approve", "scale-web", "-m", "checked the dashboard"]);
    await commitAndSync("an unrelated change", { "notes.yaml": notes("an unrelated change") });
    // A commit that changes the intent itself: Flux applies it over the live approval.
    const labelled = intent("scale-web", 3);
    labelled.metadata = { ...labelled.metadata, labels: { team: "checkout" } } as typeof labelled.metadata;
    await commitAndSync("label the intent", { "scale-web.yaml": labelled });
    const approved = await getArf("healingintents", ns, "scale-web");
    expect(approved.metadata.labels).toMatchObject({ team: "checkout" });
    expect(approved.spec.approvals.map((a: any) => a.user)).toEqual(["alice"]);
    expect(approved.metadata.managedFields.map((m: any) => m.manager)).toContain("arf-approve");
    expect(approved.status.phase).toBe("AwaitingApproval");
  });

  it("turns an approval made with plain kubectl into a sync failure that names it, and loses nothing", async () => {
    // Flux strips the managers named kubectl*, so its next apply would drop an
    // entry appended with `kubectl patch`; the CRD forbids removing an
    // approval, so the sync fails loudly instead of losing it silently.
    await commitAndSync("a second intent", { "scale-web-plain.yaml": intent("scale-web-plain", 4) });
    const plain = await intentWhere(
      ns,
      "scale-web-plain",
      "awaiting approval",
      (i) => i.status?.phase === "AwaitingApproval",
    );
    const bob = JSON.parse(await kubectl(["auth", "whoami", "-o", "json"], "bob")).status.userInfo;
    const entry = {
      user: bob.username,
      groups: bob.groups,
      decision: "approve",
      at: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      planDigest: plain.status.recommendation.digest,
    };
    await kubectl(
      [
        "-n",
        ns,
        "patch",
        "healingintent",
        "scale-web-plain",
        "--type=json",
        "-p",
        JSON.stringify([{ op: "add", path: "/spec/approvals", value: [entry] }]),
      ],
      "bob",
    );
    const failed = await commitAndSync(
      "a change after the plain approval",
      { "notes.yaml": notes("after the plain approval") },
      "False",
    );
    expect(condition(failed, "Ready").message).toContain("scale-web-plain");
    expect(condition(failed, "Ready").message).toContain("approvals cannot be removed");
    expect((await getArf("healingintents", ns, "scale-web-plain")).spec.approvals.map((a: any) => a.user)).toEqual([
      "bob",
    ]);
    // The remedy: take the intent out of git; the sync prunes it and is Ready again.
    await commitAndSync("remove the wedged intent", { "scale-web-plain.yaml": undefined });
    await eventually("the wedged intent to be pruned", async () =>
      (await getArf("healingintents", ns, "scale-web-plain").catch((error) => error?.code)) === 404 ? true : undefined,
    );
  });

  it("acts on the second approval, and the operator's status survives syncs while the window is open", async () => {
    const since = Date.now();
    await kubectlArf(ns, "bob", ["approve", "scale-web"]);
    const done = await intentWhere(
      ns,
      "scale-web",
      "executed",
      (i) => ["Succeeded", "Failed"].includes(i.status?.phase),
      60_000,
    );
    expect(done.status.phase, JSON.stringify(done.status.execution)).toBe("Succeeded");
    expect(
      (await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name: "web" })).spec?.replicas,
    ).toBe(3);
    await eventually("the window to watch the action", async () =>
      (await getArf("rollbackplans", ns, "web")).status?.window?.state === "Watching" ? true : undefined,
    );
    // A commit while the window watches: Flux syncs and is Ready, not held up by the open window.
    await commitAndSync("while the window is open", { "notes.yaml": notes("while the window is open") });
    // A late change to the finished intent's spec (alice renews her approval by hand; the plugin
    // refuses a finished intent): the operator observes the new generation without deciding again,
    // so the next sync is not held up waiting for observedGeneration.
    const refusedLate = await kubectlArf(ns, "alice", ["approve", "scale-web"]).catch((e) => e);
    expect(String(refusedLate.stderr)).toContain("the intent is Succeeded: a finished intent is a record");
    const finished = await getArf("healingintents", ns, "scale-web");
    const alice = finished.spec.approvals.findIndex((a: any) => a.user === "alice");
    await clientsFor("alice").custom.patchNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "healingintents",
      name: "scale-web",
      body: [
        { op: "test", path: `/spec/approvals/${alice}/user`, value: "alice" },
        { op: "replace", path: `/spec/approvals/${alice}/comment`, value: "looked again after it ran" },
      ],
    });
    await commitAndSync("after a late change to the finished intent", { "notes.yaml": notes("late change") });
    const observed = await getArf("healingintents", ns, "scale-web");
    expect(observed.metadata.generation).toBe(finished.metadata.generation + 1);
    expect(observed.status.observedGeneration).toBe(observed.metadata.generation);
    expect(observed.status.phase).toBe("Succeeded");
    const planNow = await getArf("rollbackplans", ns, "web");
    expect(planNow.status.window).toMatchObject({ state: "Watching", intentName: "scale-web" });
    const after = await getArf("healingintents", ns, "scale-web");
    expect(after.status.phase).toBe("Succeeded");
    expect(after.spec.approvals.map((a: any) => a.user)).toEqual(["alice", "bob"]);
    // The operator wrote only status; Flux wrote nothing to the objects it had already applied.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const operatorWrites = arfWrites(since, "arf-operator");
    expect(operatorWrites.length).toBeGreaterThan(0);
    expect(operatorWrites.filter((e) => e.objectRef?.subresource !== "status")).toEqual([]);
    expect(
      arfWrites(since, FLUX_USER).filter((e) =>
        ["scale-web", "two-approvers", "web"].includes(e.objectRef?.name ?? ""),
      ),
    ).toEqual([]);
  });

  it("fails the sync at once, naming the intent, when an intent is refused", async () => {
    // Committed without spec.requestedBy under an approval policy: four-eyes cannot be enforced, so it is refused.
    const { requestedBy: _omitted, ...spec } = intent("no-requester", 4).spec as Record<string, unknown>;
    // The timeout is 10 minutes: a failure seen within the wait below was reported, not timed out.
    const failed = await commitAndSync(
      "an intent the operator refuses",
      { "no-requester.yaml": { ...intent("no-requester", 4), spec } },
      "False",
    );
    expect(condition(failed, "Ready").message).toContain("no-requester");
    const refused = await getArf("healingintents", ns, "no-requester");
    expect(refused.status.phase).toBe("Refused");
    expect(refused.status.decision.reasons[0]).toContain("approval mode needs spec.requestedBy");
    expect(condition(refused, "Stalled")?.status).toBe("True");
    await commitAndSync("take the refused intent out", { "no-requester.yaml": undefined });
  });

  it("fails the sync at once, naming the intent, when an intent is rejected", async () => {
    const synced = await commitAndSync("an intent that will be rejected", {
      "scale-rejected.yaml": intent("scale-rejected", 4),
    });
    const head = String(synced.status.lastAppliedRevision).split(":").pop() as string;
    await intentWhere(ns, "scale-rejected", "awaiting approval", (i) => i.status?.phase === "AwaitingApproval");
    await kubectlArf(ns, "alice", ["reject", "scale-rejected", "-m", "not during the sale"]);
    await intentWhere(ns, "scale-rejected", "rejected", (i) => i.status?.phase === "Rejected");
    const failed = await syncedTo(head, "False", await requestSync());
    expect(condition(failed, "Ready").message).toContain("scale-rejected");
    const rejected = await getArf("healingintents", ns, "scale-rejected");
    expect(condition(rejected, "Stalled")?.status).toBe("True");
    expect(rejected.spec.approvals.map((a: any) => [a.user, a.decision])).toEqual([["alice", "reject"]]);
  });

  it("prunes intents removed from git without touching the workload", async () => {
    const before = await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name: "web" });
    const since = Date.now();
    await commitAndSync("remove the intents", { "scale-web.yaml": undefined, "scale-rejected.yaml": undefined });
    await eventually("the intents to be gone", async () => {
      const list: any = await clientsFor("admin").custom.listNamespacedCustomObject({
        group: "arf.dev",
        version: "v1alpha1",
        namespace: ns,
        plural: "healingintents",
      });
      return list.items.length === 0 ? true : undefined;
    });
    // Time for the operator to have reacted to the deletions, had it meant to write anything.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const after = await clientsFor("admin").apps.readNamespacedDeployment({ namespace: ns, name: "web" });
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(after.spec?.replicas).toBe(3);
    // Anyone's: neither the operator nor Flux touched the workload.
    const workloadWrites = operatorWrites(since, { resources: ["deployments"], namespace: ns, user: null });
    expect(workloadWrites).toEqual([]);
  });
});
