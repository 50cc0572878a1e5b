// Two operator processes at once: exactly one leads and reconciles; when the
// leader is killed without a chance to release the lease, the other takes over
// within the lease duration.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientsFor, createTestNamespace, deleteTestNamespace, eventually } from "./support/kube.ts";
import {
  createArf,
  installChartRbac,
  intentWhere,
  OPERATOR_NAMESPACE,
  type RunningOperator,
  startOperator,
} from "./support/operator.ts";
import { intentBody } from "./support/workloads.ts";

const LEASE = "arf-operator-e2e-leader";
let ns: string;
const operators: RunningOperator[] = [];

beforeAll(async () => {
  ns = await createTestNamespace("e2e-leader");
  await installChartRbac("oss");
  for (const identity of ["replica-a", "replica-b"]) {
    operators.push(await startOperator(identity, [`--leader-election-id=${LEASE}`]));
  }
});

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop("SIGKILL")));
  await deleteTestNamespace(ns);
});

const leaseHolder = async () =>
  (
    await clientsFor("admin")
      .kc.makeApiClient((await import("@kubernetes/client-node")).CoordinationV1Api)
      .readNamespacedLease({ name: LEASE, namespace: OPERATOR_NAMESPACE })
  ).spec?.holderIdentity;

describe("leader election", () => {
  it("lets exactly one of two replicas lead and reconcile", async () => {
    const leader = await eventually("one leader", async () => {
      const statuses = await Promise.all(operators.map((o) => o.metric("leader_election_master_status")));
      return statuses.filter((s) => s === 1).length === 1 ? operators[statuses.indexOf(1)] : undefined;
    });
    const standby = operators.find((o) => o !== leader) as RunningOperator;
    expect(await leaseHolder()).toBe(leader?.identity);
    expect(await leader?.ready()).toBe(true);
    // Standbys are ready too once their caches have synced (which may come after the election),
    // so the chart's Deployment becomes Available.
    await eventually("the standby to be ready", async () => ((await standby.ready()) ? true : undefined));
    expect(await standby.metric("leader_election_master_status")).toBe(0);

    await createArf("healingintents", ns, intentBody("led", "restart", "Deployment", "nothing-here"));
    await intentWhere(ns, "led", "reconciled", (i) => i.status?.phase === "Advisory");
    // An open intent asks to be looked at again when its life ends, so its reconciles count as requeue_after.
    const reconciledBy = async (o: RunningOperator) => {
      let total = 0;
      for (const result of ["success", "requeue_after"])
        total += (await o.metric("controller_runtime_reconcile_total", { controller: "healingintent", result })) ?? 0;
      return total;
    };
    expect(await reconciledBy(leader as RunningOperator)).toBeGreaterThan(0);
    expect(await reconciledBy(standby)).toBe(0);
  });

  it("hands over within the lease duration when the leader is killed", async () => {
    const leaderIdentity = await leaseHolder();
    const leader = operators.find((o) => o.identity === leaderIdentity) as RunningOperator;
    const standby = operators.find((o) => o !== leader) as RunningOperator;
    const killedAt = Date.now();
    await leader.stop("SIGKILL");
    await eventually(
      "the standby to take the lease",
      async () => ((await leaseHolder()) === standby.identity ? true : undefined),
      { timeoutMs: 30_000 },
    );
    const handoverMs = Date.now() - killedAt;
    // Lease duration 15 s from when the standby last saw the lease change (up to one retry period, 2 s,
    // before the kill), plus one retry period for it to look again, plus a second of scheduling slack.
    expect(handoverMs).toBeLessThan(20_000);
    await eventually("the new leader to lead", async () =>
      (await standby.metric("leader_election_master_status")) === 1 ? true : undefined,
    );
    await createArf("healingintents", ns, intentBody("after-handover", "restart", "Deployment", "nothing-here"));
    await intentWhere(ns, "after-handover", "reconciled by the new leader", (i) => i.status?.phase === "Advisory");
  });

  it("releases the lease on SIGTERM so a successor need not wait", async () => {
    const leader = operators.find(
      (o) => o.process.exitCode === null && o.process.signalCode === null,
    ) as RunningOperator;
    expect(await leader.stop("SIGTERM")).toBe(0);
    expect(await leaseHolder()).toBe("");
  });
});
