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
    query: z.string().min(1).max(4096).describe("A PromQL instant query that returns one sample."),
    operator: z
      .enum(["LessThan", "LessThanOrEqual", "GreaterThan", "GreaterThanOrEqual"])
      .describe("The check passes when value <operator> threshold."),
    threshold: z.number().describe("The value the sample is compared with."),
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
      .describe("Consecutive inconclusive checks tolerated before the window counts as failed; 0 means unlimited."),
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
  })
  .describe("The workload's state before an action.");
export type Snapshot = z.infer<typeof Snapshot>;

export const CheckResult = z.strictObject({
  name: z.string().max(63).describe("The check."),
  verdict: z.enum(["Pass", "Fail", "Inconclusive", "Error"]).describe("Its outcome."),
  value: z.number().optional().describe("The observed value, when there was one."),
  message: z.string().max(1024).optional().describe("Detail."),
});

export const RollbackPlanStatus = z
  .strictObject({
    observedGeneration: z.number().int().min(0).optional().describe("The generation this status describes."),
    conditions: Conditions.optional(),
    snapshots: z.array(Snapshot).max(20).optional().describe("Snapshots taken before actions, newest last."),
    window: z
      .strictObject({
        state: z.enum(["Watching", "Passed", "Failed", "RolledBack", "AlertOnly"]).describe("Where the window is."),
        intentName: z.string().max(253).describe("The intent whose action is watched."),
        startedAt: timestamp("When the window opened."),
        endsAt: timestamp("When it closes if nothing fails."),
        consecutiveFailures: z.number().int().min(0).describe("Failed checks in a row."),
        consecutiveInconclusive: z.number().int().min(0).describe("Inconclusive checks in a row."),
        lastCheckedAt: timestamp("The last check.").optional(),
        lastResults: z.array(CheckResult).max(32).optional().describe("Results of the last check."),
      })
      .optional()
      .describe("The current or last auto-rollback window."),
  })
  .describe("Observed state, written only by the operator.");
export type RollbackPlanStatus = z.infer<typeof RollbackPlanStatus>;
