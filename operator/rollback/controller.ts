// The auto-rollback window controller: for a RollbackPlan with an open
// window, runs each round of checks on the window's fixed schedule (and at
// once when the workload's informer shows it failing), folds the round into
// the window (window.ts, pure), and performs the verdict. A failed window
// undoes the action exactly once, through the action ledger: the undo's own
// record is the lock, and the snapshot comes from the action's record, where
// only the operator writes.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import {
  API_VERSION,
  type HealingIntentStatus,
  type RollbackPlanSpec,
  RollbackPlanSpec as RollbackPlanSpecSchema,
  type RollbackPlanStatus,
  type RollbackWindow,
  type WorkloadKind,
} from "../api/index.ts";
import type { EditionWiring } from "../edition.ts";
import type { ActionLedger, ActionRecord } from "../intent/ledger.ts";
import type { ArfObject, HealingIntentObject } from "../intent/objects.ts";
import type { Workload } from "../intent/plan.ts";
import type { EventRecorder, StatusWriter } from "../kube/gateway.ts";
import { setConditions } from "../lib/conditions.ts";
import { rfc3339 } from "../lib/time.ts";
import type { OperatorMetrics } from "../metrics.ts";
import type { Clock } from "../runtime/clock.ts";
import type { ReconcileRequest, ReconcileResult } from "../runtime/controller.ts";
import type { PrometheusClient } from "./prometheus.ts";
import {
  applyRound,
  type CheckMeasurement,
  expandQuery,
  judgePrometheus,
  judgeWorkload,
  WORKLOAD_CHECK,
} from "./window.ts";

export interface WindowDeps {
  plan(namespace: string, name: string): ArfObject | undefined;
  workload(kind: WorkloadKind, namespace: string, name: string): Workload | undefined;
  intent(namespace: string, name: string): HealingIntentObject | undefined;
  statusWriter: StatusWriter;
  events: EventRecorder;
  metrics: OperatorMetrics;
  clock: Clock;
  wiring: () => EditionWiring;
  ledger: ActionLedger;
  prometheus: PrometheusClient;
  prometheusUrl?: string;
  assertMayAct: () => void;
}

export function makeWindowReconciler(deps: WindowDeps) {
  return async (request: ReconcileRequest): Promise<ReconcileResult | undefined> => {
    const { namespace, name, log } = request;
    const plan = deps.plan(namespace, name);
    const status = plan?.status as RollbackPlanStatus | undefined;
    const window = status?.window;
    if (!plan || !window || plan.metadata?.deletionTimestamp) return undefined;
    const parsed = RollbackPlanSpecSchema.safeParse(plan.spec);
    const target = parsed.success ? parsed.data.target : undefined;
    if (window.state !== "Watching") {
      if (target) deps.metrics.closeWindow(namespace, target.name);
      // A failed window whose undo did not finish (a crash, a lost lease): finish it.
      if (window.state === "RolledBack" && window.rollback?.state === "Started" && parsed.success) {
        return undo(deps, plan, parsed.data, window, undefined, log);
      }
      return undefined;
    }
    const wiring = deps.wiring();
    if (!wiring.executor) return { requeueAfterMs: 30_000 }; // only the licensed edition watches and undoes
    if (!parsed.success) {
      return finish(
        deps,
        plan,
        window,
        "Inconclusive",
        "PlanInvalid",
        `the RollbackPlan became invalid: ${parsed.error.message}`,
        log,
      );
    }
    const spec = parsed.data;
    const now = deps.clock.now();
    const workloadCheck = spec.healthChecks.workloadReady
      ? judgeWorkload(
          spec.target.kind,
          deps.workload(spec.target.kind, namespace, spec.target.name),
          spec.healthChecks.workloadReady.minAvailableRatio ?? 1,
          now.getTime() - new Date(window.startedAt).getTime(),
        )
      : undefined;
    const due = new Date(window.nextCheckAt ?? window.endsAt).getTime();
    deps.metrics.openWindow(namespace, spec.target.name, (new Date(window.endsAt).getTime() - now.getTime()) / 1000);
    // Event-driven: a failing workload is judged at once, not only on the schedule.
    if (now.getTime() < due && workloadCheck?.result !== "Failed") {
      return { requeueAfterMs: Math.max(100, due - now.getTime()) };
    }
    const measurements: CheckMeasurement[] = [
      ...(workloadCheck ? [workloadCheck] : []),
      ...(await measurePrometheus(deps, spec, window, namespace)),
    ];
    const measuredAt = performance.now();
    const { window: next, verdict } = applyRound(window, spec, measurements, deps.clock.now());
    for (const m of measurements) {
      deps.metrics.windowChecks.inc({ check: m.check, result: m.result });
      deps.metrics.windowCheckValue(
        namespace,
        spec.target.name,
        m.check,
        m.result === "Error" ? undefined : m.value,
        m.threshold,
      );
    }
    if (verdict.kind === "continue") {
      await writeWindow(deps, plan, next);
      return { requeueAfterMs: Math.max(100, verdict.nextCheckAt.getTime() - deps.clock.now().getTime()) };
    }
    deps.metrics.windowsTotal.inc({ result: next.state });
    deps.metrics.closeWindow(namespace, spec.target.name);
    log.info({ verdict: verdict.kind, reason: verdict.reason, message: verdict.message }, "auto-rollback window ended");
    await recordPlanEvent(
      deps,
      plan,
      verdict.kind === "pass" ? "Normal" : "Warning",
      `Window${next.state}`,
      verdict.message,
    );
    if (verdict.kind === "rollback") {
      const undoId = `${window.intentId}-undo`;
      next.rollback = { record: `arf-action-${undoId}`, state: "Started" };
      const written = await writeWindow(deps, plan, next);
      return undo(deps, written, spec, next, measuredAt, log);
    }
    await writeWindow(deps, plan, next);
    return undefined;
  };
}

async function measurePrometheus(
  deps: WindowDeps,
  spec: RollbackPlanSpec,
  window: RollbackWindow,
  namespace: string,
): Promise<CheckMeasurement[]> {
  const prometheus = spec.healthChecks.prometheus;
  if (!prometheus) return [];
  const address = prometheus.address ?? deps.prometheusUrl;
  return Promise.all(
    prometheus.queries.map(async (check) => {
      const baseline = window.checks.find((c) => c.name === check.name)?.baseline;
      if (!address) {
        return judgePrometheus(
          check,
          { ok: false, error: "no Prometheus address (plan or --prometheus-url)" },
          baseline,
        );
      }
      const answer = await deps.prometheus.query(address, expandQuery(check.query, namespace, spec.target.name));
      return judgePrometheus(check, answer, baseline);
    }),
  );
}

async function writeWindow(deps: WindowDeps, plan: ArfObject, window: RollbackWindow): Promise<ArfObject> {
  const status = (plan.status ?? {}) as RollbackPlanStatus;
  return deps.statusWriter.writeStatus("rollbackplans", plan, { ...status, window });
}

async function finish(
  deps: WindowDeps,
  plan: ArfObject,
  window: RollbackWindow,
  state: RollbackWindow["state"],
  reason: string,
  message: string,
  log: Logger,
): Promise<undefined> {
  const next: RollbackWindow = { ...window, state, verdict: { reason, message, at: rfc3339(deps.clock.now()) } };
  delete next.nextCheckAt;
  await writeWindow(deps, plan, next);
  log.warn({ reason, message }, "auto-rollback window ended");
  await recordPlanEvent(deps, plan, "Warning", `Window${state}`, message);
  return undefined;
}

/** Restores the pre-action snapshot, at most once, and records it on the plan and the intent. */
async function undo(
  deps: WindowDeps,
  plan: ArfObject,
  spec: RollbackPlanSpec,
  window: RollbackWindow,
  measuredAt: number | undefined,
  log: Logger,
): Promise<ReconcileResult | undefined> {
  const executor = deps.wiring().executor;
  if (!executor) return { requeueAfterMs: 30_000 };
  const namespace = plan.metadata?.namespace ?? "";
  const setRollback = async (state: "Succeeded" | "Failed", message: string, reactionSeconds?: number) => {
    const next: RollbackWindow = {
      ...window,
      rollback: {
        ...(window.rollback ?? { record: "" }),
        state,
        message: message.slice(0, 2048),
        ...(reactionSeconds !== undefined ? { reactionSeconds: Math.round(reactionSeconds * 1000) / 1000 } : {}),
      },
    };
    await writeWindow(deps, deps.plan(namespace, plan.metadata?.name ?? "") ?? plan, next).catch(async (error) => {
      if (!(error instanceof Error && error.name === "ConflictError")) throw error;
      await writeWindow(deps, plan, next);
    });
  };
  const original = await deps.ledger.get(window.intentId);
  const action = original?.record;
  const sameTarget =
    action?.namespace === namespace &&
    action.target.kind === spec.target.kind &&
    action.target.name === spec.target.name;
  if (action?.state !== "Succeeded" || !sameTarget || !action.snapshot) {
    const why = !action
      ? "the operator has no record of the action"
      : !sameTarget
        ? "the action's record is for another target"
        : !action.snapshot
          ? "the action's record holds no snapshot"
          : `the action's record is ${action.state}`;
    await setRollback("Failed", `not rolled back: ${why}`);
    await recordPlanEvent(deps, plan, "Warning", "AutoRollbackRefused", `not rolled back: ${why}`);
    return undefined;
  }
  const undoRecord: ActionRecord = {
    intentId: `${window.intentId}-undo`,
    namespace,
    intentName: action.intentName,
    intentUid: action.intentUid,
    target: action.target,
    attemptId: randomUUID(),
    planDigest: action.planDigest,
    desired: { type: "restoreSnapshot" },
    ...(action.policy ? { policy: action.policy } : {}),
    approvers: [],
    startedAt: rfc3339(deps.clock.now()),
    state: "Started",
  };
  deps.assertMayAct();
  const { stored } = await deps.ledger.create(undoRecord);
  const record = stored.record;
  if (!record) {
    await setRollback("Failed", `not rolled back: the undo's record is unreadable (${stored.problem})`);
    return undefined;
  }
  let outcome: { ok: boolean; message: string };
  if (record.state === "Started") {
    const { PermanentFailure } = await import("../executor/executor.ts");
    const snapshot =
      action.desired.type === "scale" ? { replicas: action.snapshot.replicas } : { template: action.snapshot.template };
    try {
      deps.assertMayAct();
      const result = await executor.restore(namespace, spec.target.kind, spec.target.name, snapshot, deps.assertMayAct);
      outcome = { ok: true, message: result.message };
    } catch (error) {
      if (!(error instanceof PermanentFailure)) throw error;
      outcome = { ok: false, message: error.message };
    }
    await deps.ledger.update(stored, {
      ...record,
      state: outcome.ok ? "Succeeded" : "Failed",
      finishedAt: rfc3339(deps.clock.now()),
      message: outcome.message,
    });
  } else {
    outcome = { ok: record.state === "Succeeded", message: record.message ?? record.state };
  }
  const reaction = measuredAt !== undefined ? (performance.now() - measuredAt) / 1000 : undefined;
  if (reaction !== undefined && outcome.ok) deps.metrics.autoRollbackReaction.observe(reaction);
  if (outcome.ok) deps.metrics.autoRollbacks.inc({ reason: window.verdict?.reason ?? "HealthGotWorse" });
  await setRollback(outcome.ok ? "Succeeded" : "Failed", outcome.message, reaction);
  log.info(
    { intentId: window.intentId, outcome: outcome.ok, message: outcome.message, reactionSeconds: reaction },
    "automatic undo",
  );
  await recordPlanEvent(
    deps,
    plan,
    outcome.ok ? "Normal" : "Warning",
    outcome.ok ? "AutoRolledBack" : "AutoRollbackFailed",
    `${outcome.message}; because ${window.verdict?.message ?? "the window failed"}`,
  );
  if (outcome.ok) await markIntentRolledBack(deps, namespace, action.intentName, window, outcome.message, log);
  return undefined;
}

async function markIntentRolledBack(
  deps: WindowDeps,
  namespace: string,
  name: string,
  window: RollbackWindow,
  message: string,
  log: Logger,
): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const intent = deps.intent(namespace, name);
    const status = intent?.status as HealingIntentStatus | undefined;
    if (!intent || !status || status.phase === "RolledBack") return;
    const now = deps.clock.now();
    const why = `rolled back automatically: ${window.verdict?.message ?? "the window failed"} (${message})`;
    const next: HealingIntentStatus = {
      ...status,
      phase: "RolledBack",
      conditions: setConditions(
        status.conditions,
        [{ type: "RolledBack", status: "True", reason: window.verdict?.reason ?? "HealthGotWorse", message: why }],
        intent.metadata?.generation ?? 0,
        now,
      ),
      history: [
        ...(status.history ?? []),
        { time: rfc3339(now), reason: "RolledBack", message: why.slice(0, 2048) },
      ].slice(-64),
    };
    try {
      await deps.statusWriter.writeStatus("healingintents", intent, next);
      await deps.events
        .record(
          { kind: "HealingIntent", apiVersion: API_VERSION, namespace, name, uid: intent.metadata?.uid },
          "Warning",
          "RolledBack",
          why,
        )
        .catch(() => undefined);
      return;
    } catch (error) {
      if (!(error instanceof Error && error.name === "ConflictError")) throw error;
      log.debug({ intent: name }, "intent changed while marking it RolledBack; retrying");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function recordPlanEvent(
  deps: WindowDeps,
  plan: ArfObject,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
) {
  const { namespace = "", name = "", uid } = plan.metadata ?? {};
  await deps.events
    .record({ kind: "RollbackPlan", apiVersion: API_VERSION, namespace, name, uid }, type, reason, message)
    .catch(() => undefined);
}

export { WORKLOAD_CHECK };
