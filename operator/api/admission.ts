// The API server itself verifies who approves: a ValidatingAdmissionPolicy
// (no webhook server) checks, in CEL, every write to a HealingIntent's spec.
// It ships as a chart template (so `helm upgrade` delivers fixes to the CEL;
// Helm never upgrades crds/) and in crds/ for kubectl users. The operator
// counts approvals only while it and its binding are in force (intent/admission.ts).
export const APPROVALS_POLICY_NAME = "healingintent-approvals.arf.dev";

export function approvalsAdmissionPolicy() {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: APPROVALS_POLICY_NAME, labels: { "app.kubernetes.io/part-of": "arf-operator" } },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        // The status subresource is not matched: only the operator writes it, under RBAC.
        resourceRules: [
          {
            apiGroups: ["arf.dev"],
            apiVersions: ["v1alpha1"],
            operations: ["CREATE", "UPDATE"],
            resources: ["healingintents"],
          },
        ],
      },
      variables: [
        {
          name: "oldApprovals",
          expression: "oldObject != null && has(oldObject.spec.approvals) ? oldObject.spec.approvals : []",
        },
        {
          // Entries that are new or differ from what was there: each must be the requesting user's own.
          name: "changedApprovals",
          expression:
            "has(object.spec.approvals) ? object.spec.approvals.filter(a, !variables.oldApprovals.exists(o, o == a)) : []",
        },
      ],
      validations: [
        {
          expression:
            "request.operation != 'CREATE' || !has(object.spec.requestedBy) || object.spec.requestedBy == request.userInfo.username",
          messageExpression: "'spec.requestedBy must be the creating user, ' + request.userInfo.username",
          reason: "Forbidden",
        },
        {
          expression: "variables.changedApprovals.all(a, a.user == request.userInfo.username)",
          messageExpression:
            "'spec.approvals: a new or changed approval must name the user who writes it, ' + request.userInfo.username + '; nobody can approve for someone else'",
          reason: "Forbidden",
        },
        {
          expression: "variables.changedApprovals.all(a, !has(a.groups) || a.groups == request.userInfo.groups)",
          messageExpression:
            "'spec.approvals: the groups of a new or changed approval must be exactly those of ' + request.userInfo.username",
          reason: "Forbidden",
        },
        {
          expression:
            "variables.oldApprovals.all(o, has(object.spec.approvals) && object.spec.approvals.exists(n, n.user == o.user))",
          message: "spec.approvals: approvals cannot be removed",
          reason: "Forbidden",
        },
      ],
    },
  };
}

export function approvalsAdmissionBinding() {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: APPROVALS_POLICY_NAME, labels: { "app.kubernetes.io/part-of": "arf-operator" } },
    spec: { policyName: APPROVALS_POLICY_NAME, validationActions: ["Deny"] },
  };
}
