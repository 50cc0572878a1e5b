// A leader that may have lost its lease never acts. Two licensed replicas
// share a Lease; replica A reaches the API server through a TCP proxy that the
// test stalls (bytes stop flowing, nothing is closed), so A's renew hangs
// rather than fails. A must stop leading at its renew deadline, B takes over
// once the lease expires and executes the intents created meanwhile, and when
// the stall ends whatever A had sent lands late. The API server's audit log
// (A's requests come from 127.0.0.2, B's from 127.0.0.1) must show that the
// two leadership periods never overlap, each replica wrote workloads only
// inside its own, and A wrote nothing once the stall began.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  type AuditEvent,
  clientsFor,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  readAuditEvents,
} from "./support/kube.ts";
import { removeLicensedEdition, TestLicenses } from "./support/license.ts";
import {
  createArf,
  installChartRbac,
  intentWhere,
  OPERATOR_NAMESPACE,
  type RunningOperator,
  startOperator,
} from "./support/operator.ts";
import { type StallProxy, startStallProxy } from "./support/stall-proxy.ts";
import { createWorkloadsWithTwoRevisions, intentBody, policyBody } from "./support/workloads.ts";

const LEASE = `arf-stall-e2e-${randomBytes(3).toString("hex")}`;
const RENEW_DEADLINE_MS = 4000;
const LEASE_ARGS = [`--leader-election-id=${LEASE}`, "--lease-duration=6s", "--renew-deadline=4s", "--retry-period=1s"];
const A_SOURCE_IP = "127.0.0.2";
const dir = mkdtempSync(join(tmpdir(), "arf-stall-"));
const licenses = new TestLicenses();
const LICENSE_ARGS = licenses.args("2s");

let ns: string;
let proxy: StallProxy;
let a: RunningOperator;
let b: RunningOperator;
const testStart = Date.now();

/** A copy of the test kubeconfig whose API server address is the stall proxy. */
function proxiedKubeconfig(port: number): string {
  const config = parse(readFileSync(inject("kubeconfig"), "utf8"));
  for (const cluster of config.clusters) cluster.cluster.server = `https://127.0.0.1:${port}`;
  const path = join(dir, "replica-a.kubeconfig");
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}

function upstreamOf(kubeconfig: string): { host: string; port: number } {
  const config = parse(readFileSync(kubeconfig, "utf8"));
  const url = new URL(config.clusters[0].cluster.server);
  return { host: url.hostname, port: Number(url.port || 443) };
}

const leaseHolder = async () =>
  (
    await clientsFor("admin")
      .kc.makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: LEASE, namespace: OPERATOR_NAMESPACE })
  ).spec?.holderIdentity;

const succeeded = (name: string) =>
  intentWhere(ns, name, "executed", (i) => ["Succeeded", "Failed"].includes(i.status?.phase), 60_000).then((i) => {
    expect(i.status.phase, JSON.stringify(i.status)).toBe("Succeeded");
    return i;
  });

type Audit = AuditEvent & { sourceIPs?: string[] };
const at = (e: Audit) => new Date(e.requestReceivedTimestamp).getTime();
const fromA = (e: Audit) => e.sourceIPs?.[0] === A_SOURCE_IP;
const ok = (e: Audit) => (e.responseStatus?.code ?? 0) < 300;
const WORKLOADS = ["deployments", "statefulsets", "daemonsets"];
const describeEvent = (e: Audit) =>
  `${e.requestReceivedTimestamp} ${fromA(e) ? "A" : "B"} ${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ""} ${e.objectRef?.name} -> ${e.responseStatus?.code}`;

/** pino's `time` of the first log line of a replica with this message. */
function loggedAt(operator: RunningOperator, msg: string): number | undefined {
  for (const line of readFileSync(operator.logFile, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { msg?: string; time?: number | string };
    if (entry.msg === msg && entry.time !== undefined) return new Date(entry.time).getTime();
  }
  return undefined;
}

beforeAll(async () => {
  await installChartRbac("licensed");
  await licenses.bindToCluster();
  await licenses.install();
  ns = await createTestNamespace("e2e-stall");
  await createWorkloadsWithTwoRevisions(ns);
  await createArf("approvalpolicies", ns, policyBody("act-now", { mode: "autonomous" }));
  proxy = await startStallProxy(upstreamOf(inject("kubeconfig")), A_SOURCE_IP);
  // startOperator passes the shared kubeconfig first; a later flag wins.
  a = await startOperator("stall-a", [...LEASE_ARGS, ...LICENSE_ARGS, `--kubeconfig=${proxiedKubeconfig(proxy.port)}`]);
  await eventually("replica A to lead", async () => ((await leaseHolder()) === "stall-a" ? true : undefined));
  b = await startOperator("stall-b", [...LEASE_ARGS, ...LICENSE_ARGS]);
  for (const replica of [a, b])
    await eventually(`${replica.identity} to run the licensed edition`, async () =>
      (await replica.metric("arf_license_valid")) === 1 ? true : undefined,
    );
});

afterAll(async () => {
  proxy?.unstall();
  await Promise.all([a, b].map((o) => o?.stop("SIGKILL")));
  await proxy?.close();
  const admin = clientsFor("admin");
  await removeLicensedEdition();
  await admin.kc
    .makeApiClient(CoordinationV1Api)
    .deleteNamespacedLease({ name: LEASE, namespace: OPERATOR_NAMESPACE })
    .catch(() => undefined);
  if (ns) await deleteTestNamespace(ns);
});

describe("a leader whose connection stalls", () => {
  it("stops acting at its renew deadline; the successor's writes never overlap its own", async () => {
    // A leads and acts (through the proxy: this also shows the audit log tells A apart).
    await createArf(
      "healingintents",
      ns,
      intentBody("scale-before", "scale", "Deployment", "web", { parameters: { replicas: 3 } }),
    );
    await succeeded("scale-before");

    proxy.stall();
    // Bytes the proxy forwarded just before stall() may still be on their way for a moment.
    const stallAt = Date.now() + 50;
    // Created while A still believes it may lead: A cannot see them (its watches are stalled too).
    await createArf(
      "healingintents",
      ns,
      intentBody("scale-during", "scale", "StatefulSet", "cache", { parameters: { replicas: 3 } }),
    );
    await createArf("healingintents", ns, intentBody("restart-during", "restart", "DaemonSet", "agent"));

    await eventually("replica A to stop leading", async () => (loggedAt(a, "stopped leading") ? true : undefined), {
      timeoutMs: 30_000,
    });
    const aStoppedAt = loggedAt(a, "stopped leading") as number;
    // At most the renew deadline after the last renew that got through, which was before the stall.
    expect(aStoppedAt - stallAt).toBeLessThan(RENEW_DEADLINE_MS + 1000);

    await eventually(
      "replica B to take the lease",
      async () => ((await leaseHolder()) === "stall-b" ? true : undefined),
      {
        timeoutMs: 30_000,
      },
    );
    await createArf("healingintents", ns, intentBody("restart-after", "restart", "Deployment", "web"));
    for (const name of ["scale-during", "restart-during", "restart-after"]) await succeeded(name);

    // The stall ends: anything A sent meanwhile reaches the API server now.
    proxy.unstall();
    await new Promise((resolve) => setTimeout(resolve, 5000));

    const events = (readAuditEvents() as Audit[]).filter(
      (e) => at(e) >= testStart && e.user.username === "arf-operator",
    );
    const timeline = events
      .filter(
        (e) =>
          e.objectRef?.name === LEASE ||
          (e.objectRef?.namespace === ns && WORKLOADS.includes(e.objectRef?.resource ?? "")),
      )
      .map(describeEvent)
      .join("\n");
    const leaseWrites = events.filter(
      (e) =>
        e.objectRef?.resource === "leases" &&
        e.objectRef?.name === LEASE &&
        ["create", "update"].includes(e.verb) &&
        ok(e),
    );
    const workloadWrites = events.filter(
      (e) =>
        e.objectRef?.namespace === ns &&
        WORKLOADS.includes(e.objectRef?.resource ?? "") &&
        ["create", "update", "patch", "delete"].includes(e.verb) &&
        !e.requestURI.includes("dryRun="),
    );
    const aLease = leaseWrites.filter(fromA).map(at);
    const bLease = leaseWrites.filter((e) => !fromA(e)).map(at);
    expect(aLease.length, timeline).toBeGreaterThan(0);
    expect(bLease.length, timeline).toBeGreaterThan(0);
    // A leads from its first successful lease write until at most renewDeadline after its last one
    // (it measures from when it sent that renew, which is no later than when the server received it);
    // B from its first (B writes the lease only to take it).
    const aFrom = Math.min(...aLease);
    const aUntil = Math.max(...aLease) + RENEW_DEADLINE_MS;
    const bFrom = Math.min(...bLease);
    expect(aUntil, `A's leadership must end before B's begins\n${timeline}`).toBeLessThan(bFrom);
    // And by A's own account too: it had stopped before B took the lease.
    expect(aStoppedAt, `A stopped leading only after B took over\n${timeline}`).toBeLessThan(bFrom);

    const aWrites = workloadWrites.filter(fromA);
    const bWrites = workloadWrites.filter((e) => !fromA(e));
    expect(aWrites.length, timeline).toBeGreaterThan(0); // scale-before
    expect(bWrites.length, timeline).toBeGreaterThanOrEqual(3); // one per intent after the stall
    for (const write of aWrites) {
      expect(at(write), `A wrote outside its leadership\n${timeline}`).toBeGreaterThanOrEqual(aFrom);
      expect(at(write), `A wrote outside its leadership\n${timeline}`).toBeLessThan(aUntil);
    }
    expect(aWrites.filter((e) => at(e) >= stallAt).map(describeEvent), timeline).toEqual([]);
    for (const write of bWrites) expect(at(write), `B wrote before it led\n${timeline}`).toBeGreaterThanOrEqual(bFrom);
    // Nothing A sent during the stall renewed its lease when it finally arrived.
    expect(aLease.filter((t) => t >= stallAt)).toEqual([]);

    // The intents acted once each, on the new leader's watch.
    const { apps } = clientsFor("admin");
    expect((await apps.readNamespacedStatefulSet({ namespace: ns, name: "cache" })).spec?.replicas).toBe(3);
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: "web" })).spec?.replicas).toBe(3);
  });
});
