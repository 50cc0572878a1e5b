// The conditions GitOps tools read (Flux's kstatus, Argo CD health), derived
// from each resource's own status in one place, just before it is written.
//
// HealingIntent: Ready=True once the operator has decided on the current
// generation and the intent is not a failure; waiting for people or watching
// an open window is not "in progress" for a sync (a human approval must not
// hold up Flux's wait: true). Pending, Approved and Executing are: the action
// is about to run or running, so Reconciling=True and Ready=Unknown until it
// ends. Stalled=True on a terminal failure (Invalid, Refused, Rejected,
// Expired, Failed, RolledBack), so a sync fails fast.
// ApprovalPolicy: Stalled=True while invalid (its Ready is set by validation).
// RollbackPlan: Stalled=True while invalid, and when its last window failed
// and the action was not undone (AlertOnly, or an undo that failed or was
// refused): the workload got worse and still is. Reconciling=True while an
// automatic undo runs. A window that is watching, passed, was inconclusive or
// rolled back successfully is not a sync failure.
import type { Condition } from "../api/index.ts";
import { setConditions } from "./conditions.ts";

const IN_PROGRESS_PHASES: Record<string, string> = {
  Pending: "the intent is being decided again",
  Approved: "the action is about to run",
  Executing: "the action is running",
};

const FAILED_PHASES: Record<string, string> = {
  Invalid: "the spec is invalid",
  Refused: "the action was refused",
  Rejected: "an approver rejected it",
  Expired: "its life ended before it ran",
  Failed: "the action failed",
  RolledBack: "the action was rolled back automatically",
};

type Status = {
  phase?: string;
  observedGeneration?: number;
  conditions?: Condition[];
  window?: { state?: string; verdict?: { message?: string }; rollback?: { state?: string; message?: string } };
} & Record<string, unknown>;

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
    const progress = IN_PROGRESS_PHASES[s.phase];
    const cause = reasonOf(s.conditions, s.phase);
    const message = failure ? `${failure}: ${cause.message}` : (progress ?? `phase ${s.phase}`);
    const reason = s.phase === "Invalid" ? "InvalidSpec" : failure || progress ? s.phase : "Decided";
    return {
      ...s,
      conditions: setConditions(
        s.conditions,
        [
          {
            type: "Ready",
            status: failure ? "False" : progress ? "Unknown" : "True",
            reason,
            message: message.slice(0, 32768),
          },
          {
            type: "Reconciling",
            status: progress ? "True" : "False",
            reason: progress ? reason : "NotReconciling",
            message: progress ?? "not in progress",
          },
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
    const window = plural === "rollbackplans" ? s.window : undefined;
    const undoing = window?.rollback?.state === "Started";
    const notUndone =
      window?.state === "AlertOnly"
        ? {
            reason: "WindowFailed",
            message: `the last window failed (onFailure alertOnly): ${window.verdict?.message ?? ""}`,
          }
        : window?.rollback?.state === "Failed"
          ? {
              reason: "AutoRollbackFailed",
              message: `the last window failed and the undo did not happen: ${window.rollback.message ?? ""}`,
            }
          : undefined;
    const stalled = invalid
      ? { reason: ready.reason, message: ready.message }
      : notUndone
        ? { reason: notUndone.reason, message: notUndone.message.slice(0, 32768) }
        : undefined;
    return {
      ...s,
      conditions: setConditions(
        s.conditions,
        [
          {
            type: "Stalled",
            status: stalled ? "True" : "False",
            reason: stalled?.reason ?? "NotStalled",
            message: stalled?.message ?? "not stalled",
          },
          ...(plural === "rollbackplans"
            ? [
                {
                  type: "Reconciling",
                  status: undoing ? ("True" as const) : ("False" as const),
                  reason: undoing ? "AutoRollingBack" : "NotReconciling",
                  message: undoing ? "an automatic undo is running" : "not in progress",
                },
              ]
            : []),
        ],
        generation,
        now,
      ),
    };
  }
  return status;
}
