// biome-ignore-all lint/suspicious/noExplicitAny: the benchmark reads untyped JSON (watch events, reports, API lists)
// The operator's benchmark. Every figure stands beside a baseline measured in
// the same run on the same API server (these machines are noisy: compare
// ratios, not seconds). Prints a table, writes bench/report.json, asserts nothing.
//
//   node hack/bench.ts [--quick] [--sizes 100,1000,5000] [--memory 1000,10000] [--windows 20]
//                      [--phases bursts,memory,reaction] [--modes advisory,autonomous]
//   (run through hack/bench.sh, which brings the cluster up and installs the RBAC)
//
// 1. Decision latency and throughput: bursts of N HealingIntents under an
//    advisory policy (OSS) and under an autonomous policy with scale intents
//    on kwok Deployments (licensed); per intent, from the create call
//    returning to its decision seen through a watch. Baseline: a bare client
//    writing N status updates to the same intents, from the call to the watch.
// 2. API cost: every request the operator sends, by verb and resource,
//    counted by a proxy in front of the API server; and after a restart with
//    nothing changed.
// 3. Memory and start-up: heap and RSS with 1,000 and 10,000 intents and
//    1,000 Deployments cached; process start to ready with all of them.
// 4. Auto-rollback reaction (hack/bench-rollback.ts): p50/p95/max.
// 5. Profiles: CPU (top self time) of the 1,000 advisory burst; heap by
//    constructor at the largest memory size.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { freePort } from "../e2e/support/ports.ts";
import { generateKeyPair, issueLicense } from "../operator/license/license.ts";
import { chartNodeOptions, operatorCommand } from "./bench/operator-command.ts";
import { type CpuProfile, type HeapSnapshot, heapByConstructor, topSelfTime } from "./bench/profile.ts";
import { CountingProxy, WRITE_VERBS } from "./bench/proxy.ts";
import { type Distribution, distribution } from "./bench/stats.ts";

const { values: options } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    sizes: { type: "string" },
    memory: { type: "string" },
    windows: { type: "string" },
    // A subset of bursts,memory,reaction, to iterate on one of them.
    phases: { type: "string", default: "bursts,memory,reaction" },
    // Which bursts: advisory, autonomous or both.
    modes: { type: "string", default: "advisory,autonomous" },
    // Node options for the operator instead of the chart's, to try others (space-separated).
    "node-options": { type: "string" },
    out: { type: "string", default: "bench/report.json" },
    // Leave the burst namespaces in place, to look at what the operator decided.
    keep: { type: "boolean", default: false },
  },
});
const quick = options.quick;
const sizes = (options.sizes ?? (quick ? "20" : "100,1000,5000")).split(",").map(Number);
const memorySizes = (options.memory ?? (quick ? "40" : "1000,10000")).split(",").map(Number);
const windows = Number(options.windows ?? (quick ? 1 : 20));
const phases = new Set(options.phases.split(","));
for (const phase of phases) {
  if (!["bursts", "memory", "reaction"].includes(phase)) throw new Error(`--phases: unknown phase ${phase}`);
}
const workloadsForMemory = quick ? 50 : 1000;
const PROFILED_SIZE = 1000;
const concurrency = 16;

const root = join(import.meta.dirname, "..");
const kubeconfigPath = process.env.KUBECONFIG as string;
const admin = new k8s.KubeConfig();
admin.loadFromFile(kubeconfigPath);
admin.setCurrentContext("arf-admin");
const core = admin.makeApiClient(k8s.CoreV1Api);
const apps = admin.makeApiClient(k8s.AppsV1Api);
const custom = admin.makeApiClient(k8s.CustomObjectsApi);
const arf = { group: "arf.dev", version: "v1alpha1" };
const runId = Date.now().toString(36);
const work = mkdtempSync(join(tmpdir(), "arf-bench-"));
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
// The operator as the image runs it: bundled, with the chart's Node options.
const operatorArgs = await operatorCommand(
  join(work, "dist"),
  options["node-options"]?.split(/\s+/).filter(Boolean) ?? chartNodeOptions(),
);

async function inParallel(n: number, task: (i: number) => Promise<unknown>, width = concurrency): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await task(next++);
    }),
  );
  return (performance.now() - start) / 1000;
}

/** Thrown from an until() check to stop waiting at once (other errors count as "not yet"). */
class StopWaiting extends Error {}

async function until<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 600_000,
  pollMs = 100,
) {
  const deadline = Date.now() + timeoutMs;
  let nextReport = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const value = await Promise.resolve(check()).catch((error) => {
      if (error instanceof StopWaiting) throw error;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > nextReport) {
      log(`still waiting for ${typeof what === "string" ? what : what()}`);
      nextReport = Date.now() + 15_000;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
}

// --- the operator's route to the API server: through the counting proxy, as the token user arf-operator.
const cluster = admin.getCurrentCluster() as k8s.Cluster;
const ca = cluster.caData ? Buffer.from(cluster.caData, "base64") : undefined;
const proxy = new CountingProxy(new URL(cluster.server), ca);
await proxy.start();
const operatorUser = admin.users.find((u) => u.name === "arf-operator");
if (!operatorUser?.token) throw new Error("the kubeconfig has no token user arf-operator");
const proxiedKubeconfig = join(work, "operator.kubeconfig");
writeFileSync(
  proxiedKubeconfig,
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    // client-node refuses plain HTTP unless told to skip TLS checks (there is no TLS on loopback to check).
    clusters: [
      { name: "proxy", cluster: { server: `http://127.0.0.1:${proxy.port}`, "insecure-skip-tls-verify": true } },
    ],
    users: [{ name: "arf-operator", user: { token: operatorUser.token } }],
    contexts: [{ name: "arf-operator", context: { cluster: "proxy", user: "arf-operator" } }],
    "current-context": "arf-operator",
  }),
  { mode: 0o600 },
);

// --- a license of this run's own key, for the licensed runs.
const keys = generateKeyPair();
writeFileSync(join(work, "public.pem"), keys.publicKeyPem);
const clusterUID = (await core.readNamespace({ name: "kube-system" })).metadata?.uid as string;
async function setLicense(present: boolean) {
  await core.deleteNamespacedSecret({ name: "arf-license", namespace: "arf-system" }).catch(() => undefined);
  if (!present) return;
  const now = Math.floor(Date.now() / 1000);
  const license = issueLicense(
    {
      id: `bench-${runId}`,
      licensee: "Bench",
      edition: "licensed",
      features: ["execute", "autoRollback"],
      issuedAt: now,
      notBefore: now - 60,
      expiresAt: now + 7200,
      clusterUID,
    },
    keys.privateKeyPem,
  );
  await core.createNamespacedSecret({
    namespace: "arf-system",
    body: { metadata: { name: "arf-license" }, stringData: { license } },
  });
}

// Operators still running are stopped when the benchmark ends, however it ends.
const running = new Set<ChildProcess>();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(1));
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

interface RunningOperator {
  process: ChildProcess;
  port: number;
  startedAt: number;
  metric(name: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

async function startOperator(
  extra: { cpuProfileDir?: string; heapSnapshotDir?: string } = {},
): Promise<RunningOperator> {
  const logFile = join(work, `operator-${Date.now()}.log`);
  const port = await freePort();
  const logFd = openSync(logFile, "a");
  const startedAt = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...(extra.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${extra.cpuProfileDir}`] : []),
      ...(extra.heapSnapshotDir ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${extra.heapSnapshotDir}`] : []),
      ...operatorArgs,
      `--kubeconfig=${proxiedKubeconfig}`,
      "--context=arf-operator",
      "--http-host=127.0.0.1",
      `--http-port=${port}`,
      "--leader-elect=false",
      "--log-level=warn",
      "--license-secret=arf-system/arf-license",
      `--unsafe-license-public-key-override=${join(work, "public.pem")}`,
      "--license-check-interval=1s",
    ],
    { stdio: ["ignore", logFd, logFd] },
  );
  closeSync(logFd);
  running.add(child);
  child.on("exit", (code) => {
    running.delete(child);
    if (code !== 0 && code !== null) log(`operator exited ${code}; its log: ${logFile}`);
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const metric = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // Summed over label sets (workqueue_depth has one per controller).
    const lines = text.split("\n").filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return lines.length ? lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0) : undefined;
  };
  return {
    process: child,
    port,
    startedAt,
    metric,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

const readyAfter = async (operator: RunningOperator) =>
  until("the operator to be ready", async () =>
    (await fetch(`http://127.0.0.1:${operator.port}/readyz`)).ok
      ? (performance.now() - operator.startedAt) / 1000
      : undefined,
  );

/**
 * Deletes a namespace and waits until it is gone: its deletion is load on the
 * API server. A namespace still there after 15 minutes is reported, and the
 * run goes on.
 */
async function deleteNamespace(namespace: string) {
  await until(
    `namespace ${namespace} to be deleted`,
    async () => {
      const found = await core.readNamespace({ name: namespace }).catch((e) => e?.code);
      if (found === 404) return true;
      // Asked again until the API server has taken the deletion (a failed call is retried).
      if (!found?.metadata?.deletionTimestamp) await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      return undefined;
    },
    900_000,
    1000,
  ).catch((error) => log(`${error instanceof Error ? error.message : error}; going on`));
}

/** Waits until the operator's queue and Event backlog have been empty for a while (its work is done). */
async function quiet(operator: RunningOperator, quietMs = 3000) {
  let since = Date.now();
  await until(
    "the operator's work queue and Event backlog to drain",
    async () => {
      if (operator.process.exitCode !== null) throw new StopWaiting(`the operator exited ${operator.process.exitCode}`);
      const depth = await operator.metric("workqueue_depth");
      const events = (await operator.metric("arf_events_pending")) ?? 0;
      if (depth !== 0 || events !== 0) since = Date.now();
      return Date.now() - since >= quietMs ? true : undefined;
    },
    900_000,
  );
}

/** Watches intents in a namespace (again whenever the server ends the watch) and records when each first satisfies a predicate. */
function watchIntents(namespace: string, seen: (intent: any) => boolean) {
  const firstSeen = new Map<string, number>();
  const watch = new k8s.Watch(admin);
  let stopped = false;
  let current: AbortController | undefined;
  const start = async () => {
    if (stopped) return;
    current = await watch.watch(
      `/apis/arf.dev/v1alpha1/namespaces/${namespace}/healingintents`,
      {},
      (_type, object: any) => {
        const name = object?.metadata?.name;
        if (name && !firstSeen.has(name) && seen(object)) firstSeen.set(name, performance.now());
      },
      () => void setTimeout(() => void start(), 100),
    );
  };
  void start();
  return {
    firstSeen,
    async stop() {
      stopped = true;
      current?.abort();
    },
  };
}

const intentBody = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "arf.dev/v1alpha1",
  kind: "HealingIntent",
  metadata: { name },
  spec: {
    justification: "bench",
    confidence: 0.9,
    detectedAt: "2026-11-21T10:00:00Z",
    source: { type: "agent", name: "bench" },
    ...spec,
  },
});

async function namespaceWith(name: string, deployments: number, policyMode: string) {
  await core.createNamespace({ body: { metadata: { name } } });
  await inParallel(deployments, (i) =>
    apps.createNamespacedDeployment({
      namespace: name,
      body: {
        metadata: { name: `web-${i}` },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: `web-${i}` } },
          template: { metadata: { labels: { app: `web-${i}` } }, spec: { containers: [{ name: "a", image: "a:1" }] } },
        },
      },
    }),
  );
  await custom.createNamespacedCustomObject({
    ...arf,
    namespace: name,
    plural: "approvalpolicies",
    body: {
      apiVersion: "arf.dev/v1alpha1",
      kind: "ApprovalPolicy",
      metadata: { name: "bench" },
      spec: { mode: policyMode },
    },
  });
}

const perVerb = (counts: Map<string, number>) => Object.fromEntries([...counts.entries()].sort());
const writesIn = (counts: Map<string, number>) =>
  [...counts.entries()].filter(([k]) => WRITE_VERBS.includes(k.split(" ")[0] as string)).reduce((s, [, v]) => s + v, 0);
const total = (counts: Map<string, number>) => [...counts.values()].reduce((s, v) => s + v, 0);
const ms = (d: Distribution) => ({ p50: round(d.p50 * 1000), p95: round(d.p95 * 1000), p99: round(d.p99 * 1000) });
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

interface Burst {
  mode: "advisory" | "autonomous";
  n: number;
  latencyMs: { p50: number; p95: number; p99: number };
  throughputPerSecond: number;
  baseline: { latencyMs: { p50: number; p95: number; p99: number }; throughputPerSecond: number };
  ratios: { p50Latency: number; throughput: number };
  apiRequestsPerIntent: number;
  apiWritesPerIntent: number;
  apiRequests: Record<string, number>;
  phases: Record<string, number>;
  restartWrites?: number;
  restartRequests?: Record<string, number>;
}

/** One burst of n intents, then the baseline on the same intents with the operator stopped. */
async function burst(mode: "advisory" | "autonomous", n: number): Promise<Burst> {
  const namespace = `bench-${mode.slice(0, 3)}-${n}-${runId}`;
  const targets = mode === "autonomous" ? Math.min(n, 200) : 1;
  await namespaceWith(namespace, targets, mode);
  await setLicense(mode === "autonomous");
  const profileDir = mode === "advisory" && n === PROFILED_SIZE ? join(work, "cpu") : undefined;
  const operator = await startOperator({ cpuProfileDir: profileDir });
  await readyAfter(operator);
  if (mode === "autonomous")
    await until("the licensed edition", async () =>
      (await operator.metric("arf_license_valid")) === 1 ? true : undefined,
    );
  await quiet(operator, 1000);
  proxy.take();
  log(`${mode} burst of ${n}`);

  const decided = watchIntents(namespace, (i) => i.status?.decision !== undefined);
  const createdAt = new Map<string, number>();
  const started = performance.now();
  await inParallel(n, async (i) => {
    const name = `hi-${i}`;
    const spec =
      mode === "advisory"
        ? {
            action: "scale",
            target: { kind: "Deployment", name: "web-0" },
            parameters: { replicas: 2 },
            incidentId: `B-${i}`,
          }
        : {
            action: "scale",
            target: { kind: "Deployment", name: `web-${i % targets}` },
            parameters: { replicas: 1 + Math.floor(i / targets) },
            incidentId: `B-${i}`,
          };
    await custom.createNamespacedCustomObject({
      ...arf,
      namespace,
      plural: "healingintents",
      body: intentBody(name, spec),
    });
    createdAt.set(name, performance.now());
  });
  await until(
    () => `${n} decisions (${decided.firstSeen.size} seen)`,
    () => (decided.firstSeen.size >= n ? true : undefined),
  );
  const finished = Math.max(...decided.firstSeen.values());
  const latencies = [...createdAt.entries()].map(([name, at]) => ((decided.firstSeen.get(name) as number) - at) / 1000);
  await quiet(operator);
  await decided.stop();
  // Stopped first: Events still queued go out at shutdown, and belong to this burst.
  await operator.stop();
  const counts = proxy.take();
  const phases: Record<string, number> = {};
  for (const i of ((await custom.listNamespacedCustomObject({ ...arf, namespace, plural: "healingintents" })) as any)
    .items)
    phases[i.status?.phase ?? "none"] = (phases[i.status?.phase ?? "none"] ?? 0) + 1;

  // A restart with nothing changed should write nothing.
  let restart: { writes: number; requests: Record<string, number> } | undefined;
  // Measured after the largest burst of each mode (autonomous bursts stop at 1,000).
  if (n === Math.max(...sizes.filter((s) => mode === "advisory" || s <= 1000))) {
    const again = await startOperator();
    await readyAfter(again);
    await quiet(again, 5000);
    const restartCounts = proxy.take();
    restart = { writes: writesIn(restartCounts), requests: perVerb(restartCounts) };
    await again.stop();
  }
  proxy.take();

  // Baseline: a bare client, the same number of status writes to the same intents.
  const written = watchIntents(namespace, (i) => i.status?.observedGeneration === 1000);
  const issuedAt = new Map<string, number>();
  const baseStart = performance.now();
  await inParallel(n, async (i) => {
    const name = `hi-${i}`;
    issuedAt.set(name, performance.now());
    await custom.patchNamespacedCustomObjectStatus(
      { ...arf, namespace, plural: "healingintents", name, body: { status: { observedGeneration: 1000 } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
  });
  await until(
    () => `${n} baseline writes (${written.firstSeen.size} seen)`,
    () => (written.firstSeen.size >= n ? true : undefined),
  );
  const baseFinished = Math.max(...written.firstSeen.values());
  const baseLatencies = [...issuedAt.entries()].map(
    ([name, at]) => ((written.firstSeen.get(name) as number) - at) / 1000,
  );
  await written.stop();
  // The next burst is not measured while the API server still deletes this one's intents and Events.
  if (!options.keep) await deleteNamespace(namespace);

  const latency = distribution(latencies);
  const baseLatency = distribution(baseLatencies);
  const throughput = n / ((finished - started) / 1000);
  const baseThroughput = n / ((baseFinished - baseStart) / 1000);
  return {
    mode,
    n,
    latencyMs: ms(latency),
    throughputPerSecond: round(throughput),
    baseline: { latencyMs: ms(baseLatency), throughputPerSecond: round(baseThroughput) },
    ratios: { p50Latency: round(latency.p50 / baseLatency.p50, 2), throughput: round(throughput / baseThroughput, 2) },
    apiRequestsPerIntent: round(total(counts) / n, 2),
    apiWritesPerIntent: round(writesIn(counts) / n, 2),
    apiRequests: perVerb(counts),
    phases,
    ...(restart ? { restartWrites: restart.writes, restartRequests: restart.requests } : {}),
  };
}

interface MemoryRun {
  intents: number;
  workloads: number;
  readySeconds: number;
  allDecidedSeconds: number;
  /** Heap in use as the operator settled, garbage included. */
  heapUsedMiB: number;
  /** The V8 heap's size as committed (used or not), which counts in RSS. */
  heapTotalMiB: number;
  /** Heap in use right after a full collection: what the operator really holds. */
  heapLiveMiB: number;
  rssMiB: number;
  baseline: { heapUsedMiB: number; heapLiveMiB: number; rssMiB: number };
}

/**
 * The live heap: a heap snapshot starts with a full garbage collection, so the
 * heap read once it is written is what is reachable, not what awaits
 * collection. Returns the snapshot's path.
 */
async function liveHeap(operator: Awaited<ReturnType<typeof startOperator>>, dir: string) {
  const before = new Set(readdirSync(dir));
  operator.process.kill("SIGUSR2");
  const file = await until("the heap snapshot", async () => {
    const f = readdirSync(dir).find((name) => name.endsWith(".heapsnapshot") && !before.has(name));
    if (!f) return undefined;
    // Written when its size stops changing.
    const size = statSync(join(dir, f)).size;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return size > 0 && statSync(join(dir, f)).size === size ? join(dir, f) : undefined;
  });
  const heapLiveMiB = round(((await operator.metric("nodejs_heap_size_used_bytes")) ?? 0) / 1048576);
  return { file, heapLiveMiB };
}

/** Intents and Deployments created first, then the operator started: time to ready, and memory once settled. */
async function memory(): Promise<{ runs: MemoryRun[]; heapTop?: ReturnType<typeof heapByConstructor> }> {
  const namespace = `bench-mem-${runId}`;
  await namespaceWith(namespace, workloadsForMemory, "advisory");
  await setLicense(false);
  // Baseline: the same operator on an empty cluster view (nothing of ours yet).
  const heapDir = join(work, "heap");
  mkdirSync(heapDir, { recursive: true });
  const empty = await startOperator({ heapSnapshotDir: heapDir });
  await readyAfter(empty);
  await quiet(empty, 2000);
  const baselineUsed = round(((await empty.metric("nodejs_heap_size_used_bytes")) ?? 0) / 1048576);
  const baselineRss = round(((await empty.metric("process_resident_memory_bytes")) ?? 0) / 1048576);
  const baselineLive = await liveHeap(empty, heapDir);
  rmSync(baselineLive.file, { force: true });
  const baseline = { heapUsedMiB: baselineUsed, heapLiveMiB: baselineLive.heapLiveMiB, rssMiB: baselineRss };
  await empty.stop();
  const runs: MemoryRun[] = [];
  let created = 0;
  let heapTop: ReturnType<typeof heapByConstructor> | undefined;
  for (const size of memorySizes) {
    log(`memory with ${size} intents and ${workloadsForMemory} Deployments`);
    await inParallel(size - created, (i) =>
      custom.createNamespacedCustomObject({
        ...arf,
        namespace,
        plural: "healingintents",
        body: intentBody(`mem-${created + i}`, {
          action: "restart",
          target: { kind: "Deployment", name: `web-${(created + i) % workloadsForMemory}` },
          incidentId: `M-${created + i}`,
        }),
      }),
    );
    created = size;
    const operator = await startOperator({ heapSnapshotDir: heapDir });
    const readySeconds = await readyAfter(operator);
    const decided = await until(
      "every intent decided",
      async () => {
        const list = (await custom.listNamespacedCustomObject({ ...arf, namespace, plural: "healingintents" })) as {
          items: any[];
        };
        return list.items.every((i) => i.status?.phase) ? (performance.now() - operator.startedAt) / 1000 : undefined;
      },
      1_800_000,
      // A LIST of 10,000 intents is itself load on a 2-core machine: look seldom.
      2000,
    );
    await quiet(operator);
    const heap = (await operator.metric("nodejs_heap_size_used_bytes")) ?? 0;
    const heapTotal = (await operator.metric("nodejs_heap_size_total_bytes")) ?? 0;
    const rss = (await operator.metric("process_resident_memory_bytes")) ?? 0;
    const live = await liveHeap(operator, heapDir);
    runs.push({
      intents: size,
      workloads: workloadsForMemory,
      readySeconds: round(readySeconds, 2),
      allDecidedSeconds: round(decided, 1),
      heapUsedMiB: round(heap / 1048576),
      heapTotalMiB: round(heapTotal / 1048576),
      heapLiveMiB: live.heapLiveMiB,
      rssMiB: round(rss / 1048576),
      baseline,
    });
    // What holds the heap, by constructor, at the largest size only (the snapshot is big to parse).
    if (size === Math.max(...memorySizes)) {
      heapTop = heapByConstructor(JSON.parse(readFileSync(live.file, "utf8")) as HeapSnapshot);
    }
    rmSync(live.file, { force: true });
    await operator.stop();
  }
  // The next phase measures reaction times: not while the API server still deletes 10,000 intents.
  await deleteNamespace(namespace);
  return { runs, heapTop };
}

function reaction() {
  log(`auto-rollback reaction over ${windows} windows`);
  const out = join(work, "rollback.json");
  const result = spawnSync(process.execPath, [join(root, "hack", "bench-rollback.ts"), String(windows), out], {
    encoding: "utf8",
    env: process.env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.status !== 0) return { error: `bench-rollback exited ${result.status}` };
  return JSON.parse(readFileSync(out, "utf8"));
}

// --- run everything
const report: Record<string, unknown> = {
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: round(totalmem() / 2 ** 30),
    node: process.version,
  },
  date: new Date().toISOString(),
  quick,
};
const bursts: Burst[] = [];
if (phases.has("bursts")) {
  const modes = options.modes.split(",");
  for (const mode of modes) {
    if (mode !== "advisory" && mode !== "autonomous") throw new Error(`--modes: unknown mode ${mode}`);
  }
  if (modes.includes("advisory")) for (const n of sizes) bursts.push(await burst("advisory", n));
  if (modes.includes("autonomous"))
    for (const n of sizes.filter((s) => s <= 1000)) bursts.push(await burst("autonomous", n));
}
report.bursts = bursts;
const cpuDir = join(work, "cpu");
try {
  const file = readdirSync(cpuDir).find((f) => f.endsWith(".cpuprofile"));
  if (file) report.cpuProfileTop = topSelfTime(JSON.parse(readFileSync(join(cpuDir, file), "utf8")) as CpuProfile);
} catch {
  // no profiled size in this run
}
if (phases.has("memory")) {
  const mem = await memory();
  report.memory = mem.runs;
  report.heapTop = mem.heapTop;
}
await setLicense(false);
if (phases.has("reaction")) report.reaction = reaction();
await proxy.stop();

mkdirSync(join(root, "bench"), { recursive: true });
const outPath = isAbsolute(options.out) ? options.out : join(root, options.out);
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, `${JSON.stringify(report, null, 2)}\n`);

// --- the table
const row = (cells: Array<string | number>) => console.log(`| ${cells.join(" | ")} |`);
console.log(`\nARF operator benchmark, ${report.date} (${(report.machine as any).cpus} CPUs, ${process.version})\n`);
row([
  "burst",
  "N",
  "p50 / p95 / p99 ms",
  "baseline p50 / p95 / p99 ms",
  "p50 ratio",
  "intents/s",
  "baseline writes/s",
  "throughput ratio",
  "requests / intent",
  "writes / intent",
]);
row(Array(10).fill("---"));
for (const b of bursts)
  row([
    b.mode,
    b.n,
    `${b.latencyMs.p50} / ${b.latencyMs.p95} / ${b.latencyMs.p99}`,
    `${b.baseline.latencyMs.p50} / ${b.baseline.latencyMs.p95} / ${b.baseline.latencyMs.p99}`,
    `${b.ratios.p50Latency}x`,
    b.throughputPerSecond,
    b.baseline.throughputPerSecond,
    `${Math.round(b.ratios.throughput * 100)} %`,
    b.apiRequestsPerIntent,
    b.apiWritesPerIntent,
  ]);
for (const b of bursts.filter((b) => b.restartWrites !== undefined))
  console.log(
    `\nrestart with nothing changed (${b.mode}, ${b.n} intents): ${b.restartWrites} writes, requests ${JSON.stringify(b.restartRequests)}`,
  );
console.log("\nAPI requests by verb and resource, per burst:");
for (const b of bursts)
  console.log(`  ${b.mode} ${b.n}: ${JSON.stringify(b.apiRequests)}; phases ${JSON.stringify(b.phases)}`);
console.log("");
row([
  "intents",
  "Deployments",
  "ready s",
  "all decided s",
  "heap MiB (live after GC) / committed",
  "RSS MiB",
  "empty: heap (live) / RSS MiB",
]);
row(Array(7).fill("---"));
for (const m of (report.memory as MemoryRun[] | undefined) ?? [])
  row([
    m.intents,
    m.workloads,
    m.readySeconds,
    m.allDecidedSeconds,
    `${m.heapUsedMiB} (${m.heapLiveMiB}) / ${m.heapTotalMiB}`,
    m.rssMiB,
    `${m.baseline.heapUsedMiB} (${m.baseline.heapLiveMiB}) / ${m.baseline.rssMiB}`,
  ]);
const r = report.reaction as any;
console.log(
  !r
    ? "\nauto-rollback reaction: not measured in this run"
    : r.error
      ? `\nauto-rollback reaction: ${r.error}`
      : `\nauto-rollback reaction over ${r.windows} windows: p50 ${r.reactionSeconds.p50} s, p95 ${r.reactionSeconds.p95} s, max ${r.reactionSeconds.max} s (check interval ${r.checkIntervalSeconds} s)`,
);
if (report.cpuProfileTop) {
  console.log(`\nCPU, ${PROFILED_SIZE}-intent advisory burst, top self time:`);
  for (const f of report.cpuProfileTop as any[]) console.log(`  ${String(f.selfPercent).padStart(5)} %  ${f.function}`);
}
const heapTop = report.heapTop as ReturnType<typeof heapByConstructor> | undefined;
if (heapTop) {
  console.log(`\nheap at ${Math.max(...memorySizes)} intents, by constructor (self size):`);
  for (const h of heapTop)
    console.log(`  ${String(h.selfMiB).padStart(7)} MiB  ${String(h.count).padStart(8)}  ${h.name}`);
}
console.log(`\nwrote ${options.out}`);
process.exit(0);
