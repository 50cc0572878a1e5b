// Benchmark: how fast the operator settles intents, against a baseline of raw
// API writes measured in the same run on the same cluster (these machines are
// noisy; only the ratio means much). Prints figures; asserts nothing.
//   node hack/bench.ts [COUNT]    (run through hack/bench.sh, which brings the cluster up)
import { spawn } from "node:child_process";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";

const count = Number(process.argv[2] ?? 200);
const kubeconfig = process.env.KUBECONFIG as string;
const admin = new k8s.KubeConfig();
admin.loadFromFile(kubeconfig);
admin.setCurrentContext("arf-admin");
const core = admin.makeApiClient(k8s.CoreV1Api);
const apps = admin.makeApiClient(k8s.AppsV1Api);
const custom = admin.makeApiClient(k8s.CustomObjectsApi);
const ns = `bench-${Date.now().toString(36)}`;
const concurrency = 8;

async function inParallel(n: number, task: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await task(next++);
    }),
  );
  return (performance.now() - start) / 1000;
}

await core.createNamespace({ body: { metadata: { name: ns } } });
await apps.createNamespacedDeployment({
  namespace: ns,
  body: {
    metadata: { name: "web" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "a", image: "a:1" }] } },
    },
  },
});

// Baseline: raw writes of small objects.
const baseline = await inParallel(count, (i) =>
  core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `cm-${i}` }, data: { i: String(i) } } }),
);

const port = 18_900;
const operator = spawn(
  process.execPath,
  [
    join(import.meta.dirname, "..", "operator", "main.ts"),
    `--kubeconfig=${kubeconfig}`,
    "--context=arf-operator",
    "--http-host=127.0.0.1",
    `--http-port=${port}`,
    "--leader-elect=false",
    "--log-level=warn",
    "--workers=4",
  ],
  { stdio: "ignore" },
);
const metric = async (name: string) => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : undefined;
};
for (;;) {
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) break;
  await new Promise((r) => setTimeout(r, 200));
}
const rssBefore = await metric("process_resident_memory_bytes");
const heapBefore = await metric("nodejs_heap_size_used_bytes");

const start = performance.now();
const created = await inParallel(count, (i) =>
  custom.createNamespacedCustomObject({
    group: "arf.dev",
    version: "v1alpha1",
    namespace: ns,
    plural: "healingintents",
    body: {
      apiVersion: "arf.dev/v1alpha1",
      kind: "HealingIntent",
      metadata: { name: `hi-${i}` },
      spec: {
        action: i % 2 ? "restart" : "scale",
        target: { kind: "Deployment", name: "web" },
        ...(i % 2 ? {} : { parameters: { replicas: 3 + (i % 5) } }),
        justification: "bench",
        confidence: 0.9,
        incidentId: `BENCH-${i}`,
        detectedAt: "2026-11-21T10:00:00Z",
        source: { type: "agent", name: "bench" },
      },
    },
  }),
);
for (;;) {
  const list = (await custom.listNamespacedCustomObject({
    group: "arf.dev",
    version: "v1alpha1",
    namespace: ns,
    plural: "healingintents",
  })) as { items: Array<{ status?: { phase?: string } }> };
  if (list.items.filter((i) => i.status?.phase === "Advisory").length === count) break;
  await new Promise((r) => setTimeout(r, 100));
}
const settled = (performance.now() - start) / 1000;
const rssAfter = await metric("process_resident_memory_bytes");
const heapAfter = await metric("nodejs_heap_size_used_bytes");
operator.kill("SIGTERM");
await core.deleteNamespace({ name: ns });

const mb = (bytes: number | undefined) => (bytes === undefined ? "?" : `${(bytes / 1048576).toFixed(1)} MiB`);
console.log(`objects:                         ${count}`);
console.log(`baseline, raw ConfigMap writes:  ${baseline.toFixed(2)} s (${(count / baseline).toFixed(0)} writes/s)`);
console.log(`HealingIntent creates:           ${created.toFixed(2)} s (${(count / created).toFixed(0)} writes/s)`);
console.log(
  `created to all settled:          ${settled.toFixed(2)} s (${(count / settled).toFixed(0)} intents/s, recommendation + dry run + status + Event each)`,
);
console.log(`settle time / baseline:          ${(settled / baseline).toFixed(2)}x`);
console.log(`operator RSS before / after:     ${mb(rssBefore)} / ${mb(rssAfter)}`);
console.log(`operator heap used before/after: ${mb(heapBefore)} / ${mb(heapAfter)}`);
