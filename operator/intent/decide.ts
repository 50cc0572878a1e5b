// The intent's decision as one pure function of the gathered context (in the
// style of Argo Rollouts' sync logic): validation, duplicates, policy, plan,
// the intent's bounded life, and in the licensed edition the execution ladder.
// The reconciler gathers the context and performs what this returns.
import type { ApprovalPolicySpec, HealingIntentSpec, HealingIntentStatus, PolicyDecision } from "../api/index.ts";
import type { FieldProblem } from "../api/validate.ts";
import { setConditions } from "../lib/conditions.ts";
import { parseDuration } from "../lib/duration.ts";
import { withGitOpsConditions } from "../lib/kstatus.ts";
import { rfc3339 } from "../lib/time.ts";
import type { AdmissionState } from "./admission.ts";
import {
  appendHistory,
  applyLadder,
  type DryRunResult,
  type Edition,
  evaluateIntent,
  type IntentEvent,
} from "./evaluate.ts";
import { climbLadder } from "./ladder.ts";
import type { Plan, Workload } from "./plan.ts";
import type { PolicyResolution } from "./policy.ts";

export const DEFAULT_INTENT_LIFETIME = "1h";
/** How often an intent waiting for people is looked at again (the admission policy must still vouch for them). */
const AWAIT_RECHECK_MS = 30_000;

export type OkPlan = Extract<Plan, { ok: true }>;

export interface IntentFacts {
  now: Date;
  generation: number;
  /** metadata.creationTimestamp, set by the API server. */
  createdAt: Date;
  previous: HealingIntentStatus | undefined;
  edition: Edition;
  spec?: HealingIntentSpec;
  problems?: FieldProblem[];
  intentId?: string;
  duplicateOf?: string;
  policy?: PolicyResolution;
  workload?: Workload;
  plan?: Plan;
  digest?: string;
  dryRun?: DryRunResult;
  /** When earlier actions on the same target started, from the operator's own records. */
  recentActions: Date[];
  admission: AdmissionState;
}

export interface ExecutionOrder {
  plan: OkPlan;
  digest: string;
  workload: Workload;
  policy?: { name: string; spec: ApprovalPolicySpec };
  approvers: string[];
}

export interface IntentDecision {
  status: HealingIntentStatus;
  events: IntentEvent[];
  decision?: PolicyDecision;
  requeueAfterMs?: number;
  /** Present when the intent should run now. */
  execute?: ExecutionOrder;
}

/** When the intent stops being eligible: its creation plus the shorter of the policy's lifetime and its own. */
export function expiresAt(
  createdAt: Date,
  policy: ApprovalPolicySpec | undefined,
  spec: HealingIntentSpec | undefined,
) {
  const lifetimes = [parseDuration(policy?.intentLifetime ?? DEFAULT_INTENT_LIFETIME) ?? 3_600_000];
  const own = spec?.expiresAfter ? parseDuration(spec.expiresAfter) : undefined;
  if (own !== undefined) lifetimes.push(own);
  return new Date(createdAt.getTime() + Math.min(...lifetimes));
}

export function decideIntent(f: IntentFacts): IntentDecision {
  const decided = decideStatus(f);
  decided.status = withGitOpsConditions("healingintents", decided.status, f.now) as HealingIntentStatus;
  return decided;
}

function decideStatus(f: IntentFacts): IntentDecision {
  const evaluation = evaluateIntent({
    generation: f.generation,
    previous: f.previous,
    ...(f.problems ? { problems: f.problems } : {}),
    ...(f.intentId ? { intentId: f.intentId } : {}),
    ...(f.duplicateOf ? { duplicateOf: f.duplicateOf } : {}),
    ...(f.policy ? { policy: f.policy } : {}),
    ...(f.plan ? { plan: f.plan } : {}),
    ...(f.dryRun ? { dryRun: f.dryRun } : {}),
    ...(f.digest ? { digest: f.digest } : {}),
    edition: f.edition,
    now: f.now,
  });

  const deadline = expiresAt(f.createdAt, f.policy?.policy?.spec, f.spec);
  if (f.now >= deadline) return expire(f, evaluation, deadline);
  const untilDeadline = Math.max(1000, deadline.getTime() - f.now.getTime());
  const withDeadline = (ms: number | undefined) => Math.min(ms ?? untilDeadline, untilDeadline);

  const plan = f.plan;
  const recommended = evaluation.status.conditions?.find((c) => c.type === "Recommended")?.status === "True";
  const eligible =
    f.edition === "licensed" &&
    f.spec &&
    f.policy &&
    f.policy.reason !== "PolicyInvalid" &&
    plan?.ok &&
    recommended &&
    f.workload &&
    f.digest;
  if (!eligible) return { ...evaluation, requeueAfterMs: withDeadline(undefined) };

  const ladder = climbLadder({
    policy: f.policy?.policy,
    spec: f.spec as HealingIntentSpec,
    plan: plan as OkPlan,
    workload: f.workload as Workload,
    recentActions: f.recentActions,
    createdAt: f.createdAt,
    digest: f.digest as string,
    admission: f.admission,
    now: f.now,
  });
  const laddered = applyLadder(evaluation, ladder, f.policy as PolicyResolution, f.previous, f.generation, f.now);
  let requeueAfterMs: number | undefined;
  if (ladder.verdict === "AwaitApproval") {
    requeueAfterMs = Math.min(AWAIT_RECHECK_MS, Math.max(1000, ladder.expiresAt.getTime() - f.now.getTime()));
  }
  if (ladder.verdict === "Refuse" && ladder.refusal.retryAt) {
    requeueAfterMs = Math.max(1000, ladder.refusal.retryAt.getTime() - f.now.getTime());
  }
  if (ladder.verdict === "Execute") {
    return {
      ...laddered,
      execute: {
        plan: plan as OkPlan,
        digest: f.digest as string,
        workload: f.workload as Workload,
        ...(f.policy?.policy ? { policy: f.policy.policy } : {}),
        approvers: ladder.approvals?.counted ?? [],
      },
    };
  }
  return { ...laddered, requeueAfterMs: withDeadline(requeueAfterMs) };
}

/** The intent's life ended before it ran: a terminal phase, whatever happens later. */
function expire(f: IntentFacts, evaluation: ReturnType<typeof evaluateIntent>, deadline: Date): IntentDecision {
  const message = `the intent's life ended at ${rfc3339(deadline)} before it ran (created ${rfc3339(f.createdAt)}; lifetime from the policy's intentLifetime, default ${DEFAULT_INTENT_LIFETIME}, or spec.expiresAfter if shorter); file a new HealingIntent if it is still needed`;
  const status = structuredClone(evaluation.status);
  status.phase = "Expired";
  status.conditions = setConditions(
    status.conditions,
    [{ type: "Executed", status: "False", reason: "Expired", message }],
    f.generation,
    f.now,
  );
  const decision: PolicyDecision = {
    ...(f.policy?.policy?.name ? { policy: f.policy.policy.name } : {}),
    mode: f.policy?.mode ?? "advisory",
    verdict: "Refuse",
    reasons: [message],
  };
  status.decision = decision;
  const events: IntentEvent[] =
    f.previous?.phase !== "Expired" ? [{ type: "Warning", reason: "Expired", message }] : [];
  status.history = appendHistory(status.history, events, f.now);
  return { status, events: [...evaluation.events, ...events], decision };
}
