// The HealingIntent's desired status as a pure function of what was observed:
// the intent, its validation, its siblings, the policies, the plan and the dry
// run, the edition, and the clock. No I/O here; the reconciler gathers the
// inputs and writes the output.

import type { Condition, HealingIntentStatus, IntentPhase, PolicyDecision, Recommendation } from "../api/index.ts";
import type { FieldProblem } from "../api/validate.ts";
import type { DryRunResult } from "../kube/gateway.ts";
import { type ConditionInput, setConditions } from "../lib/conditions.ts";
import { GITOPS_CONDITION_TYPES } from "../lib/kstatus.ts";
import { stableEqual } from "../lib/stable.ts";
import { rfc3339 } from "../lib/time.ts";
import type { Ladder } from "./ladder.ts";
import type { Plan } from "./plan.ts";
import type { PolicyResolution } from "./policy.ts";

export type Edition = "oss" | "licensed";

export type { DryRunResult } from "../kube/gateway.ts";

export interface IntentObservation {
  generation: number;
  previous: HealingIntentStatus | undefined;
  intentId?: string;
  problems?: FieldProblem[];
  duplicateOf?: string;
  policy?: PolicyResolution;
  plan?: Plan;
  dryRun?: DryRunResult;
  /** The plan's digest, which approvals name. */
  digest?: string;
  edition: Edition;
  now: Date;
}

export interface IntentEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface IntentEvaluation {
  status: HealingIntentStatus;
  events: IntentEvent[];
  decision?: PolicyDecision;
}

const TERMINAL_HISTORY_LIMIT = 64;

export function evaluateIntent(o: IntentObservation): IntentEvaluation {
  const conditions: ConditionInput[] = [];
  let phase: IntentPhase;
  let decision: PolicyDecision | undefined;
  let recommendation: Recommendation | undefined;

  if (o.problems && o.problems.length > 0) {
    const message = o.problems.map((p) => `${p.field}: ${p.message}`).join("; ");
    conditions.push({ type: "Valid", status: "False", reason: "InvalidSpec", message });
    phase = "Invalid";
  } else {
    conditions.push({ type: "Valid", status: "True", reason: "SpecValid", message: "the spec is valid" });
    if (o.duplicateOf) {
      conditions.push({
        type: "Duplicate",
        status: "True",
        reason: "SameIntentId",
        message: `${o.duplicateOf} proposes the same action (intent id ${o.intentId}); this one will not be acted on`,
      });
      phase = "Duplicate";
    } else {
      conditions.push({
        type: "Duplicate",
        status: "False",
        reason: "UniqueIntentId",
        message: `intent id ${o.intentId} is unique`,
      });
      const policy = o.policy as PolicyResolution;
      const policyInvalid = policy.reason === "PolicyInvalid";
      conditions.push({
        type: "PolicyResolved",
        status: policyInvalid ? "False" : "True",
        reason: policy.reason,
        message: [policy.message, ...policy.notes].join("; "),
      });
      const plan = o.plan as Plan;
      if (policyInvalid) {
        decision = { mode: policy.mode, verdict: "Refuse", reasons: [policy.message] };
      }
      if (!plan.ok) {
        conditions.push({ type: "Recommended", status: "False", reason: plan.reason, message: plan.message });
        decision ??= { policy: policy.policy?.name, mode: policy.mode, verdict: "Refuse", reasons: [plan.message] };
      } else {
        recommendation = keepComputedAt(o.previous?.recommendation, {
          summary: plan.summary,
          changes: plan.changes,
          dryRun: {
            validated: o.dryRun?.validated ?? false,
            ...(o.dryRun?.message ? { message: o.dryRun.message } : {}),
          },
          computedAt: rfc3339(o.now),
          ...(o.digest ? { digest: o.digest } : {}),
        });
        const dryRunFailed = o.dryRun && !o.dryRun.validated && o.dryRun.message?.startsWith("rejected");
        conditions.push(
          dryRunFailed
            ? { type: "Recommended", status: "False", reason: "DryRunRejected", message: o.dryRun?.message ?? "" }
            : {
                type: "Recommended",
                status: "True",
                reason: plan.noop ? "NothingToChange" : "RecommendationReady",
                message: plan.summary,
              },
        );
        decision ??= decide(
          o.edition,
          policy,
          dryRunFailed ? "the API server rejected the change in a dry run" : undefined,
        );
      }
      conditions.push(
        o.edition === "oss"
          ? {
              type: "Executed",
              status: "False",
              reason: "AdvisoryOnly",
              message: "the OSS edition recommends and never acts",
            }
          : { type: "Executed", status: "False", reason: "NotExecuted", message: "not executed" },
      );
      phase = policyInvalid ? "Refused" : "Advisory";
    }
  }

  const status: HealingIntentStatus = {
    phase,
    observedGeneration: o.generation,
    ...(o.intentId ? { intentId: o.intentId } : {}),
    ...(o.duplicateOf ? { duplicateOf: o.duplicateOf } : {}),
    conditions: setConditions(o.previous?.conditions, conditions, o.generation, o.now),
    ...(decision ? { decision } : {}),
    ...(recommendation ? { recommendation } : {}),
  };
  // Conditions that no longer apply (e.g. PolicyResolved on an intent that became invalid) are dropped.
  const current = new Set(conditions.map((c) => c.type));
  // The GitOps conditions are derived from the result afterwards and keep their history.
  status.conditions = (status.conditions as Condition[]).filter(
    (c) => current.has(c.type) || GITOPS_CONDITION_TYPES.has(c.type),
  );
  if (o.previous?.execution) status.execution = o.previous.execution;
  if (o.previous?.approvals) status.approvals = o.previous.approvals;

  const events = transitionEvents(o.previous, status);
  status.history = appendHistory(o.previous?.history, events, o.now);
  return { status, events, decision };
}

function decide(edition: Edition, policy: PolicyResolution, refusal: string | undefined): PolicyDecision {
  const base = { policy: policy.policy?.name, mode: policy.mode };
  if (refusal) return { ...base, verdict: "Refuse", reasons: [refusal] };
  if (edition === "oss") {
    const would =
      policy.mode === "advisory" ? "recommend only" : policy.mode === "approval" ? "wait for approval" : "act at once";
    return {
      ...base,
      verdict: "Recommend",
      reasons: [
        `OSS edition: advisory only (the governing mode ${policy.mode} would ${would} in the licensed edition)`,
      ],
    };
  }
  return { ...base, verdict: "Recommend", reasons: [`mode ${policy.mode}`] };
}

/** Keeps the old computedAt when nothing but the time changed, so settled status does not churn. */
function keepComputedAt(previous: Recommendation | undefined, next: Recommendation): Recommendation {
  if (!previous) return next;
  // The API server returns keys sorted; compare regardless of key order.
  const same =
    previous.summary === next.summary &&
    previous.digest === next.digest &&
    stableEqual(previous.changes, next.changes) &&
    stableEqual(previous.dryRun, next.dryRun);
  return same ? { ...next, computedAt: previous.computedAt } : next;
}

function transitionEvents(previous: HealingIntentStatus | undefined, next: HealingIntentStatus): IntentEvent[] {
  const events: IntentEvent[] = [];
  const before = new Map((previous?.conditions ?? []).map((c) => [c.type, c]));
  for (const condition of next.conditions ?? []) {
    const old = before.get(condition.type);
    if (old && old.status === condition.status && old.reason === condition.reason) continue;
    if (condition.type === "Valid" && condition.status === "False")
      events.push({ type: "Warning", reason: "InvalidSpec", message: condition.message });
    if (condition.type === "Duplicate" && condition.status === "True")
      events.push({ type: "Warning", reason: "Duplicate", message: condition.message });
    if (condition.type === "PolicyResolved")
      events.push({
        type: condition.status === "True" ? "Normal" : "Warning",
        reason: condition.reason,
        message: condition.message,
      });
    if (condition.type === "Recommended") {
      events.push(
        condition.status === "True"
          ? { type: "Normal", reason: "Recommended", message: condition.message }
          : { type: "Warning", reason: condition.reason, message: condition.message },
      );
    }
  }
  // One Event per decision, not two: a policy resolved in the same pass as the
  // recommendation is told in the recommendation's Event (each Event is a write).
  const recommended = events.find((e) => e.reason === "Recommended");
  const policy = events.find((e) => e.type === "Normal" && (e.reason === "PolicyMatched" || e.reason === "NoPolicy"));
  if (recommended && policy) {
    recommended.message = `${recommended.message}; ${policy.message}`;
    events.splice(events.indexOf(policy), 1);
  }
  return events;
}

export function appendHistory(previous: HealingIntentStatus["history"], events: IntentEvent[], now: Date) {
  const history = [...(previous ?? [])];
  for (const event of events)
    history.push({ time: rfc3339(now), reason: event.reason, message: event.message.slice(0, 2048) });
  // Bounded by the CRD; the oldest entries give way, and Events keep them too.
  return history.slice(-TERMINAL_HISTORY_LIMIT);
}

/** What each rung of the ladder means for the phase, the decision and the Executed condition. */
const LADDER_OUTCOMES: Record<
  Ladder["verdict"],
  { phase: IntentPhase; verdict: PolicyDecision["verdict"]; executed: "True" | "False" | "Unknown"; reason: string }
> = {
  Recommend: { phase: "Advisory", verdict: "Recommend", executed: "False", reason: "AdvisoryOnly" },
  AwaitApproval: { phase: "AwaitingApproval", verdict: "AwaitApproval", executed: "False", reason: "AwaitingApproval" },
  Execute: { phase: "Approved", verdict: "Execute", executed: "Unknown", reason: "Starting" },
  // The refusal's own reason is used.
  Refuse: { phase: "Refused", verdict: "Refuse", executed: "False", reason: "Refused" },
  Reject: { phase: "Rejected", verdict: "Refuse", executed: "False", reason: "Rejected" },
  Expire: { phase: "Expired", verdict: "Refuse", executed: "False", reason: "ApprovalExpired" },
};

/**
 * Applies the licensed edition's ladder to an evaluation: the phase, the
 * decision, the Executed condition and how approvals were counted.
 */
export function applyLadder(
  evaluation: IntentEvaluation,
  ladder: Ladder,
  policy: PolicyResolution,
  previous: HealingIntentStatus | undefined,
  generation: number,
  now: Date,
): IntentEvaluation {
  const status = structuredClone(evaluation.status);
  const outcome = LADDER_OUTCOMES[ladder.verdict];
  const reasons = ladder.verdict === "Refuse" ? [ladder.refusal.message] : ladder.reasons;
  const decision: PolicyDecision = {
    policy: policy.policy?.name,
    mode: policy.mode,
    verdict: outcome.verdict,
    reasons,
  };
  status.phase = outcome.phase;
  const updates: ConditionInput[] = [
    {
      type: "Executed",
      status: outcome.executed,
      reason: ladder.verdict === "Refuse" ? ladder.refusal.reason : outcome.reason,
      message: reasons.join("; "),
    },
  ];
  status.decision = decision;
  status.conditions = setConditions(status.conditions, updates, generation, now);
  if ("approvals" in ladder && ladder.approvals) {
    status.approvals = { counted: ladder.approvals.counted, ignored: ladder.approvals.ignored };
  }
  const added: IntentEvent[] =
    previous?.phase !== status.phase && status.phase !== "Advisory"
      ? [
          {
            type: outcome.verdict === "Refuse" ? "Warning" : "Normal",
            reason: outcome.phase,
            message: reasons.join("; "),
          },
        ]
      : [];
  status.history = appendHistory(status.history, added, now);
  const events = [...evaluation.events, ...added];
  return { status, events, decision };
}
