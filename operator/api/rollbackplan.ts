// RollbackPlan: how to revert an action on a workload, and the window after an
// action in which health is watched and the action undone if it gets worse.
import { z } from "zod";
import { GO_DURATION_PATTERN, parseDuration } from "../lib/duration.ts";
import { Conditions, duration, timestamp, WorkloadRef } from "./common.ts";

export const PrometheusCheck = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      .describe("Name of the check, shown in status and metrics."),
    query: z
      .string()
      .min(1)
      .max(4096)
      .describe(
        "A PromQL instant query that returns one sample. $namespace and $name are replaced by the target's namespace and name.",
      ),
    operator: z
      .enum(["LessThan", "LessThanOrEqual", "GreaterThan", "GreaterThanOrEqual"])
      .describe("The check passes when value <operator> threshold."),
    threshold: z.number().describe("The value the sample is compared with."),
    maxIncreaseFactor: z
      .number()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        "Also fail when the value exceeds this factor times its baseline, measured just before the action (for example 1.5: no more than 1.5x what it was before). Catches a degradation an absolute threshold would miss.",
      ),
    onEmpty: z
      .enum(["Inconclusive", "Fail", "Pass"])
      .default("Inconclusive")
      .describe("How an empty or NaN result counts. Inconclusive neither passes nor fails the check."),
  })
  .describe("A health check against Prometheus.");
export type PrometheusCheck = z.infer<typeof PrometheusCheck>;

export const AutoRollbackWindow = z
  .strictObject({
    duration: duration("How long health is watched after an action.").default("10m"),
    checkInterval: duration("How often health is checked in the window.").default("30s"),
    failureLimit: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe("Consecutive failed checks that trigger onFailure."),
    inconclusiveLimit: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(3)
      .describe(
        "Consecutive inconclusive rounds (empty or NaN results, a rollout still in progress) after which the window ends Inconclusive, without a rollback; 0 means unlimited.",
      ),
    errorLimit: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(5)
      .describe(
        "Consecutive rounds in which a check could not be measured (Prometheus unreachable or erroring) after which the window ends Inconclusive (onOutage EndInconclusive). An outage alone never causes a rollback.",
      ),
    onOutage: z
      .enum(["EndInconclusive", "Extend"])
      .default("EndInconclusive")
      .describe(
        "What a Prometheus outage does to the window: EndInconclusive ends it after errorLimit rounds; Extend keeps watching and moves its end by one interval per unmeasured round, up to twice its duration, and ends Inconclusive if it still cannot measure at the end.",
      ),
  })
  .superRefine((window, ctx) => {
    // A malformed duration is reported at its own field, here as by the CRD's rule.
    const interval = parseDuration(window.checkInterval ?? "30s");
    const total = parseDuration(window.duration ?? "10m");
    if (interval !== undefined && total !== undefined && interval >= total) {
      ctx.addIssue({ code: "custom", path: ["checkInterval"], message: "checkInterval must be shorter than duration" });
    }
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: `!self.checkInterval.matches(r'${GO_DURATION_PATTERN}') || !self.duration.matches(r'${GO_DURATION_PATTERN}') || duration(self.checkInterval) < duration(self.duration)`,
        message: "checkInterval must be shorter than duration",
        fieldPath: ".checkInterval",
        reason: "FieldValueInvalid",
      },
    ],
  })
  .describe("The auto-rollback window.");
export type AutoRollbackWindow = z.infer<typeof AutoRollbackWindow>;

export const RollbackPlanSpec = z
  .strictObject({
    target: WorkloadRef,
    autoRollback: AutoRollbackWindow.default({
      duration: "10m",
      checkInterval: "30s",
      failureLimit: 1,
      inconclusiveLimit: 3,
      errorLimit: 5,
      onOutage: "EndInconclusive",
    }),
    healthChecks: z
      .strictObject({
        workloadReady: z
          .strictObject({
            minAvailableRatio: z
              .number()
              .min(0)
              .max(1)
              .default(1)
              .describe("Share of desired replicas that must be available for the check to pass."),
          })
          .optional()
          .describe("Checks the workload's available replicas."),
        prometheus: z
          .strictObject({
            address: z
              .url()
              .max(512)
              .optional()
              .describe("Base URL of the Prometheus server; the operator's --prometheus-url when omitted."),
            queries: z.array(PrometheusCheck).min(1).max(16).describe("Queries that must all pass."),
          })
          .optional()
          .describe("Checks against Prometheus."),
      })
      .refine((checks) => checks.workloadReady !== undefined || checks.prometheus !== undefined, {
        message: "at least one of workloadReady or prometheus is required",
      })
      .meta({
        "x-kubernetes-validations": [
          {
            rule: "has(self.workloadReady) || has(self.prometheus)",
            message: "at least one of workloadReady or prometheus is required",
            reason: "FieldValueRequired",
          },
        ],
      })
      .describe("What healthy means for the target."),
    onFailure: z
      .enum(["rollback", "alertOnly"])
      .default("rollback")
      .describe("rollback: revert the action automatically. alertOnly: report, and leave the workload alone."),
  })
  .describe("The plan.");
export type RollbackPlanSpec = z.infer<typeof RollbackPlanSpec>;

export const Snapshot = z
  .strictObject({
    intentName: z.string().max(253).describe("The HealingIntent whose action this snapshot precedes."),
    intentId: z.string().max(128).describe("The intent's deterministic id."),
    takenAt: timestamp("When the snapshot was taken."),
    kind: z.string().max(64).describe("Kind of the workload."),
    name: z.string().max(253).describe("Name of the workload."),
    revision: z.number().int().min(0).optional().describe("The workload's revision before the action."),
    replicas: z.number().int().min(0).optional().describe("The desired replicas before the action."),
    template: z.object({}).loose().optional().describe("The pod template before the action."),
    baseline: z
      .array(
        z.strictObject({
          check: z.string().max(63).describe("The Prometheus check."),
          value: z.number().optional().describe("Its value just before the action; absent when there was none."),
          message: z.string().max(1024).optional().describe("Why there was no value."),
        }),
      )
      .max(16)
      .optional()
      .describe("Each Prometheus check measured just before the action, for comparisons with what came after."),
  })
  .describe("The workload's state before an action.");
export type Snapshot = z.infer<typeof Snapshot>;

export const MeasurementResult = z.enum(["Successful", "Failed", "Inconclusive", "Error"]);
export type MeasurementResult = z.infer<typeof MeasurementResult>;

export const Measurement = z.strictObject({
  at: timestamp("When it was measured."),
  result: MeasurementResult.describe(
    "Successful, Failed, Inconclusive (no data, still rolling out) or Error (not measurable).",
  ),
  value: z.number().optional().describe("The measured value, when there was one."),
  message: z.string().max(1024).optional().describe("What was measured against what."),
});
export type Measurement = z.infer<typeof Measurement>;

export const CheckRecord = z.strictObject({
  name: z.string().max(63).describe("The check: workload-ready, or a Prometheus check's name."),
  threshold: z.number().optional().describe("The absolute threshold, for a Prometheus check."),
  baseline: z.number().optional().describe("The value measured just before the action, when there was one."),
  counts: z
    .strictObject({
      successful: z.number().int().min(0).describe("Measurements that passed."),
      failed: z.number().int().min(0).describe("Measurements that failed."),
      inconclusive: z.number().int().min(0).describe("Measurements without data (empty, NaN, still rolling out)."),
      error: z
        .number()
        .int()
        .min(0)
        .describe("Measurements that could not be taken (Prometheus unreachable or erroring)."),
    })
    .describe("Measurements of each result over the whole window."),
  measurements: z.array(Measurement).max(10).describe("The newest measurements, oldest first."),
});
export type CheckRecord = z.infer<typeof CheckRecord>;

export const WindowState = z.enum(["Watching", "Passed", "RolledBack", "AlertOnly", "Inconclusive", "Superseded"]);
export type WindowState = z.infer<typeof WindowState>;

export const RollbackWindow = z
  .strictObject({
    state: WindowState.describe(
      "Watching; or how it ended: Passed, RolledBack, AlertOnly (failed, onFailure alertOnly), Inconclusive (no verdict: no data or no Prometheus), Superseded (a newer action on the target).",
    ),
    intentName: z.string().max(253).describe("The intent whose action is watched."),
    intentId: z.string().max(128).describe("Its deterministic id."),
    startedAt: timestamp("When the window opened (the action succeeded)."),
    endsAt: timestamp("When it closes Passed if nothing fails; never moves."),
    nextCheckAt: timestamp("When the next round of checks is due.").optional(),
    rounds: z.number().int().min(0).describe("Rounds of checks so far."),
    consecutiveFailures: z.number().int().min(0).describe("Failed rounds in a row."),
    consecutiveInconclusive: z.number().int().min(0).describe("Inconclusive rounds in a row."),
    consecutiveErrors: z.number().int().min(0).describe("Rounds in a row in which a check could not be measured."),
    checks: z.array(CheckRecord).max(17).describe("Each check's baseline, counters and newest measurements."),
    verdict: z
      .strictObject({
        reason: z.string().max(128).describe("A CamelCase reason."),
        message: z.string().max(2048).describe("Which check, its value and threshold caused the verdict."),
        at: timestamp("When the verdict was reached."),
      })
      .optional()
      .describe("Why the window ended."),
    rollback: z
      .strictObject({
        record: z.string().max(253).describe("The operator's record of the undo (at most once)."),
        state: z.enum(["Started", "Succeeded", "Failed"]).describe("Where the undo is."),
        message: z.string().max(2048).optional().describe("What happened."),
        reactionSeconds: z
          .number()
          .min(0)
          .optional()
          .describe("From the measurement that reached the failure limit to the undo's write."),
      })
      .optional()
      .describe("The automatic undo, when the window failed with onFailure rollback."),
  })
  .describe("The auto-rollback window of the latest action on the target.");
export type RollbackWindow = z.infer<typeof RollbackWindow>;

export const RollbackPlanStatus = z
  .strictObject({
    observedGeneration: z.number().int().min(0).optional().describe("The generation this status describes."),
    conditions: Conditions.optional(),
    snapshots: z.array(Snapshot).max(20).optional().describe("Snapshots taken before actions, newest last."),
    window: RollbackWindow.optional(),
  })
  .describe("Observed state, written only by the operator.");
export type RollbackPlanStatus = z.infer<typeof RollbackPlanStatus>;
