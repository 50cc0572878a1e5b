import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dashboardQueries } from "../hack/dashboard-queries.ts";
import {
  clientsFor,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubectlArf,
  operatorWrites,
} from "./support/kube.ts";
import { quickLeaseArgs, removeLicensedEdition, TestLicenses } from "./support/license.ts";
import {
  createArf,
  getArf,
  installChartRbac,
  intentWhere,
  OPERATOR_NAMESPACE,
  type RunningOperator,
  startOperator,
} from "./support/operator.ts";
import { TestExporter, TestPrometheus } from "./support/prometheus.ts";
import { makeTestCertificates } from "./support/tls.ts";
import { createWorkloadsWithTwoRevisions, intentBody, policyBody } from "./support/workloads.ts";

const licenses = new TestLicenses();
const exporter = new TestExporter();
const prometheus = new TestPrometheus();
// Prometheus credentials from a Secret: a CA of the test's own signs the TLS Prometheus's certificate.
const tlsPrometheus = new TestPrometheus();
const namespaces: string[] = [];
let operator: RunningOperator;

const args = () => [
  ...quickLeaseArgs("arf-window-e2e"),
  ...licenses.args(),
  `--prometheus-url=${prometheus.url}`,
  `--prometheus-auth-secret=${OPERATOR_NAMESPACE}/prom-creds`,
  "--prometheus-timeout=1s",
];

/** A namespace with workloads, an autonomous policy, and a RollbackPlan for deployment/web. */
async function setUp(prefix: string, autoRollback: Record<string, unknown>, query: Record<string, unknown> = {}) {
  const ns = await createTestNamespace(prefix);
  namespaces.push(ns);
  await createWorkloadsWithTwoRevisions(ns);
  await createArf("approvalpolicies", ns, policyBody("act-now", { mode: "autonomous" }));
  await createArf("rollbackplans", ns, {
    apiVersion: "arf.dev/v1alpha1",
    kind: "RollbackPlan",
    metadata: { name: "web" },
    spec: {
      target: { kind: "Deployment", name: "web" },
      autoRollback: { duration: "2m", checkInterval: "2s", failureLimit: 2, ...autoRollback },
      healthChecks: {
        prometheus: {
          queries: [
            {
              name: "errors",
              query: 'arf_e2e_error_ratio{namespace="$namespace"}',
              operator: "LessThan",
              threshold: 0.5,
              ...query,
            },
          ],
        },
      },
    },
  });
  return ns;
}

const window = async (ns: string) => (await getArf("rollbackplans", ns, "web")).status?.window;
const windowWhere = (ns: string, description: string, check: (w: any) => boolean, timeoutMs = 45_000) =>
  eventually(
    `the window ${description}`,
    async () => {
      const w = await window(ns);
      return w && check(w) ? w : undefined;
    },
    { timeoutMs },
  );

/** The error ratio as Prometheus sees it (the scrape lags the exporter). */
const seen = (ns: string, wanted: number | undefined) =>
  eventually(`Prometheus to see ${wanted} for ${ns}`, async () =>
    (await prometheus.query(`arf_e2e_error_ratio{namespace="${ns}"}`)) === wanted ? true : undefined,
  );

const workloadWrites = (since: number, ns: string) => operatorWrites(since, { namespace: ns });

async function restartAndWatch(ns: string) {
  await createArf("healingintents", ns, intentBody("restart-web", "restart", "Deployment", "web"));
  await intentWhere(ns, "restart-web", "executed", (i) => i.status?.phase === "Succeeded", 45_000);
  return windowWhere(ns, "to open", (w) => w.intentName === "restart-web");
}

/** Prometheus also scrapes the running operator, for the dashboard check at the end. */
function scrapeOperator(running: RunningOperator): void {
  writeFileSync(prometheus.targetsFile as string, JSON.stringify([{ targets: [`127.0.0.1:${running.port}`] }]));
}

beforeAll(async () => {
  await exporter.start();
  prometheus.targetsFile = join(prometheus.dir, "operator-targets.json");
  writeFileSync(prometheus.targetsFile, "[]");
  await prometheus.start(exporter.port);
  const { ca, certFile, keyFile } = makeTestCertificates();
  tlsPrometheus.tls = { cert: certFile, key: keyFile };
  tlsPrometheus.ca = ca;
  await tlsPrometheus.start(exporter.port);
  await installChartRbac("licensed", ["prometheusAuthSecret=prom-creds"]);
  const { core } = clientsFor("admin");
  await core.deleteNamespacedSecret({ name: "prom-creds", namespace: OPERATOR_NAMESPACE }).catch(() => undefined);
  await core.createNamespacedSecret({
    namespace: OPERATOR_NAMESPACE,
    body: { metadata: { name: "prom-creds" }, stringData: { "ca.crt": ca } },
  });
  await licenses.bindToCluster();
  await licenses.install();
  operator = await startOperator("window-1", args());
  scrapeOperator(operator);
  await eventually("the licensed edition", async () =>
    (await operator.metric("arf_edition_info", { edition: "licensed" })) === 1 ? true : undefined,
  );
});

afterAll(async () => {
  await operator?.stop();
  await prometheus.stop();
  await tlsPrometheus.stop();
  await exporter.stop();
  await clientsFor("admin")
    .core.deleteNamespacedSecret({ name: "prom-creds", namespace: OPERATOR_NAMESPACE })
    .catch(() => undefined);
  await removeLicensedEdition();
  for (const ns of namespaces) await deleteTestNamespace(ns);
});

describe("auto-rollback windows", () => {
  it("rolls the workload back to its snapshot, once, when the error ratio goes bad", async () => {
    const ns = await setUp("e2e-win-bad", {});
    exporter.set(ns, 0.05);
    await seen(ns, 0.05);
    const { apps } = clientsFor("admin");
    const before = await apps.readNamespacedDeployment({ namespace: ns, name: "web" });
    const since = Date.now();
    const opened = await restartAndWatch(ns);
    expect(opened.state).toBe("Watching");
    expect(opened.checks[0]).toMatchObject({ name: "errors", baseline: 0.05, threshold: 0.5 });
    const restarted = await apps.readNamespacedDeployment({ namespace: ns, name: "web" });
    expect(restarted.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toBeDefined();

    exporter.set(ns, 0.9);
    const ended = await windowWhere(ns, "to roll back", (w) => w.rollback?.state === "Succeeded");
    expect(ended.state).toBe("RolledBack");
    expect(ended.verdict.reason).toBe("HealthGotWorse");
    expect(ended.verdict.message).toContain("errors = 0.9, wanted < 0.5");
    expect(ended.rollback.reactionSeconds).toBeGreaterThanOrEqual(0);
    const errors = ended.checks.find((c: any) => c.name === "errors");
    expect(errors.counts.failed).toBe(2);
    expect(errors.measurements.at(-1)).toMatchObject({ result: "Failed", value: 0.9 });

    // The workload is back to its snapshot: the template from before the restart.
    const after = await apps.readNamespacedDeployment({ namespace: ns, name: "web" });
    expect(after.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toBeUndefined();
    expect(after.spec?.template?.spec?.containers?.[0]?.image).toBe(
      before.spec?.template?.spec?.containers?.[0]?.image,
    );
    const intent = await intentWhere(ns, "restart-web", "rolled back", (i) => i.status?.phase === "RolledBack");
    expect(intent.status.conditions.find((c: any) => c.type === "RolledBack").message).toContain("errors = 0.9");
    // "Why did it roll back?" in one command.
    const { stdout: explained } = await kubectlArf(ns, "admin", ["explain", "restart-web"]);
    expect(explained).toContain("phase:          RolledBack");
    expect(explained).toMatch(/rolled back: +rolled back automatically: .*errors = 0\.9, wanted < 0\.5/);
    // For Flux's kstatus and Argo CD: a terminal failure.
    expect(intent.status.conditions.find((c: any) => c.type === "Stalled")).toMatchObject({ status: "True" });
    expect(intent.status.conditions.find((c: any) => c.type === "Ready")).toMatchObject({ status: "False" });
    // Exactly two writes to the workload: the restart and its undo.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(workloadWrites(since, ns)).toHaveLength(2);
    // Events and metrics say so.
    const events = await clientsFor("admin").core.listNamespacedEvent({ namespace: ns });
    expect(events.items.map((e) => e.reason)).toEqual(
      expect.arrayContaining(["WindowOpened", "WindowRolledBack", "AutoRolledBack"]),
    );
    expect(await operator.metric("arf_auto_rollbacks_total", { reason: "HealthGotWorse" })).toBeGreaterThanOrEqual(1);
    expect(
      await operator.metric("arf_rollback_window_checks_total", { check: "errors", result: "Failed" }),
    ).toBeGreaterThanOrEqual(2);
    expect(await operator.metric("arf_auto_rollback_reaction_seconds_count")).toBeGreaterThanOrEqual(1);
    // The closed window's per-target series are gone.
    expect(await operator.metric("arf_rollback_window_open", { namespace: ns })).toBeUndefined();
  });

  it("closes Passed when health holds to the end", async () => {
    const ns = await setUp("e2e-win-ok", { duration: "8s", checkInterval: "2s" });
    exporter.set(ns, 0.01);
    await seen(ns, 0.01);
    await restartAndWatch(ns);
    expect(await operator.metric("arf_rollback_window_open", { namespace: ns, target: "deployment/web" })).toBe(1);
    const passed = await windowWhere(ns, "to pass", (w) => w.state !== "Watching");
    expect(passed.state).toBe("Passed");
    expect(passed.rollback).toBeUndefined();
  });

  it("queries a Prometheus behind TLS with the CA from the credentials Secret", async () => {
    const ns = await setUp("e2e-win-tls", { duration: "6s", checkInterval: "2s" });
    const { custom } = clientsFor("admin");
    await custom.patchNamespacedCustomObject({
      group: "arf.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "rollbackplans",
      name: "web",
      body: [{ op: "add", path: "/spec/healthChecks/prometheus/address", value: tlsPrometheus.url }],
    });
    exporter.set(ns, 0.02);
    await eventually("the TLS Prometheus to see the value", async () =>
      (await tlsPrometheus.query(`arf_e2e_error_ratio{namespace="${ns}"}`)) === 0.02 ? true : undefined,
    );
    const opened = await restartAndWatch(ns);
    expect(opened.checks[0].baseline).toBe(0.02);
    const passed = await windowWhere(ns, "to pass", (w) => w.state !== "Watching");
    expect(passed.state).toBe("Passed");
    expect(passed.checks[0].counts.error).toBe(0);
    expect(passed.checks[0].counts.successful).toBeGreaterThan(0);
  });

  it("counts an empty result as Inconclusive, never a pass", async () => {
    const ns = await setUp(
      "e2e-win-empty",
      { inconclusiveLimit: 2 },
      { query: 'arf_e2e_nothing{namespace="$namespace"}' },
    );
    await restartAndWatch(ns);
    const ended = await windowWhere(ns, "to end", (w) => w.state !== "Watching");
    expect(ended.state).toBe("Inconclusive");
    expect(ended.verdict.reason).toBe("NoData");
    expect(ended.checks[0].counts.successful).toBe(0);
  });

  it("catches a degradation against the baseline that the absolute threshold misses", async () => {
    const ns = await setUp("e2e-win-base", {}, { maxIncreaseFactor: 1.5 });
    exporter.set(ns, 0.1);
    await seen(ns, 0.1);
    await restartAndWatch(ns);
    exporter.set(ns, 0.3); // still under 0.5, but 3x what it was before
    const ended = await windowWhere(ns, "to roll back", (w) => w.rollback?.state === "Succeeded");
    expect(ended.verdict.message).toContain("more than 1.5x its baseline 0.1");
  });

  it("never rolls back because Prometheus is down, and says so", async () => {
    const ns = await setUp("e2e-win-down", { errorLimit: 2 });
    exporter.set(ns, 0.02);
    await seen(ns, 0.02);
    const since = Date.now();
    await restartAndWatch(ns);
    await prometheus.stop();
    try {
      const ended = await windowWhere(ns, "to end", (w) => w.state !== "Watching");
      expect(ended.state).toBe("Inconclusive");
      expect(ended.verdict.reason).toBe("ChecksUnavailable");
      expect(ended.verdict.message).toContain("no rollback on an outage alone");
      expect(ended.rollback).toBeUndefined();
      expect(workloadWrites(since, ns)).toHaveLength(1);
    } finally {
      await prometheus.start(exporter.port);
    }
  });

  it("finishes a window on its original schedule after the operator is killed, and rolls back once", async () => {
    const ns = await setUp("e2e-win-kill", { duration: "90s", checkInterval: "3s" });
    exporter.set(ns, 0.05);
    await seen(ns, 0.05);
    const since = Date.now();
    const opened = await restartAndWatch(ns);
    await operator.stop("SIGKILL");
    exporter.set(ns, 0.95);
    await seen(ns, 0.95);
    operator = await startOperator("window-2", args());
    scrapeOperator(operator);
    const ended = await windowWhere(ns, "to roll back", (w) => w.rollback?.state === "Succeeded", 60_000);
    // The same window, on its original clock.
    expect(ended.startedAt).toBe(opened.startedAt);
    expect(ended.endsAt).toBe(opened.endsAt);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(workloadWrites(since, ns)).toHaveLength(2);
  });

  it("undoes an earlier intent on request: its snapshot restored, once, under policy", async () => {
    const ns = await setUp("e2e-undo", { duration: "5m" });
    exporter.set(ns, 0.01);
    await seen(ns, 0.01);
    const { apps } = clientsFor("admin");
    const before = await apps.readNamespacedDeployment({ namespace: ns, name: "web" });
    await restartAndWatch(ns);
    const since = Date.now();
    await createArf(
      "healingintents",
      ns,
      intentBody("undo-restart", "undo", "Deployment", "web", { parameters: { intent: "restart-web" } }),
    );
    const undone = await intentWhere(ns, "undo-restart", "executed", (i) =>
      ["Succeeded", "Failed"].includes(i.status?.phase),
    );
    expect(undone.status.phase, JSON.stringify(undone.status.execution)).toBe("Succeeded");
    expect(undone.status.recommendation.summary).toContain("undo restart-web");
    expect(undone.status.execution.desired.type).toBe("restoreSnapshot");
    const after = await apps.readNamespacedDeployment({ namespace: ns, name: "web" });
    expect(after.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toBeUndefined();
    expect(after.spec?.template?.spec?.containers?.[0]?.image).toBe(
      before.spec?.template?.spec?.containers?.[0]?.image,
    );
    // An undo of something that never acted is refused, saying why.
    await createArf(
      "healingintents",
      ns,
      intentBody("undo-nothing", "undo", "Deployment", "web", { parameters: { intent: "no-such-intent" } }),
    );
    const nothing = await intentWhere(ns, "undo-nothing", "refused", (i) => i.status?.decision?.verdict === "Refuse");
    expect(nothing.status.decision.reasons[0]).toContain("there is no HealingIntent no-such-intent");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(workloadWrites(since, ns)).toHaveLength(1);
  });
});

describe("the Grafana dashboard", () => {
  it("finds data for every one of its queries after this file's windows, rollbacks and restarts", async () => {
    // Rates over 15 minutes: the whole run, not only its last minute.
    const empty: string[] = [];
    for (const { panel, expr } of dashboardQueries({ interval: "15m" })) {
      const answer = (await (
        await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`)
      ).json()) as {
        status: string;
        data?: { result: unknown[] };
        error?: string;
      };
      if (answer.status !== "success" || (answer.data?.result ?? []).length === 0) {
        empty.push(`${panel}: ${expr} (${answer.error ?? "no data"})`);
      }
    }
    expect(empty).toEqual([]);
  });
});
