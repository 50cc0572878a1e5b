// ApprovalPolicy and RollbackPlan validation: each gets a Ready condition that
// says whether it is in force, and if not, which field is wrong. The API
// server's schema catches most errors; this catches what it cannot (a cron
// expression that parses as five fields but is not a schedule, an unknown time
// zone) and data written under an older CRD.

import type { z } from "zod";
import { API_VERSION, ApprovalPolicySpec, RollbackPlanSpec } from "../api/index.ts";
import { describeProblems, validate } from "../api/validate.ts";
import type { ArfObject } from "../intent/reconciler.ts";
import type { EventRecorder, StatusWriter } from "../kube/gateway.ts";
import { type ConditionInput, findCondition, setConditions } from "../lib/conditions.ts";
import { withGitOpsConditions } from "../lib/kstatus.ts";
import { stableEqual } from "../lib/stable.ts";
import type { Clock } from "../runtime/clock.ts";
import type { ReconcileRequest } from "../runtime/controller.ts";

interface ValidatedKind {
  kind: string;
  plural: string;
  schema: z.ZodType;
}

export const APPROVAL_POLICY: ValidatedKind = {
  kind: "ApprovalPolicy",
  plural: "approvalpolicies",
  schema: ApprovalPolicySpec,
};
export const ROLLBACK_PLAN: ValidatedKind = { kind: "RollbackPlan", plural: "rollbackplans", schema: RollbackPlanSpec };

export function makeValidationReconciler(
  what: ValidatedKind,
  get: (
    namespace: string,
    name: string,
  ) => ArfObject<unknown, { conditions?: never[]; observedGeneration?: number }> | undefined,
  statusWriter: StatusWriter,
  events: EventRecorder,
  clock: Clock,
) {
  return async ({ namespace, name, log }: ReconcileRequest) => {
    const object = get(namespace, name);
    if (!object || object.metadata?.deletionTimestamp) return undefined;
    const generation = object.metadata?.generation ?? 0;
    const result = validate(what.schema, object.spec, "spec");
    const condition: ConditionInput = result.ok
      ? { type: "Ready", status: "True", reason: "Valid", message: `the ${what.kind} is valid and in force` }
      : { type: "Ready", status: "False", reason: "InvalidSpec", message: describeProblems(result.problems) };
    const previous = object.status ?? {};
    const status = {
      ...previous,
      observedGeneration: generation,
      conditions: setConditions(previous.conditions, [condition], generation, clock.now()),
    };
    // Compared as it would be written (with the GitOps conditions derived), so a status an older
    // operator wrote without them is brought up to date, not left as it was.
    if (stableEqual(withGitOpsConditions(what.plural, status, clock.now()), previous)) return undefined;
    await statusWriter.writeStatus(what.plural, object, status);
    const before = findCondition(previous.conditions, "Ready");
    if (before?.status !== condition.status) {
      log.info({ ready: condition.status, reason: condition.reason }, `${what.kind} validated`);
      await events
        .record(
          { kind: what.kind, apiVersion: API_VERSION, namespace, name, uid: object.metadata?.uid },
          result.ok ? "Normal" : "Warning",
          condition.reason,
          condition.message,
        )
        .catch((error) => log.warn({ err: String(error) }, "could not record event"));
    }
    return undefined;
  };
}
