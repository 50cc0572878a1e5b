// The auto-rollback window as pure functions of what was measured and an
// injected clock: opening a window after an action, judging each measurement,
// folding a round of measurements into the window, and the verdict. The
// window controller gathers the measurements and performs the verdict.
//
// A round is Failed if any check failed, else Error if any check could not be
// measured, else Inconclusive if any had no data, else Successful. Consecutive
// failed rounds reaching failureLimit fail the window; consecutive errors
// reaching errorLimit, or inconclusive rounds reaching inconclusiveLimit, end
// it Inconclusive: an outage or missing data alone never causes a rollback.
import type * as k8s from "@kubernetes/client-node";
import type {
  AutoRollbackWindow,
  CheckRecord,
  Measurement,
  MeasurementResult,
  PrometheusCheck,
  RollbackPlanSpec,
  RollbackWindow,
  Snapshot,
} from "../api/index.ts";
import { parseDuration } from "../lib/duration.ts";
import { rfc3339 } from "../lib/time.ts";

export const WORKLOAD_CHECK = "workload-ready";
const KEEP_MEASUREMENTS = 10;

export type Verdict =
  | { kind: "continue"; nextCheckAt: Date }
  | { kind: "rollback" | "alert"; reason: string; message: string }
  | { kind: "pass" | "inconclusive"; reason: string; message: string };

/** One check's measurement in one round. */
export interface CheckMeasurement {
  check: string;
  result: MeasurementResult;
  /** Inconclusive only because the rollout is still settling: neutral, it does not count toward inconclusiveLimit. */
  settling?: boolean;
  value?: number;
  threshold?: number;
  message: string;
}

const ms = (text: string | undefined, fallback: number) => (text ? (parseDuration(text) ?? fallback) : fallback);

export function windowSettings(spec: RollbackPlanSpec) {
  const w: AutoRollbackWindow = spec.autoRollback;
  return {
    durationMs: ms(w.duration, 600_000),
    intervalMs: ms(w.checkInterval, 30_000),
    failureLimit: w.failureLimit ?? 1,
    inconclusiveLimit: w.inconclusiveLimit ?? 3,
    errorLimit: w.errorLimit ?? 5,
    extendOnOutage: w.onOutage === "Extend",
  };
}

/** The names of the checks a plan defines, in order. */
export function checkNames(spec: RollbackPlanSpec): string[] {
  return [
    ...(spec.healthChecks.workloadReady ? [WORKLOAD_CHECK] : []),
    ...(spec.healthChecks.prometheus?.queries ?? []).map((q) => q.name),
  ];
}

/** Opens a window when an action succeeded; baselines come from the snapshot taken just before it. */
export function openWindow(
  spec: RollbackPlanSpec,
  intent: { name: string; id: string },
  snapshot: Snapshot | undefined,
  now: Date,
): RollbackWindow {
  const { durationMs, intervalMs } = windowSettings(spec);
  const baselines = new Map((snapshot?.baseline ?? []).map((b) => [b.check, b.value]));
  const thresholds = new Map((spec.healthChecks.prometheus?.queries ?? []).map((q) => [q.name, q.threshold]));
  return {
    state: "Watching",
    intentName: intent.name,
    intentId: intent.id,
    startedAt: rfc3339(now),
    endsAt: rfc3339(new Date(now.getTime() + durationMs)),
    nextCheckAt: rfc3339(new Date(now.getTime() + Math.min(intervalMs, 1000))),
    rounds: 0,
    consecutiveFailures: 0,
    consecutiveInconclusive: 0,
    consecutiveErrors: 0,
    checks: checkNames(spec).map((name) => {
      const baseline = baselines.get(name);
      const threshold = thresholds.get(name);
      return {
        name,
        ...(threshold !== undefined ? { threshold } : {}),
        ...(baseline !== undefined ? { baseline } : {}),
        counts: { successful: 0, failed: 0, inconclusive: 0, error: 0 },
        measurements: [],
      };
    }),
  };
}

const compare: Record<PrometheusCheck["operator"], (value: number, threshold: number) => boolean> = {
  LessThan: (v, t) => v < t,
  LessThanOrEqual: (v, t) => v <= t,
  GreaterThan: (v, t) => v > t,
  GreaterThanOrEqual: (v, t) => v >= t,
};
const SYMBOL: Record<PrometheusCheck["operator"], string> = {
  LessThan: "<",
  LessThanOrEqual: "<=",
  GreaterThan: ">",
  GreaterThanOrEqual: ">=",
};

/** What a Prometheus answer means for one check. */
export type QueryAnswer = { ok: true; value: number | undefined } | { ok: false; error: string };

export function judgePrometheus(
  check: PrometheusCheck,
  answer: QueryAnswer,
  baseline: number | undefined,
): CheckMeasurement {
  const base = { check: check.name, threshold: check.threshold };
  if (!answer.ok) return { ...base, result: "Error", message: `could not query Prometheus: ${answer.error}` };
  const value = answer.value;
  if (value === undefined || Number.isNaN(value)) {
    const result: MeasurementResult =
      check.onEmpty === "Fail" ? "Failed" : check.onEmpty === "Pass" ? "Successful" : "Inconclusive";
    return {
      ...base,
      result,
      message: `no value (${value === undefined ? "empty result" : "NaN"}); counts as ${result}`,
    };
  }
  const holds = compare[check.operator](value, check.threshold);
  const wanted = `${SYMBOL[check.operator]} ${check.threshold}`;
  if (!holds) {
    // Already this bad before the action (the incident it answers): not worse unless past the factor.
    const badBefore = baseline !== undefined && !compare[check.operator](baseline, check.threshold);
    const pastFactor =
      check.maxIncreaseFactor !== undefined && baseline !== undefined && value > baseline * check.maxIncreaseFactor;
    if (badBefore && !pastFactor) {
      return {
        ...base,
        value,
        result: "Inconclusive",
        message: `${check.name} = ${value}, wanted ${wanted}, but it was ${baseline} before the action: not worse`,
      };
    }
    return { ...base, value, result: "Failed", message: `${check.name} = ${value}, wanted ${wanted}` };
  }
  if (check.maxIncreaseFactor !== undefined && baseline !== undefined) {
    const limit = baseline * check.maxIncreaseFactor;
    if (value > limit) {
      return {
        ...base,
        value,
        result: "Failed",
        message: `${check.name} = ${value}, more than ${check.maxIncreaseFactor}x its baseline ${baseline} before the action (limit ${limit}); got worse`,
      };
    }
  }
  return { ...base, value, result: "Successful", message: `${check.name} = ${value} (${wanted})` };
}

/** The workload's health from the API: stuck, rolling out, or available enough. */
export function judgeWorkload(
  kind: string,
  workload: k8s.V1Deployment | k8s.V1StatefulSet | k8s.V1DaemonSet | undefined,
  minAvailableRatio: number,
  /** Time since the action: new pods get SETTLE_MS to become available. */
  sinceActionMs = Number.POSITIVE_INFINITY,
): CheckMeasurement {
  const base = { check: WORKLOAD_CHECK, threshold: minAvailableRatio };
  if (!workload) return { ...base, result: "Failed", message: `the ${kind} is gone` };
  const conditions = (workload.status as { conditions?: k8s.V1DeploymentCondition[] } | undefined)?.conditions ?? [];
  const progressing = conditions.find((c) => c.type === "Progressing");
  if (progressing?.status === "False" && progressing.reason === "ProgressDeadlineExceeded") {
    return {
      ...base,
      result: "Failed",
      message: `rollout is stuck: ${progressing.message ?? "progress deadline exceeded"}`,
    };
  }
  let desired: number;
  let ready: number;
  if (kind === "DaemonSet") {
    const status = (workload as k8s.V1DaemonSet).status;
    desired = status?.desiredNumberScheduled ?? 0;
    ready = status?.numberAvailable ?? 0;
  } else {
    desired = (workload.spec as { replicas?: number } | undefined)?.replicas ?? 1;
    const status = workload.status as { availableReplicas?: number; readyReplicas?: number } | undefined;
    ready =
      kind === "StatefulSet"
        ? (status?.availableReplicas ?? status?.readyReplicas ?? 0)
        : (status?.availableReplicas ?? 0);
  }
  const ratio = desired === 0 ? 1 : ready / desired;
  const value = Math.round(ratio * 1000) / 1000;
  if (ratio >= minAvailableRatio) {
    return { ...base, value, result: "Successful", message: `${ready}/${desired} available (>= ${minAvailableRatio})` };
  }
  const deadlineMs =
    ((workload.spec as { progressDeadlineSeconds?: number } | undefined)?.progressDeadlineSeconds ?? 600) * 1000;
  const rollingOut =
    isRollingOut(kind, workload) ||
    (kind === "Deployment" && progressing?.status === "True" && progressing.reason !== "NewReplicaSetAvailable") ||
    sinceActionMs < deadlineMs;
  return {
    ...base,
    value,
    result: rollingOut ? "Inconclusive" : "Failed",
    ...(rollingOut ? { settling: true } : {}),
    message: `${ready}/${desired} available (< ${minAvailableRatio})${rollingOut ? ", still rolling out" : ""}`,
  };
}

/**
 * Whether the workload's controller is still rolling it out, so too few
 * available replicas are expected for now (Inconclusive, not Failed): its
 * spec is not observed yet, or not all pods are updated. A rollout stuck past
 * a Deployment's progress deadline is caught by the Progressing condition.
 */
function isRollingOut(kind: string, workload: k8s.V1Deployment | k8s.V1StatefulSet | k8s.V1DaemonSet) {
  const generation = workload.metadata?.generation ?? 0;
  const status = (workload.status ?? {}) as {
    observedGeneration?: number;
    updatedReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    updatedNumberScheduled?: number;
    desiredNumberScheduled?: number;
  };
  if ((status.observedGeneration ?? 0) < generation) return true;
  if (kind === "DaemonSet") return (status.updatedNumberScheduled ?? 0) < (status.desiredNumberScheduled ?? 0);
  const replicas = (workload.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  if ((status.updatedReplicas ?? 0) < replicas) return true;
  return kind === "StatefulSet" && status.currentRevision !== status.updateRevision;
}

function roundResult(measurements: CheckMeasurement[]): MeasurementResult {
  const results = new Set(measurements.map((m) => m.result));
  if (results.has("Failed")) return "Failed";
  if (results.has("Error")) return "Error";
  if (results.has("Inconclusive")) return "Inconclusive";
  return "Successful";
}

const COUNT_KEY: Record<MeasurementResult, keyof CheckRecord["counts"]> = {
  Successful: "successful",
  Failed: "failed",
  Inconclusive: "inconclusive",
  Error: "error",
};

/** Folds one round of measurements into the window and says what follows. */
export function applyRound(
  window: RollbackWindow,
  spec: RollbackPlanSpec,
  measurements: CheckMeasurement[],
  now: Date,
): { window: RollbackWindow; verdict: Verdict } {
  const settings = windowSettings(spec);
  const at = rfc3339(now);
  const next = structuredClone(window);
  next.rounds += 1;
  for (const m of measurements) {
    const record = next.checks.find((c) => c.name === m.check);
    if (!record) continue;
    record.counts[COUNT_KEY[m.result]] += 1;
    const measurement: Measurement = { at, result: m.result, message: m.message.slice(0, 1024) };
    if (m.value !== undefined && Number.isFinite(m.value)) measurement.value = m.value;
    record.measurements = [...record.measurements, measurement].slice(-KEEP_MEASUREMENTS);
  }
  const round = roundResult(measurements);
  // A round whose only lack of data is a rollout still settling neither counts nor resets the inconclusive run.
  const onlySettling =
    round === "Inconclusive" &&
    measurements.every((m) => m.result === "Successful" || (m.result === "Inconclusive" && m.settling));
  next.consecutiveFailures = round === "Failed" ? next.consecutiveFailures + 1 : 0;
  next.consecutiveErrors = round === "Error" ? next.consecutiveErrors + 1 : 0;
  if (!onlySettling) next.consecutiveInconclusive = round === "Inconclusive" ? next.consecutiveInconclusive + 1 : 0;
  const late = now.getTime() > new Date(next.endsAt).getTime() + settings.intervalMs;
  const culprit = (result: MeasurementResult) =>
    measurements
      .filter((m) => m.result === result)
      .map((m) => m.message)
      .join("; ");

  let verdict: Verdict;
  if (late) {
    // Nobody watched in time (the operator was down, no leader, no license): never act on a late look.
    verdict = {
      kind: "inconclusive",
      reason: "WindowMissed",
      message: `the window ended at ${next.endsAt} before this round (${rfc3339(now)}) could run; no verdict`,
    };
  } else if (next.consecutiveFailures >= settings.failureLimit) {
    const message = `${next.consecutiveFailures} failed round(s) in a row (failureLimit ${settings.failureLimit}): ${culprit("Failed")}`;
    verdict =
      spec.onFailure === "alertOnly"
        ? { kind: "alert", reason: "HealthGotWorse", message }
        : { kind: "rollback", reason: "HealthGotWorse", message };
  } else if (!settings.extendOnOutage && next.consecutiveErrors >= settings.errorLimit) {
    verdict = {
      kind: "inconclusive",
      reason: "ChecksUnavailable",
      message: `${next.consecutiveErrors} round(s) in a row could not be measured (errorLimit ${settings.errorLimit}); no rollback on an outage alone: ${culprit("Error")}`,
    };
  } else if (settings.inconclusiveLimit > 0 && next.consecutiveInconclusive >= settings.inconclusiveLimit) {
    verdict = {
      kind: "inconclusive",
      reason: "NoData",
      message: `${next.consecutiveInconclusive} inconclusive round(s) in a row (inconclusiveLimit ${settings.inconclusiveLimit}): ${culprit("Inconclusive")}`,
    };
  } else if (now.getTime() >= new Date(next.endsAt).getTime() && next.consecutiveErrors > 0) {
    verdict = {
      kind: "inconclusive",
      reason: "ChecksUnavailable",
      message: `the window ended while its checks could not be measured (${next.consecutiveErrors} round(s) in a row); no verdict: ${culprit("Error")}`,
    };
  } else if (now.getTime() >= new Date(next.endsAt).getTime()) {
    verdict = {
      kind: "pass",
      reason: "WindowPassed",
      message: `no failure limit reached in ${next.rounds} round(s) from ${next.startedAt} to ${next.endsAt}`,
    };
  } else {
    // The schedule is fixed from the start: a restart or a slow round never shifts it.
    const start = new Date(next.startedAt).getTime();
    const due = start + Math.ceil((now.getTime() - start + 1) / settings.intervalMs) * settings.intervalMs;
    verdict = { kind: "continue", nextCheckAt: new Date(Math.min(due, new Date(next.endsAt).getTime())) };
  }
  if (verdict.kind === "continue") {
    next.nextCheckAt = rfc3339(verdict.nextCheckAt);
  } else {
    delete next.nextCheckAt;
    next.state =
      verdict.kind === "rollback"
        ? "RolledBack"
        : verdict.kind === "alert"
          ? "AlertOnly"
          : verdict.kind === "pass"
            ? "Passed"
            : "Inconclusive";
    next.verdict = { reason: verdict.reason, message: verdict.message.slice(0, 2048), at };
  }
  return { window: next, verdict };
}

/**
 * When a window ends: its duration after the action finished, extended (with
 * onOutage Extend) by one interval per round that could not be measured, up to
 * twice its duration.
 */
export function windowEnd(spec: RollbackPlanSpec, finishedAt: Date, window: RollbackWindow | undefined): Date {
  const { durationMs, intervalMs, extendOnOutage } = windowSettings(spec);
  const unmeasured = extendOnOutage ? Math.max(0, ...(window?.checks ?? []).map((c) => c.counts.error)) : 0;
  return new Date(finishedAt.getTime() + durationMs + Math.min(durationMs, unmeasured * intervalMs));
}

/** Replaces $namespace and $name in a query. */
export function expandQuery(query: string, namespace: string, name: string): string {
  return query.replaceAll("$namespace", namespace).replaceAll("$name", name);
}
