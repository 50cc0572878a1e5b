// ApprovalPolicy: which HealingIntents in a namespace may run, and how.
import { z } from "zod";
import { Action, Conditions, duration, LabelSelector, WorkloadKind } from "./common.ts";
import { CRON_SYNTAX_MESSAGE, cronRuleProblems, cronValidations, isCronSyntax } from "./cron.ts";
import { AutoRollbackWindow } from "./rollbackplan.ts";

// A tz database name: segments that begin with a capital letter. This leaves out
// what Go can load but is no zone (localtime, posixrules, posix/..., right/...)
// and the fixed offsets such as +05:00 that CEL would also take.
const TIME_ZONE_RE = /^[A-Z][A-Za-z0-9_+-]*(\/[A-Z][A-Za-z0-9_+-]*)*$/;
// Names Go loads that are no zone for Node's Intl (the operator's).
const NOT_TIME_ZONES = ["Local", "Factory"];
const TIME_ZONE_MESSAGE = "must be an IANA time zone such as Europe/Berlin";

export const ExecutionMode = z.enum(["advisory", "approval", "autonomous"]);
export type ExecutionMode = z.infer<typeof ExecutionMode>;

export const FreezeWindow = z
  .strictObject({
    name: z.string().min(1).max(63).describe("A name for the window, shown in refusals."),
    schedule: z
      .string()
      .min(1)
      .max(128)
      .refine(isCronSyntax, CRON_SYNTAX_MESSAGE)
      .superRefine((text, ctx) => {
        for (const message of cronRuleProblems(text)) ctx.addIssue({ code: "custom", message });
      })
      .meta({ "x-kubernetes-validations": cronValidations() })
      .describe(
        "When the window opens, as a 5-field cron expression: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC) and day of week (0-7, 0 and 7 being Sunday, or SUN-SAT), separated by single spaces. Each field is a list of `*`, values and ranges such as 1-5, each optionally with a step such as */15; the items of a list must not overlap, and the day of month must exist in some month listed (no 30 2).",
      ),
    duration: duration("How long the window stays open after each start."),
    timeZone: z
      .string()
      .max(64)
      .regex(TIME_ZONE_RE, TIME_ZONE_MESSAGE)
      .refine((zone) => !TIME_ZONE_RE.test(zone) || isValidTimeZone(zone), TIME_ZONE_MESSAGE)
      .meta({
        "x-kubernetes-validations": [
          {
            // getHours fails for a zone the API server does not know, naming the zone.
            rule: `!self.matches(r'${TIME_ZONE_RE.source}') || (!(self in [${NOT_TIME_ZONES.map((zone) => `'${zone}'`).join(", ")}]) && timestamp('2000-01-01T00:00:00Z').getHours(self) >= 0)`,
            message: TIME_ZONE_MESSAGE,
            reason: "FieldValueInvalid",
          },
        ],
      })
      .optional()
      .describe(
        "IANA time zone of the schedule, such as Europe/Berlin, spelled as in the tz database; UTC when omitted. A zone must be known to both the API server and the operator.",
      ),
  })
  .describe("A recurring period in which no action runs.");
export type FreezeWindow = z.infer<typeof FreezeWindow>;

export const ApprovalPolicySpec = z
  .strictObject({
    selector: z
      .strictObject({
        actions: z.array(Action).max(4).optional().describe("Actions governed; all when omitted."),
        targetKinds: z.array(WorkloadKind).max(3).optional().describe("Workload kinds governed; all when omitted."),
        targetSelector: LabelSelector.optional(),
        minConfidence: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe("Intents below this confidence are not governed by this policy."),
      })
      .optional()
      .describe("Which intents in this namespace the policy governs. The most specific matching policy wins."),
    mode: ExecutionMode.describe(
      "advisory: recommend only. approval: run after enough approvers approve. autonomous: run at once, within limits.",
    ),
    approvers: z
      .strictObject({
        users: z.array(z.string().min(1).max(256)).max(32).optional().describe("Usernames allowed to approve."),
        groups: z.array(z.string().min(1).max(256)).max(32).optional().describe("Groups whose members may approve."),
      })
      .optional()
      .describe("Who may approve or reject governed intents. Required in approval mode."),
    requiredApprovals: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe("Distinct allowed approvers needed before an intent runs in approval mode."),
    approvalTTL: duration("How long an intent waits for approvals before it expires.").default("1h"),
    intentLifetime: duration(
      "How long after its creation a governed intent may still be decided and run; past it the intent ends Expired, whatever the edition, the policy or a freeze window did meanwhile.",
    ).default("1h"),
    limits: z
      .strictObject({
        maxReplicas: z.number().int().min(0).max(10000).optional().describe("Scale never goes above this count."),
        maxScaleFactor: z
          .number()
          .min(1)
          .max(100)
          .optional()
          .describe("Scale never multiplies or divides the current replica count by more than this."),
        rateLimit: z
          .strictObject({
            maxActions: z.number().int().min(1).max(1000).describe("Actions allowed per target within the window."),
            window: duration("The sliding window the count applies to."),
          })
          .optional()
          .describe("At most maxActions actions per target per window."),
        minAvailableRatio: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe("Restart and rollback are refused while fewer than this share of desired replicas is available."),
      })
      .optional()
      .describe("Safety limits checked before every action."),
    freezeWindows: z.array(FreezeWindow).max(16).optional().describe("Periods in which no action runs."),
    requireRollbackPlan: z
      .boolean()
      .default(false)
      .describe(
        "Whether an action needs a RollbackPlan for its target; one is created from rollbackPlanDefaults if missing.",
      ),
    rollbackPlanDefaults: z
      .strictObject({
        autoRollback: AutoRollbackWindow.optional(),
        onFailure: z.enum(["rollback", "alertOnly"]).optional().describe("What a created plan does on failure."),
      })
      .optional()
      .describe("Settings of RollbackPlans the operator creates when requireRollbackPlan is true and none exists."),
  })
  .superRefine((spec, ctx) => {
    const users = spec.approvers?.users?.length ?? 0;
    const groups = spec.approvers?.groups?.length ?? 0;
    if (spec.mode === "approval" && users + groups === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["approvers"],
        message: "approval mode needs at least one approver user or group",
      });
    }
    if (spec.approvers && groups === 0 && users < (spec.requiredApprovals ?? 1)) {
      ctx.addIssue({
        code: "custom",
        path: ["requiredApprovals"],
        message: "requiredApprovals must not exceed the number of approver users",
      });
    }
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: "self.mode != 'approval' || (has(self.approvers) && ((has(self.approvers.users) && self.approvers.users.size() > 0) || (has(self.approvers.groups) && self.approvers.groups.size() > 0)))",
        message: "approval mode needs at least one approver user or group",
        fieldPath: ".approvers",
        reason: "FieldValueRequired",
      },
      {
        rule: "!has(self.approvers) || (has(self.approvers.groups) && self.approvers.groups.size() > 0) || (has(self.approvers.users) ? self.approvers.users.size() : 0) >= self.requiredApprovals",
        message: "requiredApprovals must not exceed the number of approver users",
        fieldPath: ".requiredApprovals",
        reason: "FieldValueInvalid",
      },
    ],
  })
  .describe("The policy.");
export type ApprovalPolicySpec = z.infer<typeof ApprovalPolicySpec>;

export const ApprovalPolicyStatus = z
  .strictObject({
    observedGeneration: z.number().int().min(0).optional().describe("The generation this status describes."),
    conditions: Conditions.optional(),
  })
  .describe("Observed state, written only by the operator.");

function isValidTimeZone(zone: string): boolean {
  if (NOT_TIME_ZONES.includes(zone)) return false;
  try {
    // Intl ignores case and Go does not: refuse a spelling other than the zone's own.
    const resolved = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
    return resolved === zone || resolved.toLowerCase() !== zone.toLowerCase();
  } catch {
    return false;
  }
}
