// The API server itself verifies who approves: a ValidatingAdmissionPolicy
// (no webhook server) checks, in CEL, every write to a HealingIntent's spec.
// It ships with the CRDs; the operator refuses to run approval-mode intents
// while it or its binding is missing (fail closed).
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
          name: "newApprovals",
          expression:
            "has(object.spec.approvals) ? object.spec.approvals.filter(a, !variables.oldApprovals.exists(o, o.user == a.user)) : []",
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
          expression: "variables.newApprovals.all(a, a.user == request.userInfo.username)",
          messageExpression:
            "'spec.approvals: a new approval must name the user who adds it, ' + request.userInfo.username + '; nobody can approve for someone else'",
          reason: "Forbidden",
        },
        {
          expression: "variables.newApprovals.all(a, !has(a.groups) || a.groups == request.userInfo.groups)",
          messageExpression:
            "'spec.approvals: the groups of a new approval must be exactly those of ' + request.userInfo.username",
          reason: "Forbidden",
        },
        {
          expression:
            "variables.oldApprovals.all(o, has(object.spec.approvals) && object.spec.approvals.exists(n, n == o))",
          message: "spec.approvals is append-only: existing approvals cannot be changed or removed",
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
