// The conditions GitOps tools read (Flux's kstatus, Argo CD health), derived
// from each resource's own status in one place, just before it is written.
//
// HealingIntent: Ready=True once the operator has decided on the current
// generation and the intent is not a failure; waiting for people or watching
// an open window is not "in progress" for a sync (a human approval must not
// hold up Flux's wait: true). Stalled=True on a terminal failure (Invalid,
// Refused, Rejected, Expired, Failed, RolledBack), so a sync fails fast.
// ApprovalPolicy and RollbackPlan: Stalled=True while invalid (their Ready is
// set by validation).
import type { Condition } from "../api/index.ts";
import { setConditions } from "./conditions.ts";

const FAILED_PHASES: Record<string, string> = {
  Invalid: "the spec is invalid",
  Refused: "the action was refused",
  Rejected: "an approver rejected it",
  Expired: "its life ended before it ran",
  Failed: "the action failed",
  RolledBack: "the action was rolled back automatically",
};

type Status = { phase?: string; observedGeneration?: number; conditions?: Condition[] } & Record<string, unknown>;

function reasonOf(conditions: Condition[] | undefined, fallback: string): { reason: string; message: string } {
  const executed =
    conditions?.find((c) => c.type === "RolledBack" && c.status === "True") ??
    conditions?.find((c) => c.type === "Executed");
  return executed ? { reason: executed.reason, message: executed.message } : { reason: fallback, message: fallback };
}

export function withGitOpsConditions(plural: string, status: unknown, now: Date): unknown {
  const s = status as Status;
  if (!s || typeof s !== "object") return status;
  const generation = s.observedGeneration ?? 0;
  if (plural === "healingintents") {
    if (!s.phase) return status;
    const failure = FAILED_PHASES[s.phase];
    const cause = reasonOf(s.conditions, s.phase);
    const message = failure ? `${failure}: ${cause.message}` : `phase ${s.phase}`;
    const reason = s.phase === "Invalid" ? "InvalidSpec" : failure ? s.phase : "Decided";
    return {
      ...s,
      conditions: setConditions(
        s.conditions,
        [
          { type: "Ready", status: failure ? "False" : "True", reason, message: message.slice(0, 32768) },
          {
            type: "Stalled",
            status: failure ? "True" : "False",
            reason: failure ? reason : "NotStalled",
            message: failure ? message.slice(0, 32768) : "not stalled",
          },
        ],
        generation,
        now,
      ),
    };
  }
  if (plural === "approvalpolicies" || plural === "rollbackplans") {
    const ready = s.conditions?.find((c) => c.type === "Ready");
    if (!ready) return status;
    const invalid = ready.status === "False";
    return {
      ...s,
      conditions: setConditions(
        s.conditions,
        [
          {
            type: "Stalled",
            status: invalid ? "True" : "False",
            reason: invalid ? ready.reason : "NotStalled",
            message: invalid ? ready.message : "not stalled",
          },
        ],
        generation,
        now,
      ),
    };
  }
  return status;
}
