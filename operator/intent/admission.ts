// Whether the API server verifies approvers, judged from the admission policy
// and binding as read: present, unchanged in substance (the CEL that checks
// identities, what it matches), denying (not only warning or auditing), and
// not narrowed. An approval is only trusted if it was made while all of that
// held; the operator cannot see when each approval was made, so it requires
// that the policy and binding were last changed (a new uid or generation:
// spec changes only, which nobody can forge) before the intent was created.
// The operator records, in its own namespace, since when it has seen the
// current uids and generations (AdmissionObservation).
import { approvalsAdmissionBinding, approvalsAdmissionPolicy } from "../api/admission.ts";
import { stableEqual } from "../lib/stable.ts";

/** The identity of what was judged: any spec change bumps a generation, a re-creation changes a uid. */
export interface AdmissionIdentity {
  policyUid: string;
  policyGeneration: number;
  bindingUid: string;
  bindingGeneration: number;
}

export type AdmissionJudgement =
  | { verified: true; identity: AdmissionIdentity; createdAt: Date; neverChanged: boolean }
  | { verified: false; reason: "AdmissionPolicyMissing" | "AdmissionPolicyAltered"; message: string };

export type AdmissionState =
  | { verified: true; lastChanged: Date }
  | { verified: false; reason: "AdmissionPolicyMissing" | "AdmissionPolicyAltered"; message: string };

interface ManagedObject {
  metadata?: { creationTimestamp?: string | Date; uid?: string; generation?: number };
  spec?: Record<string, unknown>;
}

const INSTALL_HINT = "install it with the chart or crds/";

export function judgeAdmission(policy: unknown, binding: unknown): AdmissionJudgement {
  const name = approvalsAdmissionPolicy().metadata.name;
  if (!policy || !binding) {
    return {
      verified: false,
      reason: "AdmissionPolicyMissing",
      message: `the ValidatingAdmissionPolicy ${name} or its binding is not installed, so approver identities are unverified; approval-mode intents do not run (${INSTALL_HINT})`,
    };
  }
  const p = policy as ManagedObject;
  const b = binding as ManagedObject;
  const expected = approvalsAdmissionPolicy().spec;
  const problems: string[] = [];
  if (p.spec?.failurePolicy !== "Fail") problems.push("the policy's failurePolicy is not Fail");
  if (!stableEqual(p.spec?.validations, expected.validations) || !stableEqual(p.spec?.variables, expected.variables))
    problems.push("the policy's validations differ from the ones this operator ships");
  const constraints = (p.spec?.matchConstraints ?? {}) as Record<string, unknown>;
  const rules = ((constraints.resourceRules as Array<Record<string, unknown>> | undefined) ?? []).map((r) => ({
    apiGroups: r.apiGroups,
    apiVersions: r.apiVersions,
    operations: r.operations,
    resources: r.resources,
  }));
  if (
    !stableEqual(rules, expected.matchConstraints.resourceRules) ||
    (constraints.excludeResourceRules as unknown[] | undefined)?.length ||
    !isEmptySelector(constraints.namespaceSelector) ||
    !isEmptySelector(constraints.objectSelector)
  )
    problems.push("the policy's matchConstraints differ from the ones this operator ships");
  if ((p.spec?.matchConditions as unknown[] | undefined)?.length) problems.push("the policy has matchConditions");
  if (p.spec?.paramKind) problems.push("the policy has a paramKind");
  if (b.spec?.paramRef) problems.push("the binding has a paramRef");
  const actions = (b.spec?.validationActions as string[] | undefined) ?? [];
  if (!actions.includes("Deny")) problems.push(`the binding's validationActions are [${actions.join(", ")}], not Deny`);
  if (b.spec?.policyName !== approvalsAdmissionBinding().spec.policyName)
    problems.push("the binding names another policy");
  const match = b.spec?.matchResources as Record<string, unknown> | undefined;
  const narrowed =
    match &&
    ((match.resourceRules as unknown[] | undefined)?.length ||
      (match.excludeResourceRules as unknown[] | undefined)?.length ||
      !isEmptySelector(match.namespaceSelector) ||
      !isEmptySelector(match.objectSelector));
  if (narrowed) problems.push("the binding's matchResources narrows what it checks");
  if (problems.length > 0) {
    return {
      verified: false,
      reason: "AdmissionPolicyAltered",
      message: `${problems.join("; ")}, so approver identities are unverified; approval-mode intents do not run (${INSTALL_HINT})`,
    };
  }
  const created = (o: ManagedObject) => new Date(o.metadata?.creationTimestamp ?? 0).getTime();
  return {
    verified: true,
    identity: {
      policyUid: p.metadata?.uid ?? "",
      policyGeneration: p.metadata?.generation ?? 0,
      bindingUid: b.metadata?.uid ?? "",
      bindingGeneration: b.metadata?.generation ?? 0,
    },
    createdAt: new Date(Math.max(created(p), created(b))),
    neverChanged: p.metadata?.generation === 1 && b.metadata?.generation === 1,
  };
}

/** The operator's durable note of since when it has seen one admission identity. */
export interface AdmissionObservation {
  identity: AdmissionIdentity;
  since: string;
}

/**
 * Since when the admission policy and binding have been in force as judged:
 * from the operator's note if it saw this very identity before; from their
 * creation if neither was ever changed; otherwise from now (they changed at
 * some moment the operator did not see). Returns the note to store when it changed.
 */
export function admissionSince(
  judged: Extract<AdmissionJudgement, { verified: true }>,
  note: AdmissionObservation | undefined,
  now: Date,
): { since: Date; store?: AdmissionObservation } {
  if (note && stableEqual(note.identity, judged.identity)) return { since: new Date(note.since) };
  const since = judged.neverChanged ? judged.createdAt : now;
  return { since, store: { identity: judged.identity, since: since.toISOString() } };
}

function isEmptySelector(selector: unknown): boolean {
  if (selector === undefined || selector === null) return true;
  const s = selector as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  return Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
}
