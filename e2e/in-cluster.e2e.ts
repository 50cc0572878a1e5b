// The operator as users run it: the image hack/build-images.sh builds from the
// project's Dockerfile, installed with `helm install` onto the real node, as
// its ServiceAccount, reaching the API server through the kubernetes Service.
// OSS first (recommends, never writes a workload), then `helm upgrade` to the
// licensed edition (two approvers, the action runs once), back to OSS, and
// `helm uninstall`, which keeps the CRDs and every intent.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ApiextensionsV1Api, CoordinationV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT } from "./support/env.ts";
import {
  allowToWriteIntents,
  clientsFor,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubectlArf,
  operatorWrites,
} from "./support/kube.ts";
import { LICENSE_SECRET, TestLicenses } from "./support/license.ts";
import { createArf, getArf, intentWhere } from "./support/operator.ts";
import { OPERATOR_IMAGE, REAL_NODE, realNodeEnabled, realNodeHelmSets } from "./support/real-node.ts";
import { createWorkloadsWithTwoRevisions, intentBody, policyBody } from "./support/workloads.ts";

const run = promisify(execFile);
const chart = join(REPO_ROOT, "charts", "arf-operator");
const suffix = randomBytes(3).toString("hex");
const releaseNs = `arf-incluster-${suffix}`;
const release = `incluster-${suffix}`;
const serviceAccount = `system:serviceaccount:${releaseNs}:arf-operator`;
const licenses = new TestLicenses();
const LEASE_SECONDS = 40;
let workloadsNs: string;

const helm = (args: string[]) =>
  run(inject("helm"), [...args, "--kubeconfig", inject("kubeconfig"), "--kube-context", "arf-admin"], {
    maxBuffer: 8 << 20,
  });

/** helm install/upgrade of one edition onto the real node, waiting until the Deployment is Available. */
async function installEdition(verb: "install" | "upgrade", edition: "oss" | "licensed") {
  const keyFile = join(tmpdir(), `arf-incluster-${suffix}.pem`);
  writeFileSync(keyFile, licenses.publicKeyPem);
  const started = Date.now();
  await helm([
    verb,
    release,
    chart,
    "--namespace",
    releaseNs,
    ...(verb === "install" ? ["--create-namespace"] : []),
    "--wait",
    "--timeout",
    "150s",
    "--set",
    `edition=${edition}`,
    // The suite's cluster already has the admission policy from crds/ (cluster-scoped, one owner).
    "--set",
    "admissionPolicy.install=false",
    "--set",
    // A long lease: a successor that takes over well within it proves the old leader released it.
    `leaderElection.leaseDuration=${LEASE_SECONDS}s,leaderElection.renewDeadline=20s,leaderElection.retryPeriod=1s`,
    "--set-file",
    `license.unsafePublicKeyOverride=${keyFile}`,
    ...realNodeHelmSets.flatMap((set) => ["--set", set]),
  ]);
  console.log(`helm ${verb} ${edition}: Available in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function operatorPods(): Promise<V1Pod[]> {
  const pods = await clientsFor("admin").core.listNamespacedPod({
    namespace: releaseNs,
    labelSelector: "app.kubernetes.io/name=arf-operator",
  });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp);
}

/** Scrapes a Pod's /metrics from the host, over the Pods' network (no port-forward). */
async function podMetric(pod: V1Pod, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`http://${pod.status?.podIP}:8080/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

/** The pod that holds the lease, by its own metric. */
const leaderPod = () =>
  eventually("one operator Pod to lead", async () => {
    const pods = await operatorPods();
    const leading = [];
    for (const pod of pods)
      if ((await podMetric(pod, "leader_election_master_status").catch(() => 0)) === 1) leading.push(pod);
    return leading.length === 1 ? leading[0] : undefined;
  });

const intentNames = async () =>
  (
    (await clientsFor("admin").custom.listNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: workloadsNs,
      plural: "healingintents",
    })) as { items: Array<{ metadata: { name: string }; status?: { phase?: string } }> }
  ).items
    .map((i) => `${i.metadata.name}=${i.status?.phase}`)
    .sort();

describe.skipIf(!realNodeEnabled())("the operator in-cluster on the real node, installed with Helm", () => {
  beforeAll(async () => {
    await licenses.bindToCluster();
    workloadsNs = await createTestNamespace("e2e-incluster");
    await createWorkloadsWithTwoRevisions(workloadsNs);
    await allowToWriteIntents(workloadsNs, ["requester", "alice", "bob"]);
  });

  afterAll(async () => {
    await helm(["uninstall", release, "--namespace", releaseNs, "--wait"]).catch(() => undefined);
    await deleteTestNamespace(releaseNs);
    await deleteTestNamespace(workloadsNs);
  });

  it("OSS: runs the built image as its ServiceAccount with probes passing and metrics served, and only recommends", async () => {
    const since = Date.now();
    await installEdition("install", "oss");
    const pods = await operatorPods();
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toBe(REAL_NODE);
      expect(pod.spec?.serviceAccountName).toBe("arf-operator");
      expect(pod.spec?.containers[0]?.image).toBe(OPERATOR_IMAGE);
      // Readiness passed on both (a standby with warm caches is ready); liveness never restarted it.
      expect(pod.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
      expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
      // A real container: it has a start time and an image ID from containerd.
      expect(pod.status?.containerStatuses?.[0]?.containerID).toMatch(/^containerd:\/\//);
      expect(await podMetric(pod, "arf_edition_info", { edition: "oss" })).toBe(1);
    }
    await leaderPod();

    await createArf("healingintents", workloadsNs, intentBody("restart-web", "restart", "Deployment", "web"));
    const advised = await intentWhere(
      workloadsNs,
      "restart-web",
      "a recommendation",
      (i) => i.status?.phase === "Advisory",
    );
    expect(advised.status.recommendation.summary).toBeTruthy();
    // The API server saw the ServiceAccount write the intent's status, and never a workload.
    await eventually("the ServiceAccount's status write in the audit log", async () =>
      operatorWrites(since, { user: serviceAccount, resources: ["healingintents"] }).length > 0 ? true : undefined,
    );
    expect(operatorWrites(since, { user: serviceAccount })).toEqual([]);
  });

  it("SIGTERM from the kubelet makes the leader release its lease, so the standby takes over at once", async () => {
    const leader = await leaderPod();
    const { core } = clientsFor("admin");
    const coordination = clientsFor("admin").kc.makeApiClient(CoordinationV1Api);
    const holder = async () =>
      (await coordination.readNamespacedLease({ name: "arf-operator", namespace: releaseNs })).spec?.holderIdentity;
    expect(await holder()).toBe(leader.metadata?.name);
    const deletedAt = Date.now();
    await core.deleteNamespacedPod({ name: leader.metadata?.name as string, namespace: releaseNs });
    const successor = await eventually(
      "another Pod to hold the lease",
      async () => {
        const name = await holder();
        return name && name !== leader.metadata?.name ? name : undefined;
      },
      { timeoutMs: LEASE_SECONDS * 1000 + 10_000 },
    );
    const takeoverSeconds = (Date.now() - deletedAt) / 1000;
    // Had the lease not been released, the standby would wait out all of it.
    expect(takeoverSeconds).toBeLessThan(LEASE_SECONDS / 2);
    expect((await operatorPods()).map((p) => p.metadata?.name)).toContain(successor);
    await installEdition("upgrade", "oss"); // waits until the replacement Pod is ready too
  });

  it("licensed via helm upgrade: two approvers, and the action runs once, as the ServiceAccount", async () => {
    const before = await intentNames();
    await licenses.install(licenses.issue(), releaseNs);
    await installEdition("upgrade", "licensed");
    const leader = await leaderPod();
    await eventually("the licensed edition", async () =>
      (await podMetric(leader, "arf_edition_info", { edition: "licensed" })) === 1 ? true : undefined,
    );
    expect(await intentNames()).toEqual(before);

    await createArf(
      "approvalpolicies",
      workloadsNs,
      policyBody("two-people", { mode: "approval", approvers: { users: ["alice", "bob"] }, requiredApprovals: 2 }),
    );
    const since = Date.now();
    await createArf(
      "healingintents",
      workloadsNs,
      intentBody("scale-web", "scale", "Deployment", "web", { parameters: { replicas: 3 }, requestedBy: "requester" }),
      "requester",
    );
    await intentWhere(workloadsNs, "scale-web", "awaiting approval", (i) => i.status?.phase === "AwaitingApproval");
    await kubectlArf(workloadsNs, "alice", ["approve", "scale-web"]);
    await kubectlArf(workloadsNs, "bob", ["approve", "scale-web"]);
    const done = await intentWhere(
      workloadsNs,
      "scale-web",
      "executed",
      (i) => ["Succeeded", "Failed"].includes(i.status?.phase),
      60_000,
    );
    expect(done.status.phase, JSON.stringify(done.status)).toBe("Succeeded");
    expect(done.status.approvals.counted).toEqual(["alice", "bob"]);
    const web = await clientsFor("admin").apps.readNamespacedDeployment({ namespace: workloadsNs, name: "web" });
    expect(web.spec?.replicas).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const writes = operatorWrites(since, { user: serviceAccount, namespace: workloadsNs });
    expect(writes.map((w) => `${w.verb} ${w.objectRef?.resource}/${w.objectRef?.name}`)).toEqual([
      expect.stringMatching(/^(patch|update) deployments\/web$/),
    ]);
  });

  it("back to OSS with helm upgrade loses no intent, and helm uninstall keeps the CRDs and the intents", async () => {
    const before = await intentNames();
    // Both intents, each with the phase the operator gave it (restart-web is re-decided under the new policy).
    expect(before.map((i) => i.split("=")[0])).toEqual(["restart-web", "scale-web"]);
    expect(before).toContain("scale-web=Succeeded");
    await installEdition("upgrade", "oss");
    const leader = await leaderPod();
    expect(await podMetric(leader, "arf_edition_info", { edition: "oss" })).toBe(1);
    // Every intent is still there; the one that ran keeps its record (an open one is re-decided: OSS only advises).
    const afterDowngrade = await intentNames();
    expect(afterDowngrade.map((i) => i.split("=")[0])).toEqual(["restart-web", "scale-web"]);
    expect(afterDowngrade).toContain("scale-web=Succeeded");
    const scaled = await getArf("healingintents", workloadsNs, "scale-web");
    expect(scaled.status.execution.state).toBe("Succeeded");

    await helm(["uninstall", release, "--namespace", releaseNs, "--wait"]);
    await eventually(
      "the operator Pods to be gone",
      async () => ((await operatorPods()).length === 0 ? true : undefined),
      {
        timeoutMs: 60_000,
      },
    );
    const crds = await clientsFor("admin").kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition({
      labelSelector: "app.kubernetes.io/part-of=arf-operator",
    });
    expect(crds.items.map((c) => c.metadata?.name).sort()).toEqual([
      "approvalpolicies.arf.dev",
      "healingintents.arf.dev",
      "rollbackplans.arf.dev",
    ]);
    expect(await intentNames()).toEqual(afterDowngrade);
    // The license Secret is the user's, not the chart's: uninstall leaves it.
    await clientsFor("admin").core.readNamespacedSecret({ name: LICENSE_SECRET, namespace: releaseNs });
  });
});
