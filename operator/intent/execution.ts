// Runs an approved action at most once, even across crashes and leader
// changes:
//   1. record the attempt (id, start time and exactly what it will change) in
//      status, guarded by the resourceVersion, so two writers cannot both start;
//   2. act, idempotently against the live state;
//   3. record the outcome.
// A crash between 2 and 3 leaves an attempt "Started"; the next reconcile
// resumes that same attempt, which finds the change already made and only
// records it. Nothing decides anew once an attempt exists.
import { randomUUID } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import {
  API_VERSION,
  type ApprovalPolicySpec,
  GROUP,
  type HealingIntentSpec,
  type HealingIntentStatus,
  type RollbackPlanStatus,
  VERSION,
} from "../api/index.ts";
import type { Desired, Executor } from "../executor/executor.ts";
import type { EventRecorder, StatusWriter } from "../kube/gateway.ts";
import { intentRef } from "../kube/gateway.ts";
import { setConditions } from "../lib/conditions.ts";
import type { OperatorMetrics } from "../metrics.ts";
import type { Clock } from "../runtime/clock.ts";
import { appendHistory } from "./evaluate.ts";
import type { Plan, Workload } from "./plan.ts";
import type { ArfObject, HealingIntentObject } from "./reconciler.ts";

export interface ExecutionDeps {
  statusWriter: StatusWriter;
  events: EventRecorder;
  metrics: OperatorMetrics;
  clock: Clock;
  rollbackPlans: (namespace: string) => ArfObject[];
  snapshotWriter: SnapshotWriter;
  /** Test-only fault injection: exit right after acting, before recording the outcome. */
  crashAfterAction?: boolean;
}

export interface SnapshotWriter {
  createPlan(namespace: string, body: unknown): Promise<ArfObject>;
}

const rfc3339 = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, ".$1Z");

export interface IntentContext {
  /** The intent as last read or written: status writes are guarded by its resourceVersion. */
  intent: HealingIntentObject;
  namespace: string;
  name: string;
  uid?: string;
  generation: number;
  spec: HealingIntentSpec;
  log: Logger;
}

export function intentContext(intent: HealingIntentObject, spec: HealingIntentSpec, log: Logger): IntentContext {
  const metadata = intent.metadata ?? {};
  return {
    intent,
    namespace: metadata.namespace ?? "",
    name: metadata.name ?? "",
    uid: metadata.uid,
    generation: metadata.generation ?? 0,
    spec,
    log,
  };
}

/** Starts an attempt: snapshot first, then the attempt record, then the action. */
export async function startExecution(
  deps: ExecutionDeps,
  executor: Executor,
  ctx: IntentContext,
  status: HealingIntentStatus,
  plan: Extract<Plan, { ok: true }>,
  workload: Workload,
  policy: { name: string; spec: ApprovalPolicySpec } | undefined,
  desiredFrom: (plan: Extract<Plan, { ok: true }>, startedAt: string) => Desired,
): Promise<void> {
  const now = deps.clock.now();
  const startedAt = rfc3339(now);
  const desired = desiredFrom(plan, startedAt);
  await recordSnapshot(deps, ctx, status.intentId ?? "", workload, policy);
  const started: HealingIntentStatus = {
    ...status,
    phase: "Executing",
    execution: { attemptId: randomUUID(), state: "Started", startedAt, desired, fieldManager: "arf-operator" },
    conditions: setConditions(
      status.conditions,
      [{ type: "Executed", status: "Unknown", reason: "InProgress", message: `performing: ${plan.summary}` }],
      ctx.generation,
      now,
    ),
    history: appendHistory(
      status.history,
      [{ type: "Normal", reason: "ExecutionStarted", message: plan.summary }],
      now,
    ),
  };
  const recorded = await deps.statusWriter.writeStatus("healingintents", ctx.intent, started);
  ctx.log.info(
    {
      intentId: status.intentId,
      policy: policy?.name,
      approvers: status.approvals?.counted ?? [],
      attemptId: started.execution?.attemptId,
      desired,
    },
    "execution started",
  );
  await finishExecution(deps, executor, { ...ctx, intent: recorded }, started);
}

/** Performs (or resumes) the recorded attempt and records its outcome. */
export async function finishExecution(
  deps: ExecutionDeps,
  executor: Executor,
  ctx: IntentContext,
  status: HealingIntentStatus,
): Promise<void> {
  const execution = status.execution;
  if (!execution?.desired) throw new Error("no attempt to finish");
  const { PermanentFailure } = await import("../executor/executor.ts");
  let outcome: { ok: boolean; message: string; changed: boolean };
  try {
    const result = await executor.apply(
      ctx.namespace,
      ctx.spec.target.kind,
      ctx.spec.target.name,
      execution.desired as Desired,
    );
    outcome = { ok: true, message: result.message, changed: result.changed };
  } catch (error) {
    if (!(error instanceof PermanentFailure)) throw error; // transient: retry the same attempt with backoff
    outcome = { ok: false, message: error.message, changed: false };
  }
  if (deps.crashAfterAction && outcome.ok) {
    ctx.log.warn(
      { attemptId: execution.attemptId },
      "fault injection: exiting after acting, before recording the outcome",
    );
    process.exit(137);
  }
  const now = deps.clock.now();
  const reason = outcome.ok ? "Executed" : "ExecutionFailed";
  const finished: HealingIntentStatus = {
    ...status,
    phase: outcome.ok ? "Succeeded" : "Failed",
    execution: {
      ...execution,
      state: outcome.ok ? "Succeeded" : "Failed",
      finishedAt: rfc3339(now),
      message: outcome.message,
    },
    conditions: setConditions(
      status.conditions,
      [
        {
          type: "Executed",
          status: outcome.ok ? "True" : "False",
          reason: outcome.ok ? "Succeeded" : "Failed",
          message: outcome.message,
        },
      ],
      ctx.generation,
      now,
    ),
    history: appendHistory(
      status.history,
      [{ type: outcome.ok ? "Normal" : "Warning", reason, message: outcome.message }],
      now,
    ),
  };
  await deps.statusWriter.writeStatus("healingintents", ctx.intent, finished);
  deps.metrics.executions.inc({ action: ctx.spec.action, result: outcome.ok ? "succeeded" : "failed" });
  ctx.log.info(
    {
      intentId: status.intentId,
      policy: status.decision?.policy,
      approvers: status.approvals?.counted ?? [],
      attemptId: execution.attemptId,
      outcome: outcome.ok ? "Succeeded" : "Failed",
      changedNow: outcome.changed,
      message: outcome.message,
    },
    "execution finished",
  );
  await deps.events
    .record(intentRef(ctx.namespace, ctx.name, ctx.uid), outcome.ok ? "Normal" : "Warning", reason, outcome.message)
    .catch((error) => ctx.log.warn({ err: String(error) }, "could not record event"));
}

/** Records the workload's state before the action on its RollbackPlan, creating one from the policy's defaults if required. */
async function recordSnapshot(
  deps: ExecutionDeps,
  ctx: IntentContext,
  intentId: string,
  workload: Workload,
  policy: { name: string; spec: ApprovalPolicySpec } | undefined,
): Promise<void> {
  const target = ctx.spec.target;
  let plan = deps.rollbackPlans(ctx.namespace).find((p) => {
    const t = (p.spec as { target?: { kind?: string; name?: string } } | undefined)?.target;
    return t?.kind === target.kind && t?.name === target.name;
  });
  if (!plan && policy?.spec.requireRollbackPlan) {
    const defaults = policy.spec.rollbackPlanDefaults ?? {};
    plan = await deps.snapshotWriter.createPlan(ctx.namespace, {
      apiVersion: API_VERSION,
      kind: "RollbackPlan",
      metadata: {
        name: `${target.kind.toLowerCase()}-${target.name}`.slice(0, 253),
        labels: { "arf.dev/created-by": "arf-operator" },
        annotations: { "arf.dev/created-for": ctx.name, "arf.dev/policy": policy.name },
      },
      spec: {
        target,
        ...(defaults.autoRollback ? { autoRollback: defaults.autoRollback } : {}),
        healthChecks: { workloadReady: { minAvailableRatio: 1 } },
        onFailure: defaults.onFailure ?? "rollback",
      },
    });
    ctx.log.info(
      { rollbackPlan: plan.metadata?.name, policy: policy.name },
      "created RollbackPlan from the policy's defaults",
    );
  }
  if (!plan) return;
  const status = (plan.status ?? {}) as RollbackPlanStatus;
  if (status.snapshots?.some((s) => s.intentId === intentId)) return; // resumed: already taken
  const revision = Number(
    workload.metadata?.annotations?.["deployment.kubernetes.io/revision"] ??
      (workload as k8s.V1StatefulSet).status?.observedGeneration ??
      0,
  );
  const snapshot = {
    intentName: ctx.name,
    intentId,
    takenAt: rfc3339(deps.clock.now()),
    kind: target.kind,
    name: target.name,
    revision,
    ...((workload.spec as { replicas?: number }).replicas !== undefined
      ? { replicas: (workload.spec as { replicas: number }).replicas }
      : {}),
    template: workload.spec?.template as Record<string, unknown>,
  };
  const snapshots = [...(status.snapshots ?? []), snapshot].slice(-20);
  await deps.statusWriter.writeStatus("rollbackplans", plan, { ...status, snapshots });
}

export function kubeSnapshotWriter(kc: k8s.KubeConfig): SnapshotWriter {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  return {
    async createPlan(namespace, body) {
      try {
        return (await api.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: "rollbackplans",
          body,
        })) as ArfObject;
      } catch (error) {
        if (error instanceof k8s.ApiException && error.code === 409) {
          const name = (body as { metadata: { name: string } }).metadata.name;
          return (await api.getNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: "rollbackplans",
            name,
          })) as ArfObject;
        }
        throw error;
      }
    },
  };
}
