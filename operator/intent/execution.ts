// Runs a decided action at most once, even across crashes, leader changes and
// forged status:
//   1. create the attempt's record in the action ledger (the operator's own
//      namespace; the create is the lock: a 409 means someone acted first);
//   2. take the pre-action snapshot on the target's RollbackPlan;
//   3. record the attempt in status (Started), for people and GitOps tools;
//   4. act, with preconditions the API server enforces (the plan's observed
//      replicas or generation), idempotently against the live state;
//   5. record the outcome in the ledger, then in status.
// An attempt found Started is resumed only from its ledger record, with the
// record's desired change; a Started status without a matching record is a
// forgery and is ignored (and said so).
import { randomUUID } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import {
  API_VERSION,
  type ApprovalPolicySpec,
  type Desired,
  GROUP,
  type HealingIntentSpec,
  type HealingIntentStatus,
  RollbackPlanSpec,
  type RollbackPlanStatus,
  type Snapshot,
  VERSION,
} from "../api/index.ts";
import type { EditionWiring } from "../edition.ts";
import { retryOnConflict } from "../kube/errors.ts";
import type { EventRecorder, RevisionReader, StatusWriter } from "../kube/gateway.ts";
import { FIELD_MANAGER } from "../kube/names.ts";
import { setConditions } from "../lib/conditions.ts";
import { stableEqual } from "../lib/stable.ts";
import { rfc3339 } from "../lib/time.ts";
import type { OperatorMetrics } from "../metrics.ts";
import type { PrometheusClient } from "../rollback/prometheus.ts";
import { expandQuery, openWindow } from "../rollback/window.ts";
import type { Clock } from "../runtime/clock.ts";
import type { ReconcileResult } from "../runtime/controller.ts";
import { type ExecutionOrder, expiresAt } from "./decide.ts";
import { shortDigest } from "./digest.ts";
import { appendHistory, type IntentEvent } from "./evaluate.ts";
import { intentId } from "./identity.ts";
import { type ActionLedger, type ActionRecord, recordIsFor, recordName, type StoredActionRecord } from "./ledger.ts";
import { type ArfObject, type HealingIntentObject, recordEvents } from "./objects.ts";
import type { Workload } from "./plan.ts";

export interface ExecutionDeps {
  statusWriter: StatusWriter;
  events: EventRecorder;
  metrics: OperatorMetrics;
  clock: Clock;
  ledger: ActionLedger;
  revisions: RevisionReader;
  rollbackPlans: (namespace: string) => ArfObject[];
  snapshotWriter: SnapshotWriter;
  /** Throws unless this replica may write workloads now (it holds the lease); called before every write. */
  assertMayAct: () => void;
  /** Measures Prometheus checks just before an action (baselines for the window). */
  prometheus?: PrometheusClient;
  /** The Prometheus a RollbackPlan uses when it names no address. */
  prometheusUrl?: string;
  /** Test-only fault injection: exit right after acting, before recording the outcome. */
  crashAfterAction?: boolean;
}

export interface SnapshotWriter {
  createPlan(namespace: string, body: unknown): Promise<ArfObject>;
  getPlan(namespace: string, name: string): Promise<ArfObject>;
}

/** A Started attempt stops retrying transient errors after this long and ends Failed: it never acts days later. */
export const ATTEMPT_DEADLINE_MS = 10 * 60_000;
export const attemptTooOld = (now: Date, startedAt: string) =>
  now.getTime() - new Date(startedAt).getTime() > ATTEMPT_DEADLINE_MS;

interface Attempt {
  intent: HealingIntentObject;
  spec: HealingIntentSpec;
  log: Logger;
}

/** Starts the decided execution: ledger record first, then snapshot, status, action and outcome. */
export async function execute(
  deps: ExecutionDeps,
  wiring: EditionWiring,
  input: Attempt & { status: HealingIntentStatus; order: ExecutionOrder; events: IntentEvent[] },
): Promise<ReconcileResult | undefined> {
  const { intent, spec, order, log } = input;
  const { namespace = "", name = "", uid = "" } = intent.metadata ?? {};
  const desiredFrom = wiring.desiredFrom;
  if (!wiring.executor || !desiredFrom) return undefined;
  const now = deps.clock.now();
  const startedAt = rfc3339(now);
  const desired = desiredFrom(order.plan, startedAt);
  const id = intentId(namespace, spec);
  const record: ActionRecord = {
    intentId: id,
    namespace,
    intentName: name,
    intentUid: uid,
    target: spec.target,
    attemptId: randomUUID(),
    planDigest: order.digest,
    desired,
    ...(order.policy ? { policy: order.policy.name } : {}),
    approvers: order.approvers,
    startedAt,
    state: "Started",
  };
  deps.assertMayAct();
  const { created, stored } = await deps.ledger.create(record);
  let attempt = record;
  if (!created) {
    if (stored.record?.intentUid !== uid || !stored.record) return refuseAlreadyActed(deps, input, stored);
    // Our own record from a reconcile that stopped before recording Started in status, so before
    // acting (status is written before the action): the workload is still as it was; resume it,
    // exactly as recorded, and record it in status first.
    log.warn({ record: stored.name }, "found this intent's own attempt record; resuming it");
    attempt = stored.record;
  } else {
    log.info(
      { intentId: id, record: stored.name, policy: order.policy?.name, approvers: order.approvers, desired },
      "attempt recorded",
    );
  }
  let ledgerEntry = stored;
  if (attempt.state === "Started" && !attempt.snapshot) {
    const taken = await recordSnapshot(deps, intent, spec, id, order.workload, order.policy, log);
    // The pre-action state also goes where only the operator writes: an automatic undo restores it from there.
    const withSnapshot: ActionRecord = {
      ...attempt,
      snapshot: {
        template: order.workload.spec?.template,
        ...((order.workload.spec as { replicas?: number } | undefined)?.replicas !== undefined
          ? { replicas: (order.workload.spec as { replicas: number }).replicas }
          : {}),
        ...(taken?.snapshot.revision !== undefined ? { revision: taken.snapshot.revision } : {}),
        // Measured now, by the operator: never a baseline read back from status.
        ...(taken?.baseline.length ? { baseline: taken.baseline } : {}),
      },
      ...(taken ? { rollbackPlan: taken.plan } : {}),
    };
    ledgerEntry = await deps.ledger.update(stored, withSnapshot);
    attempt = withSnapshot;
  }
  const startedStatus = withExecution(input.status, attempt, stored.name, intent.metadata?.generation ?? 0, now, [
    ...input.events,
  ]);
  const written = await deps.statusWriter.writeStatus("healingintents", intent, startedStatus.status);
  await recordEvents(deps.events, intent, startedStatus.events, log);
  return perform(deps, wiring, { intent: written, spec, log }, startedStatus.status, ledgerEntry);
}

/** The status of an attempt that has started. */
function withExecution(
  status: HealingIntentStatus,
  record: ActionRecord,
  recordRef: string,
  generation: number,
  now: Date,
  events: IntentEvent[],
): { status: HealingIntentStatus; events: IntentEvent[] } {
  const started: IntentEvent = {
    type: "Normal",
    reason: "ExecutionStarted",
    message: `${status.recommendation?.summary ?? record.desired.type} (plan ${shortDigest(record.planDigest)})`,
  };
  return {
    status: {
      ...status,
      phase: "Executing",
      execution: {
        attemptId: record.attemptId,
        state: "Started",
        startedAt: record.startedAt,
        desired: record.desired,
        fieldManager: FIELD_MANAGER,
        planDigest: record.planDigest,
        record: recordRef,
      },
      conditions: setConditions(
        status.conditions,
        [{ type: "Executed", status: "Unknown", reason: "InProgress", message: `performing: ${started.message}` }],
        generation,
        now,
      ),
      history: appendHistory(status.history, [started], now),
    },
    events: [...events, started],
  };
}

/** Another intent already acted on the same proposal: this one never runs. */
async function refuseAlreadyActed(
  deps: ExecutionDeps,
  input: Attempt & { status: HealingIntentStatus; order: ExecutionOrder; events: IntentEvent[] },
  stored: StoredActionRecord,
): Promise<ReconcileResult | undefined> {
  const now = deps.clock.now();
  const generation = input.intent.metadata?.generation ?? 0;
  const by = stored.record
    ? `intent ${stored.record.intentName} (attempt ${stored.record.attemptId}, ${stored.record.state}, started ${stored.record.startedAt})`
    : `an attempt whose record is unreadable (${stored.problem})`;
  const message = `the same proposal (intent id ${input.status.intentId}) was already acted on by ${by}, recorded in ${deps.ledger.namespace}/${stored.name}; this intent will not run`;
  const event: IntentEvent = { type: "Warning", reason: "AlreadyActedOn", message };
  const status: HealingIntentStatus = {
    ...input.status,
    phase: "Duplicate",
    ...(stored.record ? { duplicateOf: stored.record.intentName } : {}),
    decision: {
      ...(input.status.decision ?? { mode: "advisory", reasons: [] }),
      verdict: "Refuse",
      reasons: [message],
    },
    conditions: setConditions(
      input.status.conditions,
      [
        { type: "Duplicate", status: "True", reason: "AlreadyActedOn", message },
        { type: "Executed", status: "False", reason: "AlreadyActedOn", message },
      ],
      generation,
      now,
    ),
    history: appendHistory(input.status.history, [event], now),
  };
  if (!stableEqual(status, input.intent.status ?? {})) {
    await deps.statusWriter.writeStatus("healingintents", input.intent, status);
    await recordEvents(deps.events, input.intent, [...input.events, event], input.log);
  }
  // Not final by itself: it ends Expired when its life ends.
  const deadline = expiresAt(
    new Date(input.intent.metadata?.creationTimestamp ?? now),
    input.order.policy?.spec,
    input.spec,
  );
  return { requeueAfterMs: Math.max(1000, deadline.getTime() - now.getTime()) };
}

export type ResumeOutcome =
  | { kind: "handled"; result: ReconcileResult | undefined }
  /** The status claimed an attempt the operator has no record of: decide afresh from this status. */
  | { kind: "unverified"; previous: HealingIntentStatus; events: IntentEvent[] };

/**
 * An intent whose status records an execution. Resumed only if the ledger
 * holds the matching record for this very intent; otherwise the claim is
 * ignored and the intent is decided afresh under policy.
 */
export async function resumeRecordedAttempt(
  deps: ExecutionDeps | undefined,
  wiring: EditionWiring,
  intent: HealingIntentObject,
  spec: HealingIntentSpec,
  log: Logger,
): Promise<ResumeOutcome> {
  const status = intent.status as HealingIntentStatus;
  const execution = status.execution as NonNullable<HealingIntentStatus["execution"]>;
  const { namespace = "", uid = "" } = intent.metadata ?? {};
  if (!deps || !wiring.executor) {
    if (execution.state === "Started") {
      log.warn(
        { attemptId: execution.attemptId },
        "an attempt is recorded as started but the licensed edition is not active; it waits",
      );
      return { kind: "handled", result: { requeueAfterMs: 30_000 } };
    }
    return unverified(status, "the OSS edition keeps no attempt records; a recorded execution is not trusted");
  }
  const id = intentId(namespace, spec);
  const stored = await deps.ledger.get(id);
  const record = stored?.record;
  const sameTarget = recordIsFor(record, namespace, spec.target);
  if (!stored || !record || record.intentUid !== uid || record.attemptId !== execution.attemptId || !sameTarget) {
    const why = !stored
      ? `there is no record ${deps.ledger.namespace}/${recordName(id)}`
      : !record
        ? `its record is unreadable (${stored.problem})`
        : record.intentUid !== uid
          ? `the record belongs to intent ${record.intentName}`
          : !sameTarget
            ? `the record is for another target (${(record as ActionRecord).namespace}/${(record as ActionRecord).target.kind}/${(record as ActionRecord).target.name})`
            : `the record is of attempt ${record.attemptId}`;
    log.warn(
      { attemptId: execution.attemptId, why },
      "status claims an attempt the operator did not record; ignoring it",
    );
    return unverified(status, `status.execution claims attempt ${execution.attemptId}, but ${why}`);
  }
  // Started in the record: perform it; settled: bring the status in line with the record.
  return {
    kind: "handled",
    result: await perform(deps, wiring, { intent, spec, log }, status, stored),
  };
}

function unverified(status: HealingIntentStatus, why: string): ResumeOutcome {
  const message = `${why}; status is a record, never a command: the claim is ignored and the intent is decided under policy`;
  const { execution: _ignored, ...rest } = status;
  return {
    kind: "unverified",
    previous: { ...rest, ...(rest.phase === "Executing" ? { phase: "Pending" } : {}) },
    events: [{ type: "Warning", reason: "UnverifiedAttempt", message }],
  };
}

/** Performs (or resumes) the recorded attempt and records its outcome, first in the ledger, then in status. */
async function perform(
  deps: ExecutionDeps,
  wiring: EditionWiring,
  attempt: Attempt,
  status: HealingIntentStatus,
  stored: StoredActionRecord,
): Promise<ReconcileResult | undefined> {
  const record = stored.record as ActionRecord;
  const { intent, spec, log } = attempt;
  const namespace = intent.metadata?.namespace ?? "";
  const executor = wiring.executor;
  if (!executor) return { requeueAfterMs: 30_000 };
  let outcome: { ok: boolean; message: string; changed: boolean; generation?: number };
  let ledgerRecord = stored;
  if (record.state === "Started") {
    const { PermanentFailure } = await import("../executor/executor.ts");
    try {
      deps.assertMayAct();
      // An attempt is resumed only while it is fresh: never days later, after a crash or a lapsed license.
      if (attemptTooOld(deps.clock.now(), record.startedAt)) {
        throw new PermanentFailure(
          `not resumed: the attempt started at ${record.startedAt}, more than ${ATTEMPT_DEADLINE_MS / 60_000}m ago; whether it took effect before is not known, check the workload`,
        );
      }
      const result =
        record.desired.type === "restoreSnapshot"
          ? await restoreFromRecord(deps, executor, namespace, spec, record.desired)
          : await executor.apply(
              namespace,
              spec.target.kind,
              spec.target.name,
              record.desired as Desired,
              deps.assertMayAct,
            );
      outcome = {
        ok: true,
        message: result.message,
        changed: result.changed,
        ...(result.generation !== undefined ? { generation: result.generation } : {}),
      };
    } catch (error) {
      // Stopped because this replica may not act now (lost lease, aborted, shutting down): never settle
      // the attempt from here; whoever leads next resumes it.
      deps.assertMayAct();
      const giveUp = attemptTooOld(deps.clock.now(), record.startedAt);
      if (!(error instanceof PermanentFailure) && !giveUp) throw error; // transient: retry the same attempt
      const message = error instanceof Error ? error.message : String(error);
      outcome = {
        ok: false,
        message:
          error instanceof PermanentFailure
            ? message
            : `gave up after ${ATTEMPT_DEADLINE_MS / 60_000}m of transient errors, last: ${message}`,
        changed: false,
      };
    }
    if (deps.crashAfterAction && outcome.ok) {
      log.warn({ attemptId: record.attemptId }, "fault injection: exiting after acting, before recording the outcome");
      process.exit(137);
    }
    ledgerRecord = await deps.ledger.update(stored, {
      ...record,
      state: outcome.ok ? "Succeeded" : "Failed",
      finishedAt: rfc3339(deps.clock.now()),
      message: outcome.message.slice(0, 4096),
      ...(outcome.generation !== undefined ? { generationAfter: outcome.generation } : {}),
    });
  } else {
    // The outcome reached the ledger but not the status (a crash in between).
    outcome = { ok: record.state === "Succeeded", message: record.message ?? record.state, changed: false };
  }
  if (outcome.ok && record.desired.type !== "restoreSnapshot") {
    // The action is done and recorded: a window that cannot open is reported, never retried into the action.
    await openWindowAfter(deps, ledgerRecord.record ?? record, log).catch((error) =>
      log.error({ err: String(error), rollbackPlan: record.rollbackPlan }, "could not open the auto-rollback window"),
    );
  }
  const now = deps.clock.now();
  const reason = outcome.ok ? "Executed" : "ExecutionFailed";
  const event: IntentEvent = { type: outcome.ok ? "Normal" : "Warning", reason, message: outcome.message };
  const finished: HealingIntentStatus = {
    ...status,
    phase: outcome.ok ? "Succeeded" : "Failed",
    execution: {
      attemptId: record.attemptId,
      state: outcome.ok ? "Succeeded" : "Failed",
      startedAt: record.startedAt,
      finishedAt: ledgerRecord.record?.finishedAt ?? rfc3339(now),
      message: outcome.message.slice(0, 4096),
      fieldManager: FIELD_MANAGER,
      planDigest: record.planDigest,
      record: stored.name,
      desired: record.desired,
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
      intent.metadata?.generation ?? 0,
      now,
    ),
    history: appendHistory(status.history, [event], now),
  };
  await deps.statusWriter.writeStatus("healingintents", intent, finished);
  deps.metrics.executions.inc({ action: spec.action, result: outcome.ok ? "succeeded" : "failed" });
  log.info(
    {
      intentId: record.intentId,
      policy: record.policy,
      approvers: record.approvers,
      attemptId: record.attemptId,
      outcome: outcome.ok ? "Succeeded" : "Failed",
      changedNow: outcome.changed,
      message: outcome.message,
    },
    "execution finished",
  );
  await recordEvents(deps.events, intent, [event], log);
  return undefined;
}

/**
 * Records the workload's state before the action on its RollbackPlan, creating
 * one from the policy's defaults if required. The workload is the live one the
 * execution was decided on; the revision is the Deployment's revision or the
 * current ControllerRevision's number.
 */
async function recordSnapshot(
  deps: ExecutionDeps,
  intent: HealingIntentObject,
  spec: HealingIntentSpec,
  id: string,
  workload: Workload,
  policy: { name: string; spec: ApprovalPolicySpec } | undefined,
  log: Logger,
): Promise<{ plan: string; snapshot: Snapshot; baseline: NonNullable<Snapshot["baseline"]> } | undefined> {
  const { namespace = "", name: intentName = "" } = intent.metadata ?? {};
  const target = spec.target;
  const targets = (p: ArfObject) => {
    const t = (p.spec as { target?: { kind?: string; name?: string } } | undefined)?.target;
    return t?.kind === target.kind && t?.name === target.name;
  };
  let plan = deps.rollbackPlans(namespace).find(targets);
  if (!plan && policy?.spec.requireRollbackPlan) {
    const defaults = policy.spec.rollbackPlanDefaults ?? {};
    const body = (metadata: Record<string, unknown>) => ({
      apiVersion: API_VERSION,
      kind: "RollbackPlan",
      metadata: {
        ...metadata,
        labels: { "arf.dev/created-by": "arf-operator" },
        annotations: { "arf.dev/created-for": intentName, "arf.dev/policy": policy.name },
      },
      spec: {
        target,
        ...(defaults.autoRollback ? { autoRollback: defaults.autoRollback } : {}),
        healthChecks: { workloadReady: { minAvailableRatio: 1 } },
        onFailure: defaults.onFailure ?? "rollback",
      },
    });
    const preferred = `${target.kind.toLowerCase()}-${target.name}`.slice(0, 253);
    let created = await deps.snapshotWriter.createPlan(namespace, body({ name: preferred }));
    if (!targets(created)) {
      // The name is taken by a plan for something else: never write our snapshot there.
      created = await deps.snapshotWriter.createPlan(namespace, body({ generateName: `${preferred.slice(0, 200)}-` }));
    }
    plan = created;
    log.info(
      { rollbackPlan: plan.metadata?.name, policy: policy.name },
      "created RollbackPlan from the policy's defaults",
    );
  }
  if (!plan) return undefined;
  const baseline = await measureBaseline(deps, plan, namespace, target.name);
  const snapshot: Snapshot = {
    intentName,
    intentId: id,
    takenAt: rfc3339(deps.clock.now()),
    kind: target.kind,
    name: target.name,
    revision: await currentRevision(deps.revisions, namespace, target.kind, workload),
    ...((workload.spec as { replicas?: number }).replicas !== undefined
      ? { replicas: (workload.spec as { replicas: number }).replicas }
      : {}),
    template: workload.spec?.template as Record<string, unknown>,
    ...(baseline.length > 0 ? { baseline } : {}),
  };
  const planName = plan.metadata?.name ?? "";
  // The plan's own controller writes its status too: on a conflict, read it again and retry.
  let current: ArfObject = plan;
  return retryOnConflict(async (attempt) => {
    if (attempt > 1) current = await deps.snapshotWriter.getPlan(namespace, planName);
    const status = (current.status ?? {}) as RollbackPlanStatus;
    const taken = status.snapshots?.find((s) => s.intentId === id);
    if (taken) return { plan: planName, snapshot: taken, baseline }; // resumed: already taken
    const snapshots = [...(status.snapshots ?? []), snapshot].slice(-20);
    await deps.statusWriter.writeStatus("rollbackplans", current, { ...status, snapshots });
    return { plan: planName, snapshot, baseline };
  });
}

/** An undo: the snapshot comes from the earlier action's record, where only the operator writes. */
async function restoreFromRecord(
  deps: ExecutionDeps,
  executor: NonNullable<EditionWiring["executor"]>,
  namespace: string,
  spec: HealingIntentSpec,
  desired: Desired,
) {
  const { PermanentFailure } = await import("../executor/executor.ts");
  const earlierId = desired.source ?? "";
  const earlier = (await deps.ledger.get(earlierId))?.record;
  if (!recordIsFor(earlier, namespace, spec.target) || !earlier.snapshot) {
    throw new PermanentFailure(`the record of the action to undo (${earlierId}) is missing or for another target`);
  }
  const snapshot =
    earlier.desired.type === "scale"
      ? { replicas: earlier.snapshot.replicas }
      : { template: earlier.snapshot.template };
  // Never over a change made after the plan was approved.
  const expected =
    earlier.desired.type === "scale"
      ? { ...(desired.expectedReplicas !== undefined ? { replicas: desired.expectedReplicas } : {}) }
      : { ...(desired.expectedGeneration !== undefined ? { generation: desired.expectedGeneration } : {}) };
  return executor.restore(namespace, spec.target.kind, spec.target.name, snapshot, deps.assertMayAct, expected);
}

/**
 * Opens the auto-rollback window on the target's RollbackPlan once the action
 * succeeded. One window per target: a window still watching an earlier action
 * is superseded (and says so). Idempotent: a resumed attempt finds it open.
 */
async function openWindowAfter(deps: ExecutionDeps, record: ActionRecord, log: Logger): Promise<void> {
  const planName = record.rollbackPlan;
  if (!planName) return;
  await retryOnConflict(async () => {
    const plan = await deps.snapshotWriter.getPlan(record.namespace, planName);
    const parsed = RollbackPlanSpec.safeParse(plan.spec);
    if (!parsed.success) {
      log.warn({ rollbackPlan: record.rollbackPlan }, "the RollbackPlan is invalid; no auto-rollback window opens");
      return;
    }
    const status = (plan.status ?? {}) as RollbackPlanStatus;
    if (status.window?.intentId === record.intentId) return;
    // Never replace the window of a later action (a replayed, older attempt must not unwatch it);
    // which came later is read from the ledger, not from status.
    const shown = status.window ? (await deps.ledger.get(status.window.intentId))?.record : undefined;
    if (shown?.finishedAt && record.finishedAt && new Date(shown.finishedAt) > new Date(record.finishedAt)) return;
    const t = parsed.data.target;
    if (t.kind !== record.target.kind || t.name !== record.target.name) {
      log.warn({ rollbackPlan: record.rollbackPlan }, "the RollbackPlan now names another target; no window opens");
      return;
    }
    if (status.window?.rollback?.state === "Started") {
      log.warn(
        { rollbackPlan: record.rollbackPlan },
        "an automatic undo on this target is unfinished; no new window opens",
      );
      return;
    }
    // From when the action finished, as recorded (a resumed attempt does not restart the clock), with the
    // baselines from the operator's own record (never from status).
    const finishedAt = record.finishedAt ? new Date(record.finishedAt) : deps.clock.now();
    const window = openWindow(
      parsed.data,
      { name: record.intentName, id: record.intentId },
      { baseline: record.snapshot?.baseline } as Snapshot,
      finishedAt,
    );
    if (new Date(window.endsAt) <= deps.clock.now()) return; // its time has passed already
    const previous = status.window;
    await deps.statusWriter.writeStatus("rollbackplans", plan, { ...status, window });
    log.info({ rollbackPlan: record.rollbackPlan, endsAt: window.endsAt }, "auto-rollback window opened");
    const ref = {
      kind: "RollbackPlan",
      apiVersion: API_VERSION,
      namespace: record.namespace,
      name: planName,
    };
    if (previous?.state === "Watching") {
      await deps.events
        .record(
          ref,
          "Normal",
          "WindowSuperseded",
          `the window of ${previous.intentName} closed: ${record.intentName} acted on the same target`,
        )
        .catch(() => undefined);
    }
    await deps.events
      .record(
        ref,
        "Normal",
        "WindowOpened",
        `watching ${record.target.kind.toLowerCase()}/${record.target.name} after ${record.intentName} until ${window.endsAt}`,
      )
      .catch(() => undefined);
  });
}

/** Each Prometheus check of the plan, measured now (just before the action): the window's baselines. */
async function measureBaseline(
  deps: ExecutionDeps,
  plan: ArfObject,
  namespace: string,
  name: string,
): Promise<NonNullable<Snapshot["baseline"]>> {
  const parsed = RollbackPlanSpec.safeParse(plan.spec);
  const prometheus = parsed.success ? parsed.data.healthChecks.prometheus : undefined;
  const address = prometheus?.address ?? deps.prometheusUrl;
  if (!prometheus || !deps.prometheus) return [];
  return Promise.all(
    prometheus.queries.map(async (check) => {
      if (!address) return { check: check.name, message: "no Prometheus address (plan or --prometheus-url)" };
      const answer = await deps.prometheus?.query(address, expandQuery(check.query, namespace, name));
      if (!answer?.ok)
        return { check: check.name, message: `no baseline: ${answer?.error ?? "no client"}`.slice(0, 1024) };
      return answer.value === undefined || Number.isNaN(answer.value)
        ? { check: check.name, message: "no baseline: empty result or NaN" }
        : { check: check.name, value: answer.value };
    }),
  );
}

async function currentRevision(
  revisions: RevisionReader,
  namespace: string,
  kind: string,
  workload: Workload,
): Promise<number> {
  if (kind === "Deployment") {
    return Number(workload.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? 0) || 0;
  }
  const owned = (await revisions.controllerRevisions(namespace)).filter((r) =>
    (r.metadata?.ownerReferences ?? []).some((o) => o.uid === workload.metadata?.uid && o.controller === true),
  );
  const statusRevision = kind === "StatefulSet" ? (workload as k8s.V1StatefulSet).status?.updateRevision : undefined;
  const named = owned.find((r) => r.metadata?.name === statusRevision);
  return named?.revision ?? Math.max(0, ...owned.map((r) => r.revision));
}

export function kubeSnapshotWriter(kc: k8s.KubeConfig): SnapshotWriter {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const getPlan = async (namespace: string, name: string) =>
    (await api.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: "rollbackplans",
      name,
    })) as ArfObject;
  return {
    getPlan,
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
        const name = (body as { metadata: { name?: string } }).metadata.name;
        if (error instanceof k8s.ApiException && error.code === 409 && name) {
          // Someone created it meanwhile; the caller checks that it is for the same target.
          return getPlan(namespace, name);
        }
        throw error;
      }
    },
  };
}
