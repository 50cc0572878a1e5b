// HealingIntent: a proposed rollback, restart or scale of one workload.
// The spec belongs to whoever proposed it (and to approvers, who append to
// spec.approvals); the operator writes only status.
import { z } from "zod";
import { Action, Conditions, duration, objectName, timestamp, WorkloadRef } from "./common.ts";

/** A plan digest: "sha256:" and 64 hex digits. */
export const PLAN_DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export const Approval = z
  .strictObject({
    user: z
      .string()
      .min(1)
      .max(256)
      .describe("The approver's Kubernetes username. Admission checks it is the user who made the request."),
    decision: z.enum(["approve", "reject"]).describe("approve or reject."),
    groups: z
      .array(z.string().min(1).max(256))
      .max(32)
      .optional()
      .describe(
        "The approver's groups. Admission checks they are exactly the groups of the user who made the request.",
      ),
    comment: z.string().max(1024).optional().describe("Why the approver decided so."),
    planDigest: z
      .string()
      .max(71)
      .regex(PLAN_DIGEST_PATTERN)
      .optional()
      .describe(
        "The status.recommendation.digest the approver saw. An approval counts only while it names the current plan; `kubectl arf approve` records it.",
      ),
    at: timestamp("When the decision was made, as claimed by the client.").optional(),
  })
  .describe("One approver's decision.");
export type Approval = z.infer<typeof Approval>;

export const HealingIntentParameters = z
  .strictObject({
    replicas: z
      .number()
      .int()
      .min(0)
      .max(10000)
      .optional()
      .describe("Desired replica count. Required when action is scale, forbidden otherwise."),
    revision: z
      .number()
      .int()
      .min(1)
      .max(2147483647)
      .optional()
      .describe("Revision to roll back to. Only for rollback; when omitted, the previous revision."),
    intent: objectName(
      "The earlier HealingIntent whose action to undo, in this namespace. Required when action is undo, forbidden otherwise: its pre-action snapshot is restored.",
    ).optional(),
  })
  .describe("Parameters of the action.");

export const HealingIntentSource = z
  .strictObject({
    type: z
      .enum(["agent", "alert", "human"])
      .describe("What kind of proposer: an AI agent, an alerting pipeline or a person."),
    name: z.string().min(1).max(253).describe("Which agent, alert rule or person proposed the action."),
  })
  .describe("Who or what proposed the action.");

export const HealingIntentSpec = z
  .strictObject({
    action: Action.describe("The remediation to perform: rollback, restart or scale."),
    target: WorkloadRef,
    parameters: HealingIntentParameters.optional(),
    justification: z.string().min(1).max(4096).describe("Why the action should help, in words a reviewer can check."),
    confidence: z.number().min(0).max(1).describe("The proposer's confidence that the action helps, from 0 to 1."),
    incidentId: z
      .string()
      .min(1)
      .max(128)
      .describe("Identifier of the incident in the incident tracker or alert pipeline."),
    detectedAt: timestamp("When the problem was detected."),
    source: HealingIntentSource,
    expiresAfter: duration(
      "How long after creation the intent may still run; the governing policy's intentLifetime applies when it is shorter or this is omitted.",
    ).optional(),
    requestedBy: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe("Username of the requester. Set at creation and immutable; admission checks it is the creating user."),
    approvals: z
      .array(Approval)
      .max(16)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["user"] })
      .describe(
        "Decisions of approvers, one per user, append-only. Add one with `kubectl arf approve NAME`; a GitOps sync that does not own this list leaves it alone.",
      ),
  })
  .superRefine((spec, ctx) => {
    const replicas = spec.parameters?.replicas;
    if (spec.action === "scale" && replicas === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["parameters", "replicas"],
        message: "replicas is required when action is scale",
      });
    }
    if (spec.action !== "scale" && replicas !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["parameters", "replicas"],
        message: "replicas is only allowed when action is scale",
      });
    }
    const seen = new Set<string>();
    spec.approvals?.forEach((approval, index) => {
      if (seen.has(approval.user)) {
        ctx.addIssue({ code: "custom", path: ["approvals", index], message: `duplicate approval by ${approval.user}` });
      }
      seen.add(approval.user);
    });
    if (spec.action === "undo" && spec.parameters?.intent === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["parameters", "intent"],
        message: "intent is required when action is undo",
      });
    }
    if (spec.action !== "undo" && spec.parameters?.intent !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["parameters", "intent"],
        message: "intent is only allowed when action is undo",
      });
    }
    if (spec.action !== "rollback" && spec.parameters?.revision !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["parameters", "revision"],
        message: "revision is only allowed when action is rollback",
      });
    }
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: "self.action != 'scale' || (has(self.parameters) && has(self.parameters.replicas))",
        message: "replicas is required when action is scale",
        fieldPath: ".parameters.replicas",
        reason: "FieldValueRequired",
      },
      {
        rule: "self.action == 'scale' || !has(self.parameters) || !has(self.parameters.replicas)",
        message: "replicas is only allowed when action is scale",
        fieldPath: ".parameters.replicas",
        reason: "FieldValueForbidden",
      },
      {
        rule: "self.action != 'undo' || (has(self.parameters) && has(self.parameters.intent))",
        message: "intent is required when action is undo",
        fieldPath: ".parameters.intent",
        reason: "FieldValueRequired",
      },
      {
        rule: "self.action == 'undo' || !has(self.parameters) || !has(self.parameters.intent)",
        message: "intent is only allowed when action is undo",
        fieldPath: ".parameters.intent",
        reason: "FieldValueForbidden",
      },
      {
        rule: "self.action == 'rollback' || !has(self.parameters) || !has(self.parameters.revision)",
        message: "revision is only allowed when action is rollback",
        fieldPath: ".parameters.revision",
        reason: "FieldValueForbidden",
      },
      // What was approved must be what runs: the proposal is immutable.
      {
        rule: "self.action == oldSelf.action && self.target == oldSelf.target",
        message: "action and target are immutable; create a new HealingIntent instead",
        fieldPath: ".action",
      },
      {
        rule: "has(self.parameters) == has(oldSelf.parameters) && (!has(self.parameters) || self.parameters == oldSelf.parameters)",
        message: "parameters are immutable; create a new HealingIntent instead",
        fieldPath: ".parameters",
      },
      {
        rule: "self.confidence == oldSelf.confidence && self.incidentId == oldSelf.incidentId && self.detectedAt == oldSelf.detectedAt && self.source == oldSelf.source && self.justification == oldSelf.justification",
        message:
          "the proposal (confidence, incidentId, detectedAt, source, justification) is immutable; create a new HealingIntent instead",
        fieldPath: ".confidence",
      },
      {
        rule: "has(self.expiresAfter) == has(oldSelf.expiresAfter) && (!has(self.expiresAfter) || self.expiresAfter == oldSelf.expiresAfter)",
        message: "expiresAfter is immutable",
        fieldPath: ".expiresAfter",
      },
      {
        rule: "has(self.requestedBy) == has(oldSelf.requestedBy) && (!has(self.requestedBy) || self.requestedBy == oldSelf.requestedBy)",
        message: "requestedBy is set at creation and immutable",
        fieldPath: ".requestedBy",
      },
      // An approver may renew their own approval for a new plan (admission checks it is theirs);
      // nobody removes a decision, and a rejection is final.
      {
        rule: "!has(oldSelf.approvals) || (has(self.approvals) && oldSelf.approvals.all(o, self.approvals.exists(n, n.user == o.user && (o.decision == 'approve' || n.decision == 'reject'))))",
        message: "approvals cannot be removed, and a rejection cannot be changed",
        fieldPath: ".approvals",
      },
    ],
  })
  .describe("The proposed action. Owned by the proposer; the operator never writes it.");
export type HealingIntentSpec = z.infer<typeof HealingIntentSpec>;

export const IntentPhase = z.enum([
  "Pending",
  "Invalid",
  "Duplicate",
  "Advisory",
  "AwaitingApproval",
  "Approved",
  "Rejected",
  "Refused",
  "Expired",
  "Executing",
  "Succeeded",
  "Failed",
  "RolledBack",
]);
export type IntentPhase = z.infer<typeof IntentPhase>;

/** Phases after which an intent is a record: never decided again (the plugin refuses to approve one). */
export const TERMINAL_PHASES: ReadonlySet<IntentPhase> = new Set([
  "Succeeded",
  "Failed",
  "Rejected",
  "Expired",
  "RolledBack",
]);

/**
 * Refusals the operator retries by itself (the ladder sets a retry time): a
 * Refused intent with one of these reasons may still act, so GitOps tools see
 * it waiting, not failed. The ladder's types allow a retry time only for these.
 */
export const RETRIED_REFUSALS = [
  "TooFewAvailable",
  "RateLimited",
  "FreezeWindow",
  "AdmissionPolicyMissing",
  "AdmissionPolicyAltered",
] as const;
export type RetriedRefusal = (typeof RETRIED_REFUSALS)[number];

const FieldChange = z.strictObject({
  field: z.string().max(512).describe("The changed field, e.g. spec.replicas or image of container app."),
  from: z.string().max(2048).describe("The value now."),
  to: z.string().max(2048).describe("The value after the action."),
});

export const Recommendation = z
  .strictObject({
    summary: z.string().max(4096).describe("One line saying what would change, e.g. deployment/web replicas 3 -> 6."),
    changes: z.array(FieldChange).max(64).describe("Each field the action would change."),
    dryRun: z
      .strictObject({
        validated: z.boolean().describe("Whether the API server accepted the change in a server-side dry run."),
        message: z.string().max(4096).optional().describe("What the API server said when it did not."),
      })
      .describe("Result of the server-side dry run (dryRun=All) of the change."),
    computedAt: timestamp("When the recommendation was computed."),
    digest: z
      .string()
      .max(71)
      .regex(PLAN_DIGEST_PATTERN)
      .optional()
      .describe(
        "Digest of exactly what would run (action, target, the observed state it starts from and the change). Approvals name it; when it changes, approvals of the old plan stop counting.",
      ),
  })
  .describe("What the action would change, validated by the API server.");
export type Recommendation = z.infer<typeof Recommendation>;

export const PolicyDecision = z
  .strictObject({
    policy: z.string().max(253).optional().describe("Name of the governing ApprovalPolicy; empty when none matched."),
    mode: z.enum(["advisory", "approval", "autonomous"]).describe("The execution mode that applies."),
    verdict: z
      .enum(["Recommend", "AwaitApproval", "Execute", "Refuse"])
      .describe("What the operator decided to do with the intent."),
    reasons: z.array(z.string().max(1024)).max(32).describe("Why, in order of evaluation."),
  })
  .describe("The policy decision for the intent.");
export type PolicyDecision = z.infer<typeof PolicyDecision>;

/** What an attempt changes, fixed when it is recorded, so a resumed attempt does exactly the same. */
export const Desired = z
  .strictObject({
    type: z
      .enum(["scale", "restart", "rollbackDeployment", "rollbackControllerRevision", "restoreSnapshot"])
      .describe("The kind of change; restoreSnapshot is an automatic undo after a failed window."),
    replicas: z.number().int().min(0).optional().describe("Replicas to scale to."),
    expectedReplicas: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Replicas observed when the action was decided; the API server refuses the scale if they changed."),
    expectedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "The workload's metadata.generation the plan was computed from; the API server refuses the write if its spec changed since.",
      ),
    restartedAt: z.string().max(64).optional().describe("The restartedAt annotation value this attempt sets."),
    source: z.string().max(253).optional().describe("The ReplicaSet or ControllerRevision whose template is restored."),
    sourceDigest: z
      .string()
      .max(71)
      .optional()
      .describe(
        "Digest of the ReplicaSet's template and annotations as planned; the rollback is refused if the ReplicaSet was edited since.",
      ),
    fromRevision: z.number().int().min(0).optional().describe("The revision before the action."),
    toRevision: z.number().int().min(0).optional().describe("The revision rolled back to."),
  })
  .describe("What the attempt changes, fixed when it is recorded, so a resumed attempt does exactly the same.");
export type Desired = z.infer<typeof Desired>;

export const ExecutionRecord = z
  .strictObject({
    attemptId: z.string().max(128).describe("Unique id of the one attempt to perform the action."),
    state: z
      .enum(["Started", "Succeeded", "Failed"])
      .describe("Started is recorded before acting, so a crash is detected."),
    startedAt: timestamp("When the attempt was recorded."),
    finishedAt: timestamp("When the attempt ended.").optional(),
    message: z.string().max(4096).optional().describe("What happened."),
    fieldManager: z.string().max(128).optional().describe("Field manager the operator wrote the workload with."),
    planDigest: z.string().max(71).optional().describe("The digest of the plan this attempt performs."),
    record: z
      .string()
      .max(253)
      .optional()
      .describe(
        "The operator's own record of the attempt (a ConfigMap in the operator's namespace). A Started attempt is resumed only from that record; status alone never makes the operator act.",
      ),
    desired: Desired,
  })
  .describe("The record of the action's one execution.");

export const HistoryEntry = z.strictObject({
  time: timestamp("When it happened."),
  reason: z.string().max(128).describe("A CamelCase reason."),
  message: z.string().max(2048).describe("What happened."),
  actor: z.string().max(256).optional().describe("Who caused it, when a person did."),
});

export const HealingIntentStatus = z
  .strictObject({
    phase: IntentPhase.optional().describe("A summary of where the intent is in its lifecycle."),
    observedGeneration: z.number().int().min(0).optional().describe("The generation this status describes."),
    intentId: z
      .string()
      .max(128)
      .optional()
      .describe("Deterministic id: a hash of the action, target, parameters and incident."),
    duplicateOf: z.string().max(253).optional().describe("The older live intent with the same intentId, if any."),
    conditions: Conditions.optional(),
    decision: PolicyDecision.optional(),
    recommendation: Recommendation.optional(),
    approvals: z
      .strictObject({
        counted: z.array(z.string().max(256)).max(16).describe("Approvers whose approval counts."),
        ignored: z
          .array(
            z.strictObject({
              user: z.string().max(256).describe("The approver."),
              reason: z.string().max(1024).describe("Why the approval does not count."),
            }),
          )
          .max(16)
          .describe("Approvals that do not count, and why."),
      })
      .optional()
      .describe("How the operator counted spec.approvals."),
    execution: ExecutionRecord.optional(),
    history: z.array(HistoryEntry).max(64).optional().describe("Append-only record of decisions and actions."),
  })
  .describe("Observed state, written only by the operator.");
export type HealingIntentStatus = z.infer<typeof HealingIntentStatus>;
