// A corpus of invalid objects, each a valid example with exactly one defect.
// The API server must reject each (e2e), and so must the zod schemas (unit),
// naming the same field: this is how we prove the CRDs and zod agree.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

type Obj = Record<string, any>;

export interface InvalidCase {
  name: string;
  /** The field the API server's error message must name. */
  field: string;
  object: Obj;
}

const examples = join(import.meta.dirname, "..", "..", "examples");
const load = (file: string): Obj => parse(readFileSync(join(examples, file), "utf8"));

const base = {
  HealingIntent: () => load("healingintent-scale.yaml"),
  HealingIntentRollback: () => load("healingintent-rollback.yaml"),
  ApprovalPolicy: () => load("approvalpolicy.yaml"),
  RollbackPlan: () => load("rollbackplan.yaml"),
};

function variant(name: string, field: string, start: keyof typeof base, mutate: (spec: Obj) => void): InvalidCase {
  const object = base[start]();
  object.metadata = { name: `invalid-${name}` };
  mutate(object.spec);
  return { name, field, object };
}

export const INVALID_CASES: InvalidCase[] = [
  // HealingIntent
  variant("hi-missing-action", "spec.action", "HealingIntent", (s) => delete s.action),
  variant("hi-unknown-action", "spec.action", "HealingIntent", (s) => (s.action = "delete")),
  variant("hi-target-kind-pod", "spec.target.kind", "HealingIntent", (s) => (s.target.kind = "Pod")),
  variant("hi-target-name-invalid", "spec.target.name", "HealingIntent", (s) => (s.target.name = "Web_App")),
  variant("hi-target-other-namespace", "spec.target.namespace", "HealingIntent", (s) => (s.target.namespace = "prod")),
  variant("hi-scale-without-replicas", "spec.parameters.replicas", "HealingIntent", (s) => delete s.parameters),
  variant("hi-rollback-with-replicas", "spec.parameters.replicas", "HealingIntentRollback", (s) => {
    s.parameters = { replicas: 2 };
  }),
  variant("hi-scale-with-revision", "spec.parameters.revision", "HealingIntent", (s) => (s.parameters.revision = 3)),
  variant("hi-undo-without-intent", "spec.parameters.intent", "HealingIntent", (s) => {
    s.action = "undo";
    delete s.parameters;
  }),
  variant(
    "hi-scale-with-undo-intent",
    "spec.parameters.intent",
    "HealingIntent",
    (s) => (s.parameters.intent = "earlier"),
  ),
  variant("hi-negative-replicas", "spec.parameters.replicas", "HealingIntent", (s) => (s.parameters.replicas = -1)),
  variant("hi-huge-replicas", "spec.parameters.replicas", "HealingIntent", (s) => (s.parameters.replicas = 100000)),
  variant("hi-fractional-replicas", "spec.parameters.replicas", "HealingIntent", (s) => (s.parameters.replicas = 2.5)),
  variant("hi-revision-zero", "spec.parameters.revision", "HealingIntentRollback", (s) => {
    s.parameters = { revision: 0 };
  }),
  variant("hi-confidence-above-one", "spec.confidence", "HealingIntent", (s) => (s.confidence = 1.5)),
  variant("hi-confidence-negative", "spec.confidence", "HealingIntent", (s) => (s.confidence = -0.1)),
  variant("hi-confidence-string", "spec.confidence", "HealingIntent", (s) => (s.confidence = "high")),
  variant("hi-empty-justification", "spec.justification", "HealingIntent", (s) => (s.justification = "")),
  variant("hi-missing-incident", "spec.incidentId", "HealingIntent", (s) => delete s.incidentId),
  variant("hi-long-incident", "spec.incidentId", "HealingIntent", (s) => (s.incidentId = "I".repeat(129))),
  variant("hi-detected-at-not-a-time", "spec.detectedAt", "HealingIntent", (s) => (s.detectedAt = "yesterday")),
  // The API server's date-time format alone takes a lowercase t and z.
  variant("hi-detected-at-lowercase", "spec.detectedAt", "HealingIntent", (s) => {
    s.detectedAt = "2026-01-01t00:00:00z";
  }),
  variant("hi-source-type-unknown", "spec.source.type", "HealingIntent", (s) => (s.source.type = "robot")),
  variant("hi-approval-decision-unknown", "spec.approvals[0].decision", "HealingIntent", (s) => {
    s.approvals = [{ user: "alice", decision: "maybe" }];
  }),
  variant("hi-approval-duplicate-user", "spec.approvals[1]", "HealingIntent", (s) => {
    s.approvals = [
      { user: "alice", decision: "approve" },
      { user: "alice", decision: "reject" },
    ];
  }),
  // ApprovalPolicy
  variant("ap-unknown-mode", "spec.mode", "ApprovalPolicy", (s) => (s.mode = "yolo")),
  variant("ap-approval-without-approvers", "spec.approvers", "ApprovalPolicy", (s) => delete s.approvers),
  variant("ap-more-required-than-approvers", "spec.requiredApprovals", "ApprovalPolicy", (s) => {
    s.requiredApprovals = 4;
  }),
  variant("ap-zero-required", "spec.requiredApprovals", "ApprovalPolicy", (s) => (s.requiredApprovals = 0)),
  variant("ap-freeze-not-cron", "spec.freezeWindows[0].schedule", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].schedule = "every friday";
  }),
  variant("ap-freeze-duration-words", "spec.freezeWindows[0].duration", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].duration = "2 hours";
  }),
  variant("ap-scale-factor-below-one", "spec.limits.maxScaleFactor", "ApprovalPolicy", (s) => {
    s.limits.maxScaleFactor = 0.5;
  }),
  variant("ap-available-ratio-above-one", "spec.limits.minAvailableRatio", "ApprovalPolicy", (s) => {
    s.limits.minAvailableRatio = 2;
  }),
  variant("ap-selector-unknown-action", "spec.selector.actions[0]", "ApprovalPolicy", (s) => {
    s.selector.actions = ["delete"];
  }),
  variant("ap-ttl-not-duration", "spec.approvalTTL", "ApprovalPolicy", (s) => (s.approvalTTL = "forever")),
  variant(
    "ap-selector-bad-operator",
    "spec.selector.targetSelector.matchExpressions[0].operator",
    "ApprovalPolicy",
    (s) => {
      s.selector.targetSelector.matchExpressions = [{ key: "tier", operator: "Like", values: ["front"] }];
    },
  ),
  variant("ap-rate-limit-zero", "spec.limits.rateLimit.maxActions", "ApprovalPolicy", (s) => {
    s.limits.rateLimit.maxActions = 0;
  }),
  // Durations: positive, at most a year, and never beyond what CEL's duration() can hold.
  variant("ap-ttl-overflows", "spec.approvalTTL", "ApprovalPolicy", (s) => (s.approvalTTL = "99999999999h")),
  variant("ap-ttl-over-a-year", "spec.approvalTTL", "ApprovalPolicy", (s) => (s.approvalTTL = "9000h")),
  variant("ap-freeze-duration-zero", "spec.freezeWindows[0].duration", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].duration = "0s";
  }),
  variant("ap-rate-window-overflows", "spec.limits.rateLimit.window", "ApprovalPolicy", (s) => {
    s.limits.rateLimit.window = "9999999999h";
  }),
  variant(
    "ap-defaults-interval-units-reversed",
    "spec.rollbackPlanDefaults.autoRollback.checkInterval",
    "ApprovalPolicy",
    (s) => {
      s.rollbackPlanDefaults.autoRollback.checkInterval = "30s1m";
    },
  ),
  // Cron schedules: what cron-parser, which the operator runs, would refuse.
  variant("ap-freeze-minute-60", "spec.freezeWindows[0].schedule", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].schedule = "60 17 * * 5";
  }),
  variant("ap-freeze-february-31", "spec.freezeWindows[0].schedule", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].schedule = "0 0 31 2 *";
  }),
  variant("ap-freeze-february-30", "spec.freezeWindows[0].schedule", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].schedule = "0 0 30 FEB *";
  }),
  variant("ap-freeze-range-backwards", "spec.freezeWindows[0].schedule", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].schedule = "0 17 * * FRI-MON";
  }),
  variant("ap-freeze-sunday-twice", "spec.freezeWindows[0].schedule", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].schedule = "0 17 * * 0,7";
  }),
  // Time zones: only names both the API server (Go) and the operator (Node) know.
  variant("ap-freeze-unknown-zone", "spec.freezeWindows[0].timeZone", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].timeZone = "Mars/Olympus";
  }),
  variant("ap-freeze-zone-wrong-case", "spec.freezeWindows[0].timeZone", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].timeZone = "Europe/BERLIN";
  }),
  variant("ap-freeze-zone-offset", "spec.freezeWindows[0].timeZone", "ApprovalPolicy", (s) => {
    s.freezeWindows[0].timeZone = "+05:00";
  }),
  // Label selectors as Kubernetes validates them.
  variant(
    "ap-selector-exists-with-values",
    "spec.selector.targetSelector.matchExpressions[0].values",
    "ApprovalPolicy",
    (s) => {
      s.selector.targetSelector.matchExpressions = [{ key: "tier", operator: "Exists", values: ["front"] }];
    },
  ),
  variant(
    "ap-selector-in-without-values",
    "spec.selector.targetSelector.matchExpressions[0].values",
    "ApprovalPolicy",
    (s) => {
      s.selector.targetSelector.matchExpressions = [{ key: "tier", operator: "In" }];
    },
  ),
  variant("ap-selector-bad-key", "spec.selector.targetSelector.matchExpressions[0].key", "ApprovalPolicy", (s) => {
    s.selector.targetSelector.matchExpressions = [{ key: "tier/", operator: "Exists" }];
  }),
  variant(
    "ap-selector-key-prefix-too-long",
    "spec.selector.targetSelector.matchExpressions[0].key",
    "ApprovalPolicy",
    (s) => {
      s.selector.targetSelector.matchExpressions = [{ key: `${"p".repeat(254)}/tier`, operator: "Exists" }];
    },
  ),
  variant(
    "ap-selector-bad-value",
    "spec.selector.targetSelector.matchExpressions[0].values[0]",
    "ApprovalPolicy",
    (s) => {
      s.selector.targetSelector.matchExpressions = [{ key: "tier", operator: "In", values: ["front end"] }];
    },
  ),
  variant("ap-selector-bad-label-key", "spec.selector.targetSelector.matchLabels", "ApprovalPolicy", (s) => {
    s.selector.targetSelector.matchLabels = { "-tier": "frontend" };
  }),
  variant("ap-selector-bad-label-value", "spec.selector.targetSelector.matchLabels.tier", "ApprovalPolicy", (s) => {
    s.selector.targetSelector.matchLabels.tier = "-frontend";
  }),
  // RollbackPlan
  variant("rbp-interval-not-shorter", "spec.autoRollback.checkInterval", "RollbackPlan", (s) => {
    s.autoRollback.checkInterval = "10m";
    s.autoRollback.duration = "5m";
  }),
  variant("rbp-no-health-checks", "spec.healthChecks", "RollbackPlan", (s) => (s.healthChecks = {})),
  variant("rbp-unknown-operator", "spec.healthChecks.prometheus.queries[0].operator", "RollbackPlan", (s) => {
    s.healthChecks.prometheus.queries[0].operator = "Equals";
  }),
  variant("rbp-unknown-on-failure", "spec.onFailure", "RollbackPlan", (s) => (s.onFailure = "panic")),
  variant("rbp-zero-failure-limit", "spec.autoRollback.failureLimit", "RollbackPlan", (s) => {
    s.autoRollback.failureLimit = 0;
  }),
  variant("rbp-empty-queries", "spec.healthChecks.prometheus.queries", "RollbackPlan", (s) => {
    s.healthChecks.prometheus.queries = [];
  }),
  variant("rbp-missing-target", "spec.target", "RollbackPlan", (s) => delete s.target),
  variant("rbp-query-name-invalid", "spec.healthChecks.prometheus.queries[0].name", "RollbackPlan", (s) => {
    s.healthChecks.prometheus.queries[0].name = "Error Ratio";
  }),
  variant("rbp-duration-zero", "spec.autoRollback.duration", "RollbackPlan", (s) => (s.autoRollback.duration = "0s")),
  // Malformed, the duration is named itself, with no conversion error from the rule comparing it with checkInterval.
  variant("rbp-duration-overflows", "spec.autoRollback.duration", "RollbackPlan", (s) => {
    s.autoRollback.duration = "9999999999h";
  }),
  variant("rbp-interval-units-reversed", "spec.autoRollback.checkInterval", "RollbackPlan", (s) => {
    s.autoRollback.checkInterval = "30s1m";
  }),
];
