// The execution ladder of the licensed edition, as pure functions:
// advisory -> approval -> autonomous, the policy's safety limits, freeze
// windows, and the counting of approvals (four-eyes, allowed approvers, TTL).
import type * as k8s from "@kubernetes/client-node";
import { CronExpressionParser } from "cron-parser";
import type { Approval, ApprovalPolicySpec, HealingIntentSpec, RetriedRefusal } from "../api/index.ts";
import { parseDuration } from "../lib/duration.ts";
import type { AdmissionState } from "./admission.ts";
import { shortDigest } from "./digest.ts";
import type { Plan, Workload } from "./plan.ts";

/** Only a refusal the operator retries has a retry time (when it may lift, so the intent is looked at again then). */
export type Refusal =
  | { reason: string; message: string; retryAt?: undefined }
  | { reason: RetriedRefusal; message: string; retryAt: Date };

type OkPlan = Extract<Plan, { ok: true }>;

/** The first safety limit the action would break, or undefined if it breaks none. */
export function checkLimits(
  policy: ApprovalPolicySpec,
  spec: HealingIntentSpec,
  plan: OkPlan,
  workload: Workload,
  recentActions: Date[],
  now: Date,
): Refusal | undefined {
  const limits = policy.limits ?? {};
  const target = `${spec.target.kind.toLowerCase()}/${spec.target.name}`;
  const m = plan.mutation;
  // A scale, or an undo that restores a replica count: the same replica limits.
  const scaling =
    m.type === "scale"
      ? { replicas: m.replicas, current: m.expectedReplicas }
      : m.type === "restoreSnapshot" && m.replicas !== undefined && m.expectedReplicas !== undefined
        ? { replicas: m.replicas, current: m.expectedReplicas }
        : undefined;
  if (scaling) {
    const { replicas, current } = scaling;
    if (limits.maxReplicas !== undefined && replicas > limits.maxReplicas) {
      return {
        reason: "MaxReplicasExceeded",
        message: `scaling ${target} to ${replicas} exceeds the policy's maxReplicas ${limits.maxReplicas}`,
      };
    }
    if (limits.maxScaleFactor !== undefined && current > 0 && replicas > 0) {
      const factor = Math.max(replicas / current, current / replicas);
      if (factor > limits.maxScaleFactor) {
        return {
          reason: "MaxScaleFactorExceeded",
          message: `scaling ${target} from ${current} to ${replicas} changes it by a factor of ${factor.toFixed(2)}, above the policy's maxScaleFactor ${limits.maxScaleFactor}`,
        };
      }
    }
    if (limits.maxScaleFactor !== undefined && (current === 0) !== (replicas === 0)) {
      return {
        reason: "MaxScaleFactorExceeded",
        message: `scaling ${target} between 0 and ${Math.max(current, replicas)} has no bounded factor; the policy sets maxScaleFactor`,
      };
    }
  }
  const rollsPods =
    spec.action === "restart" ||
    spec.action === "rollback" ||
    (m.type === "restoreSnapshot" && m.template !== undefined);
  if (limits.minAvailableRatio !== undefined && rollsPods) {
    const { desired, available } = availability(spec.target.kind, workload);
    if (desired > 0 && available / desired < limits.minAvailableRatio) {
      return {
        reason: "TooFewAvailable",
        message: `${target} has ${available} of ${desired} replicas available (${Math.round((100 * available) / desired)}%), below the policy's minAvailableRatio ${limits.minAvailableRatio}; a ${spec.action} now could take it down`,
        retryAt: new Date(now.getTime() + 30_000),
      };
    }
  }
  if (limits.rateLimit) {
    const windowMs = parseDuration(limits.rateLimit.window) ?? 0;
    const inWindow = recentActions
      .filter((at) => now.getTime() - at.getTime() < windowMs)
      .sort((a, b) => a.getTime() - b.getTime());
    if (inWindow.length >= limits.rateLimit.maxActions) {
      const oldest = inWindow[0] as Date;
      return {
        reason: "RateLimited",
        message: `${target} already had ${inWindow.length} action(s) in the last ${limits.rateLimit.window}; the policy allows ${limits.rateLimit.maxActions}`,
        retryAt: new Date(oldest.getTime() + windowMs),
      };
    }
  }
  for (const window of policy.freezeWindows ?? []) {
    const until = frozenUntil(window.schedule, window.duration, window.timeZone, now);
    if (until) {
      return {
        reason: "FreezeWindow",
        message: `freeze window ${window.name} is open until ${until.toISOString()}`,
        retryAt: until,
      };
    }
  }
  return undefined;
}

/** When the freeze window that contains now closes, or undefined when none does. */
export function frozenUntil(
  schedule: string,
  duration: string,
  timeZone: string | undefined,
  now: Date,
): Date | undefined {
  const lengthMs = parseDuration(duration) ?? 0;
  // The most recent start at or before now (a millisecond later, so a start exactly now counts; and
  // never a start after now, which a later reference point would give in a minute's last second).
  const expression = CronExpressionParser.parse(schedule, {
    currentDate: new Date(now.getTime() + 1),
    tz: timeZone ?? "UTC",
  });
  let start = expression.prev().toDate();
  while (start > now) start = expression.prev().toDate();
  const end = new Date(start.getTime() + lengthMs);
  return now >= start && now < end ? end : undefined;
}

export function availability(kind: string, workload: Workload): { desired: number; available: number } {
  if (kind === "DaemonSet") {
    const status = (workload as k8s.V1DaemonSet).status;
    return { desired: status?.desiredNumberScheduled ?? 0, available: status?.numberAvailable ?? 0 };
  }
  const spec = workload.spec as { replicas?: number };
  const status = workload.status as { availableReplicas?: number } | undefined;
  return { desired: spec?.replicas ?? 1, available: status?.availableReplicas ?? 0 };
}

export interface ApprovalCount {
  counted: string[];
  ignored: Array<{ user: string; reason: string }>;
  rejectedBy?: string;
}

/**
 * Counts approvals under the policy: only allowed approvers, never the
 * requester, and only approvals of the current plan. A rejection counts
 * whatever plan it named: stopping is always safe.
 */
export function countApprovals(
  approvals: Approval[] | undefined,
  requester: string | undefined,
  policy: ApprovalPolicySpec,
  digest: string,
): ApprovalCount {
  const users = new Set(policy.approvers?.users ?? []);
  const groups = new Set(policy.approvers?.groups ?? []);
  const result: ApprovalCount = { counted: [], ignored: [] };
  for (const approval of approvals ?? []) {
    const allowed = users.has(approval.user) || (approval.groups ?? []).some((g) => groups.has(g));
    if (requester !== undefined && approval.user === requester) {
      result.ignored.push({
        user: approval.user,
        reason: "four-eyes: the requester cannot approve or reject their own intent",
      });
    } else if (!allowed) {
      result.ignored.push({ user: approval.user, reason: "not an approver under the governing policy" });
    } else if (approval.decision === "reject") {
      result.rejectedBy ??= approval.user;
    } else if (approval.planDigest !== digest) {
      result.ignored.push({
        user: approval.user,
        reason: approval.planDigest
          ? `approved plan ${shortDigest(approval.planDigest)}, but the plan is now ${shortDigest(digest)}; approve the current recommendation again`
          : `the approval names no plan; approve the current recommendation (${shortDigest(digest)}) with kubectl arf approve`,
      });
    } else {
      result.counted.push(approval.user);
    }
  }
  return result;
}

export type Ladder =
  | { verdict: "Recommend"; reasons: string[] }
  | { verdict: "AwaitApproval"; reasons: string[]; approvals: ApprovalCount; expiresAt: Date }
  | { verdict: "Execute"; reasons: string[]; approvals?: ApprovalCount }
  | { verdict: "Refuse"; refusal: Refusal; approvals?: ApprovalCount }
  | { verdict: "Reject"; reasons: string[]; approvals: ApprovalCount }
  | { verdict: "Expire"; reasons: string[]; approvals: ApprovalCount };

export interface LadderInput {
  policy?: { name: string; spec: ApprovalPolicySpec };
  spec: HealingIntentSpec;
  plan: OkPlan;
  workload: Workload;
  recentActions: Date[];
  createdAt: Date;
  /** The digest of the plan; approvals count only if they name it. */
  digest: string;
  admission: AdmissionState;
  now: Date;
}

export function climbLadder(input: LadderInput): Ladder {
  const { policy, now } = input;
  if (!policy || policy.spec.mode === "advisory") {
    return {
      verdict: "Recommend",
      reasons: [policy ? `policy ${policy.name} is advisory` : "no policy governs the intent; advisory"],
    };
  }
  if (input.plan.noop)
    return { verdict: "Refuse", refusal: { reason: "NothingToChange", message: input.plan.summary } };

  let approvals: ApprovalCount | undefined;
  if (policy.spec.mode === "approval") {
    const admission = input.admission;
    if (!admission.verified) {
      return {
        verdict: "Refuse",
        refusal: { reason: admission.reason, message: admission.message, retryAt: new Date(now.getTime() + 30_000) },
      };
    }
    if (admission.lastChanged.getTime() >= input.createdAt.getTime()) {
      // Approvals may have been made while the policy or binding was missing or weaker; nobody can tell which.
      return {
        verdict: "Refuse",
        refusal: {
          reason: "AdmissionChangedAfterCreation",
          message: `the approvals admission policy or its binding was changed at ${admission.lastChanged.toISOString()}, not before this intent was created (${input.createdAt.toISOString()}), so its approvals cannot be shown to be verified; file a new HealingIntent`,
        },
      };
    }
    if (!input.spec.requestedBy) {
      return {
        verdict: "Refuse",
        refusal: {
          reason: "RequesterUnknown",
          message: "approval mode needs spec.requestedBy (checked at admission) so four-eyes can be enforced",
        },
      };
    }
    approvals = countApprovals(input.spec.approvals, input.spec.requestedBy, policy.spec, input.digest);
    if (approvals.rejectedBy) {
      return { verdict: "Reject", reasons: [`rejected by ${approvals.rejectedBy}`], approvals };
    }
    const required = policy.spec.requiredApprovals ?? 1;
    if (approvals.counted.length < required) {
      const expiresAt = new Date(
        input.createdAt.getTime() + (parseDuration(policy.spec.approvalTTL ?? "1h") ?? 3_600_000),
      );
      if (now >= expiresAt) {
        return {
          verdict: "Expire",
          reasons: [
            `no ${required} approvals before ${expiresAt.toISOString()} (approvalTTL ${policy.spec.approvalTTL})`,
          ],
          approvals,
        };
      }
      return {
        verdict: "AwaitApproval",
        reasons: [
          `${approvals.counted.length} of ${required} approvals from policy ${policy.name}; waiting until ${expiresAt.toISOString()}`,
        ],
        approvals,
        expiresAt,
      };
    }
  }
  const refusal = checkLimits(policy.spec, input.spec, input.plan, input.workload, input.recentActions, now);
  if (refusal) return { verdict: "Refuse", refusal, ...(approvals ? { approvals } : {}) };
  const why =
    policy.spec.mode === "autonomous"
      ? `policy ${policy.name} is autonomous and every limit holds`
      : `approved by ${approvals?.counted.join(" and ")} under policy ${policy.name}, and every limit holds`;
  return { verdict: "Execute", reasons: [why], ...(approvals ? { approvals } : {}) };
}
