// A real workload that really fails: demo-service on the real node, its bad
// release (v2) answering 500s, scraped by a real Prometheus through file_sd.
// A rollback intent brings back the good revision and Prometheus sees the
// error ratio fall; a rollback to a revision that is itself bad makes things
// worse, and the auto-rollback window undoes it, with the ratio recovering.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientsFor, createTestNamespace, deleteTestNamespace, eventually, operatorWrites } from "./support/kube.ts";
import { quickLeaseArgs, removeLicensedEdition, TestLicenses } from "./support/license.ts";
import {
  createArf,
  getArf,
  installChartRbac,
  intentWhere,
  type RunningOperator,
  startOperator,
} from "./support/operator.ts";
import { TestPrometheus } from "./support/prometheus.ts";
import { DEMO_SERVICE, demoServiceDeployment, PodTargets, REAL_NODE, realNodeEnabled } from "./support/real-node.ts";
import { intentBody, policyBody } from "./support/workloads.ts";

const licenses = new TestLicenses();
const prometheus = new TestPrometheus();
const targets = new PodTargets(join(mkdtempSync(join(tmpdir(), "arf-targets-")), "pods.json"));
const namespaces: string[] = [];
let operator: RunningOperator;

/** The share of requests answered 500 over the last few seconds, as Prometheus computes it. */
const errorRatioQuery = (ns: string) =>
  `sum(rate(http_requests_total{namespace="${ns}",code="500"}[5s])) / sum(rate(http_requests_total{namespace="${ns}"}[5s]))`;

const errorRatioWhere = (ns: string, description: string, check: (ratio: number) => boolean) =>
  eventually(
    `Prometheus to see the error ratio ${description}`,
    async () => {
      const ratio = await prometheus.query(errorRatioQuery(ns));
      return ratio !== undefined && Number.isFinite(ratio) && check(ratio) ? ratio : undefined;
    },
    { timeoutMs: 60_000 },
  );

/** Waits until every replica runs the given release, on the real node, and nothing older is left. */
async function rolledOutTo(ns: string, release: "v1" | "v2" | "v3") {
  const { apps, core } = clientsFor("admin");
  await eventually(
    `deployment/demo to run ${release}`,
    async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: "demo" });
      const done =
        d.status?.observedGeneration === d.metadata?.generation &&
        d.spec?.template?.spec?.containers?.[0]?.image === DEMO_SERVICE(release) &&
        d.status?.updatedReplicas === d.spec?.replicas &&
        d.status?.availableReplicas === d.spec?.replicas &&
        d.status?.replicas === d.spec?.replicas;
      if (!done) return undefined;
      const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: "app=demo" })).items;
      const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
      return live.every((p) => p.spec?.nodeName === REAL_NODE && p.spec?.containers[0]?.image === DEMO_SERVICE(release))
        ? true
        : undefined;
    },
    { timeoutMs: 90_000 },
  );
}

async function setImage(ns: string, release: "v1" | "v2" | "v3") {
  await clientsFor("admin").apps.patchNamespacedDeployment({
    namespace: ns,
    name: "demo",
    body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: DEMO_SERVICE(release) }],
  });
}

/** A namespace with demo-service rolled out through the given releases, scraped by Prometheus, under an autonomous policy. */
async function demoThrough(prefix: string, releases: Array<"v1" | "v2" | "v3">) {
  const ns = await createTestNamespace(prefix);
  namespaces.push(ns);
  targets.watch(ns);
  await clientsFor("admin").apps.createNamespacedDeployment({
    namespace: ns,
    body: demoServiceDeployment("demo", releases[0] as "v1"),
  });
  await rolledOutTo(ns, releases[0] as "v1");
  for (const release of releases.slice(1)) {
    await setImage(ns, release);
    await rolledOutTo(ns, release);
  }
  await createArf("approvalpolicies", ns, policyBody("act-now", { mode: "autonomous" }));
  return ns;
}

describe.skipIf(!realNodeEnabled())("a real workload on the real node", () => {
  beforeAll(async () => {
    prometheus.targetsFile = targets.file;
    await prometheus.start();
    await installChartRbac("licensed");
    await licenses.bindToCluster();
    await licenses.install();
    operator = await startOperator("real-workload-1", [
      ...quickLeaseArgs("arf-real-workload-e2e"),
      ...licenses.args(),
      `--prometheus-url=${prometheus.url}`,
      "--prometheus-timeout=2s",
    ]);
    await eventually("the licensed edition", async () =>
      (await operator.metric("arf_edition_info", { edition: "licensed" })) === 1 ? true : undefined,
    );
  });

  afterAll(async () => {
    targets.stop();
    await operator?.stop();
    await prometheus.stop();
    await removeLicensedEdition();
    for (const ns of namespaces) await deleteTestNamespace(ns);
  });

  it("a bad release answers errors; a rollback intent restores the good revision and the error ratio falls", async () => {
    const ns = await demoThrough("e2e-real-rollback", ["v1"]);
    await errorRatioWhere(ns, "at zero for the good release", (r) => r === 0);

    await setImage(ns, "v2");
    await rolledOutTo(ns, "v2");
    const bad = await errorRatioWhere(ns, "near one for the bad release", (r) => r > 0.9);
    expect(bad).toBeGreaterThan(0.9);

    const since = Date.now();
    await createArf("healingintents", ns, intentBody("rollback-demo", "rollback", "Deployment", "demo"));
    const done = await intentWhere(
      ns,
      "rollback-demo",
      "executed",
      (i) => ["Succeeded", "Failed"].includes(i.status?.phase),
      60_000,
    );
    expect(done.status.phase, JSON.stringify(done.status)).toBe("Succeeded");
    await rolledOutTo(ns, "v1");
    await errorRatioWhere(ns, "back at zero", (r) => r === 0);
    expect(operatorWrites(since, { namespace: ns })).toHaveLength(1);
  });

  it("a rollback to a bad revision makes things worse, and the window undoes it automatically", async () => {
    // History: v2 (bad), then v3 (good, running). "Roll back" means back to v2.
    const ns = await demoThrough("e2e-real-window", ["v2", "v3"]);
    await errorRatioWhere(ns, "at zero while v3 runs", (r) => r === 0);
    await createArf("rollbackplans", ns, {
      apiVersion: "arf.dev/v1alpha1",
      kind: "RollbackPlan",
      metadata: { name: "demo" },
      spec: {
        target: { kind: "Deployment", name: "demo" },
        autoRollback: { duration: "3m", checkInterval: "2s", failureLimit: 2 },
        healthChecks: {
          prometheus: {
            queries: [
              { name: "error-ratio", query: errorRatioQuery("$namespace"), operator: "LessThan", threshold: 0.2 },
            ],
          },
        },
      },
    });

    const since = Date.now();
    await createArf("healingintents", ns, intentBody("rollback-demo", "rollback", "Deployment", "demo"));
    await intentWhere(
      ns,
      "rollback-demo",
      "executed",
      (i) => ["Succeeded", "RolledBack"].includes(i.status?.phase),
      60_000,
    );

    const window = await eventually(
      "the window to roll back",
      async () => {
        const w = (await getArf("rollbackplans", ns, "demo")).status?.window;
        return w?.rollback?.state === "Succeeded" ? w : undefined;
      },
      { timeoutMs: 90_000 },
    );
    expect(window.state).toBe("RolledBack");
    expect(window.verdict.reason).toBe("HealthGotWorse");
    expect(window.verdict.message).toContain("error-ratio");
    await rolledOutTo(ns, "v3");
    // The bad release really served errors in between (the window may undo it
    // before a 5 s rate shows the worst, so look back over the whole episode).
    const peak = await prometheus.query(`max_over_time((${errorRatioQuery(ns)})[3m:1s])`);
    expect(peak).toBeGreaterThan(0.5);
    await errorRatioWhere(ns, "recovered after the undo", (r) => r === 0);
    const intent = await intentWhere(ns, "rollback-demo", "rolled back", (i) => i.status?.phase === "RolledBack");
    expect(intent.status.conditions.find((c: any) => c.type === "RolledBack").message).toContain("error-ratio");
    // The action and its undo: two writes, no more.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(operatorWrites(since, { namespace: ns })).toHaveLength(2);
  });
});
