// Benchmark: auto-rollback reaction time. Opens N windows (a restart per
// namespace, watched by a real Prometheus scraping an exporter this script
// controls), turns each window's error ratio bad, and reports the time from
// the measurement that reached the failure limit to the undo's write on the
// API server (as the operator records it), beside the check interval. Prints
// figures and writes bench/rollback-report.json; asserts nothing.
//   node hack/bench-rollback.ts [WINDOWS]   (run through hack/bench-rollback.sh)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { TestExporter, TestPrometheus } from "../e2e/support/prometheus.ts";
import { generateKeyPair, issueLicense } from "../operator/license/license.ts";
import { operatorCommand } from "./bench/operator-command.ts";

const windows = Number(process.argv[2] ?? 20);
// Where the report goes (hack/bench.ts passes its own, so a smoke run leaves the committed one alone).
const reportPath = process.argv[3];
const checkInterval = "1s";
const root = join(import.meta.dirname, "..");
const kubeconfig = process.env.KUBECONFIG as string;
const admin = new k8s.KubeConfig();
admin.loadFromFile(kubeconfig);
admin.setCurrentContext("arf-admin");
const core = admin.makeApiClient(k8s.CoreV1Api);
const apps = admin.makeApiClient(k8s.AppsV1Api);
const custom = admin.makeApiClient(k8s.CustomObjectsApi);
const arf = { group: "arf.dev", version: "v1alpha1" };

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A license of this run's own key.
const keys = generateKeyPair();
const keyDir = mkdtempSync(join(tmpdir(), "arf-bench-"));
writeFileSync(join(keyDir, "public.pem"), keys.publicKeyPem);
const clusterUID = (await core.readNamespace({ name: "kube-system" })).metadata?.uid as string;
const now = Math.floor(Date.now() / 1000);
await core.deleteNamespacedSecret({ name: "arf-license", namespace: "arf-system" }).catch(() => undefined);
await core.createNamespacedSecret({
  namespace: "arf-system",
  body: {
    metadata: { name: "arf-license" },
    stringData: {
      license: issueLicense(
        {
          id: `bench-${now}`,
          licensee: "Bench",
          edition: "licensed",
          features: ["execute", "autoRollback"],
          issuedAt: now,
          notBefore: now - 60,
          expiresAt: now + 3600,
          clusterUID,
        },
        keys.privateKeyPem,
      ),
    },
  },
});

const exporter = new TestExporter();
await exporter.start();
const prometheus = new TestPrometheus();
await prometheus.start(exporter.port);
const operator: ChildProcess = spawn(
  process.execPath,
  [
    ...(await operatorCommand(join(keyDir, "dist"))),
    `--kubeconfig=${kubeconfig}`,
    "--context=arf-operator",
    "--http-host=127.0.0.1",
    "--http-port=0",
    "--leader-elect=false",
    "--license-secret=arf-system/arf-license",
    `--unsafe-license-public-key-override=${join(keyDir, "public.pem")}`,
    "--license-check-interval=1s",
    `--prometheus-url=${prometheus.url}`,
    "--log-level=warn",
  ],
  { stdio: ["ignore", "ignore", "inherit"] },
);

const namespaces: string[] = [];
try {
  const run = `rb-${Date.now().toString(36)}`;
  const reactions = await Promise.all(
    Array.from({ length: windows }, async (_, i) => {
      const ns = `${run}-${i}`;
      namespaces.push(ns);
      await core.createNamespace({ body: { metadata: { name: ns } } });
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: "web" },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: "web" } },
            template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "a", image: "a:1" }] } },
          },
        },
      });
      const kinds: Record<string, string> = {
        approvalpolicies: "ApprovalPolicy",
        rollbackplans: "RollbackPlan",
        healingintents: "HealingIntent",
      };
      const create = (plural: string, body: object) =>
        custom.createNamespacedCustomObject({
          ...arf,
          namespace: ns,
          plural,
          body: { apiVersion: "arf.dev/v1alpha1", kind: kinds[plural], ...body },
        });
      await create("approvalpolicies", { metadata: { name: "act" }, spec: { mode: "autonomous" } });
      await create("rollbackplans", {
        metadata: { name: "web" },
        spec: {
          target: { kind: "Deployment", name: "web" },
          autoRollback: { duration: "5m", checkInterval, failureLimit: 1 },
          healthChecks: {
            prometheus: {
              queries: [
                {
                  name: "errors",
                  query: 'arf_e2e_error_ratio{namespace="$namespace"}',
                  operator: "LessThan",
                  threshold: 0.5,
                },
              ],
            },
          },
        },
      });
      // A restart is refused while too few replicas are available (the policy's minAvailable):
      // the window is only measured once the workload is Available.
      await until("the Deployment to be available", async () =>
        ((await apps.readNamespacedDeployment({ namespace: ns, name: "web" })).status?.availableReplicas ?? 0) >= 1
          ? true
          : undefined,
      );
      exporter.set(ns, 0.01);
      await until("Prometheus to see it", async () =>
        (await prometheus.query(`arf_e2e_error_ratio{namespace="${ns}"}`)) === 0.01 ? true : undefined,
      );
      await create("healingintents", {
        metadata: { name: "restart" },
        spec: {
          action: "restart",
          target: { kind: "Deployment", name: "web" },
          justification: "bench",
          confidence: 0.9,
          incidentId: `BENCH-${i}`,
          detectedAt: "2026-11-22T00:00:00Z",
          source: { type: "agent", name: "bench" },
        },
      });
      const plan = () =>
        custom.getNamespacedCustomObject({ ...arf, namespace: ns, plural: "rollbackplans", name: "web" });
      await until("the window to open", async () =>
        (await plan()).status?.window?.state === "Watching" ? true : undefined,
      );
      exporter.set(ns, 0.9);
      const window = await until("the undo", async () => {
        const w = (await plan()).status?.window;
        return w?.rollback?.state === "Succeeded" ? w : undefined;
      });
      return Number(window.rollback.reactionSeconds);
    }),
  );
  const sorted = reactions.filter(Number.isFinite).sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  const report = {
    windows: sorted.length,
    checkIntervalSeconds: 1,
    reactionSeconds: { p50: pct(50), p95: pct(95), max: sorted.at(-1) },
    note: "from the measurement that reached the failure limit to the undo's write; peers: 60-90 s",
  };
  const out = reportPath ?? join(root, "bench", "rollback-report.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`auto-rollback reaction over ${report.windows} windows (check interval ${checkInterval}):`);
  console.log(
    `  p50 ${report.reactionSeconds.p50.toFixed(3)} s   p95 ${report.reactionSeconds.p95.toFixed(3)} s   max ${(report.reactionSeconds.max ?? Number.NaN).toFixed(3)} s`,
  );
} finally {
  operator.kill("SIGTERM");
  await prometheus.stop();
  await exporter.stop();
  for (const ns of namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined);
  await core.deleteNamespacedSecret({ name: "arf-license", namespace: "arf-system" }).catch(() => undefined);
}
