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
import { appendHistory } from "../intent/evaluate.ts";
import { attemptTooOld } from "../intent/execution.ts";
import { type ActionLedger, type ActionRecord, recordIsFor, type StoredActionRecord } from "../intent/ledger.ts";
import type { ArfObject, HealingIntentObject } from "../intent/objects.ts";
import type { Workload } from "../intent/plan.ts";
import { retryOnConflict } from "../kube/errors.ts";
import type { EventRecorder, StatusWriter } from "../kube/gateway.ts";
import { setConditions } from "../lib/conditions.ts";
import type { KeyedMutex } from "../lib/keyed-mutex.ts";
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
  windowEnd,
  windowSettings,
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
  /** Shared with the intent reconciler: one decision or action per target at a time. */
  targetLocks?: KeyedMutex;
}

export function makeWindowReconciler(deps: WindowDeps) {
  return async (request: ReconcileRequest): Promise<ReconcileResult | undefined> => {
    const { namespace, name, log } = request;
    const plan = deps.plan(namespace, name);
    const status = plan?.status as RollbackPlanStatus | undefined;
    const window = status?.window;
    if (!plan || plan.metadata?.deletionTimestamp) {
      deps.metrics.closeWindowOfPlan(namespace, name);
      return undefined;
    }
    if (!window) return undefined;
    const parsed = RollbackPlanSpecSchema.safeParse(plan.spec);
    const target = parsed.success ? parsed.data.target : undefined;
    if (window.state !== "Watching") {
      deps.metrics.closeWindowOfPlan(namespace, name);
      // A failed window whose undo did not finish (a crash, a lost lease): finish it, from the undo's record.
      if (window.state === "RolledBack" && window.rollback?.state === "Started" && parsed.success) {
        return locked(deps, namespace, parsed.data, () => undo(deps, plan, parsed.data, window, undefined, log));
      }
      return undefined;
    }
    const wiring = deps.wiring();
    if (!wiring.executor) return { requeueAfterMs: 30_000 }; // only the licensed edition watches and undoes
    if (!parsed.success || !target) {
      const message = `the RollbackPlan became invalid: ${parsed.success ? "no target" : parsed.error.message}`;
      return finish(deps, plan, window, "Inconclusive", "PlanInvalid", message, log);
    }
    const spec = parsed.data;
    // Status is a record, never a command: the window must match the operator's own record of the action,
    // and its clock and baselines come from that record.
    const actionStored = await deps.ledger.get(window.intentId);
    const action = actionStored?.record;
    const ours =
      recordIsFor(action, namespace, target) &&
      action.state === "Succeeded" &&
      action.finishedAt !== undefined &&
      action.desired.type !== "restoreSnapshot";
    if (!ours || !action?.finishedAt) {
      const why = `the operator has no record of a finished action ${window.intentId} on ${target.kind.toLowerCase()}/${target.name}; status alone never starts a window`;
      return finish(deps, plan, window, "Inconclusive", "UnverifiedWindow", why, log);
    }
    const { intervalMs } = windowSettings(spec);
    const watched: RollbackWindow = {
      ...window,
      startedAt: rfc3339(new Date(action.finishedAt)),
      endsAt: rfc3339(windowEnd(spec, new Date(action.finishedAt), window)),
    };
    const now = deps.clock.now();
    const workloadCheck = spec.healthChecks.workloadReady
      ? judgeWorkload(
          spec.target.kind,
          deps.workload(spec.target.kind, namespace, spec.target.name),
          spec.healthChecks.workloadReady.minAvailableRatio ?? 1,
          now.getTime() - new Date(watched.startedAt).getTime(),
        )
      : undefined;
    const due = new Date(watched.nextCheckAt ?? watched.endsAt).getTime();
    deps.metrics.openWindow(
      namespace,
      name,
      targetLabel(spec),
      (new Date(watched.endsAt).getTime() - now.getTime()) / 1000,
    );
    // Event-driven: a failing workload is judged early, but at most once per half interval, so
    // failureLimit still spans time.
    const earlyAllowed = now.getTime() >= due - intervalMs / 2;
    if (now.getTime() < due && !(workloadCheck?.result === "Failed" && earlyAllowed)) {
      return {
        requeueAfterMs: Math.max(
          100,
          (workloadCheck?.result === "Failed" ? due - intervalMs / 2 : due) - now.getTime(),
        ),
      };
    }
    const baselines = new Map((action.snapshot?.baseline ?? []).map((b) => [b.check, b.value]));
    const measurements: CheckMeasurement[] = [
      ...(workloadCheck ? [workloadCheck] : []),
      ...(await measurePrometheus(deps, spec, baselines, namespace)),
    ];
    const measuredAt = performance.now();
    const { window: next, verdict } = applyRound(watched, spec, measurements, deps.clock.now());
    for (const m of measurements) {
      deps.metrics.windowChecks.inc({ check: m.check, result: m.result });
      deps.metrics.windowCheckValue(
        namespace,
        targetLabel(spec),
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
    deps.metrics.closeWindowOfPlan(namespace, name);
    log.info({ verdict: verdict.kind, reason: verdict.reason, message: verdict.message }, "auto-rollback window ended");
    await recordPlanEvent(
      deps,
      plan,
      verdict.kind === "pass" ? "Normal" : "Warning",
      `Window${next.state}`,
      verdict.message,
    );
    if (verdict.kind === "rollback") {
      return locked(deps, namespace, spec, async () => {
        // The decision is recorded where only the operator writes before status says so: the undo's record.
        const record = await createUndoRecord(deps, action);
        next.rollback = { record: record.name, state: "Started" };
        const written = await writeWindow(deps, plan, next);
        // Both records were read (the action's) or written (the undo's) just now: not read again.
        return undo(deps, written, spec, next, measuredAt, log, { action: actionStored, undo: record });
      });
    }
    await writeWindow(deps, plan, next);
    return undefined;
  };
}

const targetLabel = (spec: RollbackPlanSpec) => `${spec.target.kind.toLowerCase()}/${spec.target.name}`;

/** Undos take the same per-target lock as intents, so no intent acts on the target meanwhile. */
function locked(
  deps: WindowDeps,
  namespace: string,
  spec: RollbackPlanSpec,
  fn: () => Promise<ReconcileResult | undefined>,
): Promise<ReconcileResult | undefined> {
  return deps.targetLocks ? deps.targetLocks.run(`${namespace}/${spec.target.kind}/${spec.target.name}`, fn) : fn();
}

async function createUndoRecord(deps: WindowDeps, action: ActionRecord) {
  deps.assertMayAct();
  const { stored } = await deps.ledger.create({
    intentId: `${action.intentId}-undo`,
    namespace: action.namespace,
    intentName: action.intentName,
    intentUid: action.intentUid,
    target: action.target,
    attemptId: randomUUID(),
    planDigest: action.planDigest,
    desired: { type: "restoreSnapshot", source: action.intentId },
    ...(action.policy ? { policy: action.policy } : {}),
    approvers: [],
    startedAt: rfc3339(deps.clock.now()),
    state: "Started",
  });
  return stored;
}

async function measurePrometheus(
  deps: WindowDeps,
  spec: RollbackPlanSpec,
  baselines: Map<string, number | undefined>,
  namespace: string,
): Promise<CheckMeasurement[]> {
  const prometheus = spec.healthChecks.prometheus;
  if (!prometheus) return [];
  const address = prometheus.address ?? deps.prometheusUrl;
  return Promise.all(
    prometheus.queries.map(async (check) => {
      const baseline = baselines.get(check.name);
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
  deps.metrics.windowsTotal.inc({ result: state });
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
  /** The action's and the undo's records, when the caller has just read or written them; else read here. */
  known?: { action: StoredActionRecord | undefined; undo: StoredActionRecord },
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
    await retryOnConflict(
      (attempt) => writeWindow(deps, (attempt === 1 && deps.plan(namespace, plan.metadata?.name ?? "")) || plan, next),
      2,
    );
  };
  const original = known ? known.action : await deps.ledger.get(window.intentId);
  const action = original?.record;
  const sameTarget = recordIsFor(action, namespace, spec.target);
  if (action?.state !== "Succeeded" || !sameTarget || !action.snapshot) {
    const why = !action
      ? "the operator has no record of the action"
      : !sameTarget
        ? "the action's record is for another target"
        : !action.snapshot
          ? "the action's record holds no snapshot"
          : `the action's record is ${action.state}`;
    deps.metrics.autoRollbackFailures.inc({ reason: "Refused" });
    await setRollback("Failed", `not rolled back: ${why}`);
    await recordPlanEvent(deps, plan, "Warning", "AutoRollbackRefused", `not rolled back: ${why}`);
    return undefined;
  }
  // Only an undo the operator decided (its record exists) is performed: a RolledBack status alone is not enough.
  const stored = known ? known.undo : await deps.ledger.get(`${window.intentId}-undo`);
  const record = stored?.record;
  if (!stored || !record || record.desired.source !== action.intentId) {
    deps.metrics.autoRollbackFailures.inc({ reason: "Undecided" });
    await setRollback(
      "Failed",
      `not rolled back: the operator has no record of deciding this undo${stored?.problem ? ` (${stored.problem})` : ""}; status alone never makes it act`,
    );
    return undefined;
  }
  let outcome: { ok: boolean; message: string; changed?: boolean };
  // The reaction ends when the restoring write returns (there is none when nothing needed restoring),
  // not after the bookkeeping that follows it.
  let restoredAt: number | undefined;
  if (record.state === "Started") {
    const { PermanentFailure } = await import("../executor/executor.ts");
    const snapshot =
      action.desired.type === "scale" ? { replicas: action.snapshot.replicas } : { template: action.snapshot.template };
    try {
      deps.assertMayAct();
      if (attemptTooOld(deps.clock.now(), record.startedAt)) {
        throw new PermanentFailure(`not resumed: the undo was decided at ${record.startedAt}, too long ago`);
      }
      // Never over a newer change: the workload must be as the action left it.
      const expected =
        action.desired.type === "scale"
          ? { ...(action.desired.replicas !== undefined ? { replicas: action.desired.replicas } : {}) }
          : { ...(action.generationAfter !== undefined ? { generation: action.generationAfter } : {}) };
      const result = await executor.restore(
        namespace,
        spec.target.kind,
        spec.target.name,
        snapshot,
        deps.assertMayAct,
        expected,
      );
      if (result.changed) restoredAt = performance.now();
      outcome = { ok: true, message: result.message, changed: result.changed };
    } catch (error) {
      deps.assertMayAct(); // a replica that may not act now never settles the undo either
      const giveUp = attemptTooOld(deps.clock.now(), record.startedAt);
      if (!(error instanceof PermanentFailure) && !giveUp) throw error;
      outcome = { ok: false, message: error instanceof Error ? error.message : String(error) };
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
  const reaction = measuredAt !== undefined && restoredAt !== undefined ? (restoredAt - measuredAt) / 1000 : undefined;
  if (reaction !== undefined && outcome.ok) deps.metrics.autoRollbackReaction.observe(reaction);
  if (outcome.ok && outcome.changed)
    deps.metrics.autoRollbacks.inc({ reason: window.verdict?.reason ?? "HealthGotWorse" });
  if (!outcome.ok) deps.metrics.autoRollbackFailures.inc({ reason: "Failed" });
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
  if (outcome.ok) await markIntentRolledBack(deps, namespace, action, window, outcome.message, log);
  return undefined;
}

async function markIntentRolledBack(
  deps: WindowDeps,
  namespace: string,
  action: ActionRecord,
  window: RollbackWindow,
  message: string,
  log: Logger,
): Promise<void> {
  const name = action.intentName;
  await retryOnConflict(async (attempt) => {
    if (attempt > 1) {
      log.debug({ intent: name }, "intent changed while marking it RolledBack; retrying");
      await new Promise((resolve) => setTimeout(resolve, 200)); // let the cache catch up
    }
    const intent = deps.intent(namespace, name);
    const status = intent?.status as HealingIntentStatus | undefined;
    // The very intent that acted: another one later created under the same name is not it.
    if (!intent || intent.metadata?.uid !== action.intentUid || !status || status.phase === "RolledBack") return;
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
      history: appendHistory(status.history, [{ type: "Warning", reason: "RolledBack", message: why }], now),
    };
    await deps.statusWriter.writeStatus("healingintents", intent, next);
    await deps.events
      .record(
        { kind: "HealingIntent", apiVersion: API_VERSION, namespace, name, uid: intent.metadata?.uid },
        "Warning",
        "RolledBack",
        why,
      )
      .catch(() => undefined);
  });
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
