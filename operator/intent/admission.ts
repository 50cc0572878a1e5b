// Whether the API server verifies approvers, judged from the admission policy
// and binding as read: present, unchanged in substance (the CEL that checks
// identities), denying (not only warning or auditing), and not narrowed. An
// approval is only trusted if it was made while all of that held; the
// operator cannot see when each approval was made, so it requires that the
// policy and binding were last changed before the intent was created.
import { approvalsAdmissionBinding, approvalsAdmissionPolicy } from "../api/admission.ts";
import { stableEqual } from "../lib/stable.ts";

export type AdmissionState =
  | { verified: true; lastChanged: Date }
  | { verified: false; reason: "AdmissionPolicyMissing" | "AdmissionPolicyAltered"; message: string };

interface ManagedObject {
  metadata?: { creationTimestamp?: string | Date; managedFields?: Array<{ time?: string | Date }> };
  spec?: Record<string, unknown>;
}

const INSTALL_HINT = "install it with the chart or crds/";

/** When an object was last written, as far as the API server records it. */
function lastChanged(object: ManagedObject): Date {
  const times = [object.metadata?.creationTimestamp, ...(object.metadata?.managedFields ?? []).map((f) => f.time)]
    .filter((t): t is string | Date => t !== undefined)
    .map((t) => new Date(t).getTime());
  return new Date(Math.max(0, ...times));
}

export function judgeAdmission(policy: unknown, binding: unknown): AdmissionState {
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
  return {
    verified: true,
    lastChanged: new Date(Math.max(lastChanged(p).getTime(), lastChanged(b).getTime())),
  };
}

function isEmptySelector(selector: unknown): boolean {
  if (selector === undefined || selector === null) return true;
  const s = selector as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  return Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
}
