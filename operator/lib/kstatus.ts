// The conditions GitOps tools read (Flux's kstatus, Argo CD health), derived
// from each resource's own status in one place, just before it is written.
//
// HealingIntent: Ready=True once the operator has decided on the current
// generation and the intent is not a failure; waiting for people or watching
// an open window is not "in progress" for a sync (a human approval must not
// hold up Flux's wait: true). Pending, Approved and Executing are: the action
// is about to run or running, so Reconciling=True and Ready=Unknown until it
// ends. Stalled=True on a terminal failure (Invalid, Refused, Rejected,
// Expired, Failed, RolledBack), so a sync fails fast; a refusal the operator
// retries by itself (RETRIED_REFUSALS) is waiting, like an approval.
// ApprovalPolicy: Stalled=True while invalid (its Ready is set by validation).
// RollbackPlan: Stalled=True while invalid; Reconciling=True while an
// automatic undo runs. A window is never a sync failure: a failed window that
// was not undone (AlertOnly, or an undo that failed) would otherwise fail
// every sync of its Kustomization until the next action, with no way to clear
// it; it is reported by the alerts (ArfRollbackWindowFailed,
// ArfAutoRollbackFailed) and by Argo CD as Suspended (a person must act).
import { type Condition, RETRIED_REFUSALS } from "../api/index.ts";
import { setConditions } from "./conditions.ts";

/** The conditions derived here; a decision keeps them (and their transition times) rather than dropping them. */
export const GITOPS_CONDITION_TYPES = new Set(["Ready", "Reconciling", "Stalled"]);

const RETRIED = new Set<string>(RETRIED_REFUSALS);

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
    const executed = s.conditions?.find((c) => c.type === "Executed");
    const retrying = s.phase === "Refused" && executed !== undefined && RETRIED.has(executed.reason);
    const failure = retrying ? undefined : FAILED_PHASES[s.phase];
    const progress = IN_PROGRESS_PHASES[s.phase];
    const cause = reasonOf(s.conditions, s.phase);
    const message = failure
      ? `${failure}: ${cause.message}`
      : retrying
        ? `refused for now, retried by the operator: ${executed?.message ?? ""}`
        : (progress ?? `phase ${s.phase}`);
    const reason =
      s.phase === "Invalid" ? "InvalidSpec" : failure || progress ? s.phase : retrying ? "RefusedForNow" : "Decided";
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
    // An undo in flight is progress; an invalid plan is stalled, and then not also in progress.
    const undoing = !invalid && window?.rollback?.state === "Started";
    const stalled = invalid ? { reason: ready.reason, message: ready.message } : undefined;
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
