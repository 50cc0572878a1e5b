// Building blocks shared by the three CRDs. Every bound here (maxLength,
// maxItems) exists so the API server's CEL cost estimator accepts the rules.
import { z } from "zod";
import { GO_DURATION_MAX_LENGTH, GO_DURATION_PATTERN, parseDuration } from "../lib/duration.ts";

export const GROUP = "arf.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const objectName = (what: string) => z.string().min(1).max(253).regex(DNS1123_SUBDOMAIN).describe(what);

/** The longest duration any field accepts unless it says otherwise: one year. */
export const MAX_DURATION = "8760h";

/**
 * A duration field: the bounded Go syntax of lib/duration.ts (so CEL's duration()
 * can never overflow), greater than zero and at most `max`. The range is a CEL
 * rule on the string itself, so the API server names exactly this field; it
 * skips strings the pattern already rejects, as the zod refinement does.
 */
export const duration = (what: string, max: string = MAX_DURATION) => {
  const maxMs = parseDuration(max);
  if (maxMs === undefined) throw new Error(`bad maximum duration ${max}`);
  const range = `must be greater than 0s and at most ${max}`;
  return z
    .string()
    .max(GO_DURATION_MAX_LENGTH)
    .regex(
      new RegExp(GO_DURATION_PATTERN),
      "must be a duration such as 30s, 10m, 1h30m or 1.5h: units h, m, s and ms, each at most once and in that order",
    )
    .refine((text) => {
      const ms = parseDuration(text);
      return ms === undefined || (ms > 0 && ms <= maxMs);
    }, range)
    .meta({
      "x-kubernetes-validations": [
        {
          rule: `!self.matches(r'${GO_DURATION_PATTERN}') || (duration(self) > duration('0s') && duration(self) <= duration('${max}'))`,
          message: range,
          reason: "FieldValueInvalid",
        },
      ],
    })
    .describe(
      `${what} A duration such as 30s, 10m, 1h30m or 1.5h (units h, m, s and ms, each at most once and in that order), greater than 0s and at most ${max}.`,
    );
};

/** zod's date-time, which the CRD keeps as its pattern (uppercase T and Z, seconds, a real date). */
export const timestamp = (what: string) => z.iso.datetime({ offset: true }).describe(what);

export const WorkloadKind = z
  .enum(["Deployment", "StatefulSet", "DaemonSet"])
  .describe("Kind of the workload, in the apps/v1 API group.");
export type WorkloadKind = z.infer<typeof WorkloadKind>;

export const Action = z.enum(["rollback", "restart", "scale", "undo"]);
export type Action = z.infer<typeof Action>;

export const WorkloadRef = z
  .strictObject({
    kind: WorkloadKind,
    name: objectName("Name of the workload. It is always looked up in the namespace of the object that refers to it."),
  })
  .describe("A Deployment, StatefulSet or DaemonSet in this object's own namespace.");
export type WorkloadRef = z.infer<typeof WorkloadRef>;

// Label syntax as Kubernetes checks it (IsQualifiedName, IsValidLabelValue).
const LABEL_NAME = "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?";
const DNS_SUBDOMAIN = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
/** A label key: an optional DNS-subdomain prefix of at most 253 characters and a slash, then a name of at most 63. */
export const LABEL_KEY_PATTERN = `^(${DNS_SUBDOMAIN}/)?${LABEL_NAME}$`;
/** A label value: empty, or a name of at most 63 characters. */
export const LABEL_VALUE_PATTERN = `^(${LABEL_NAME})?$`;
const LABEL_KEY_MESSAGE =
  "must be a label key: an optional DNS subdomain prefix of at most 253 characters and '/', then at most 63 of A-Z, a-z, 0-9, '-', '_' and '.', beginning and ending with a letter or digit";
const LABEL_KEYS_MESSAGE = LABEL_KEY_MESSAGE.replace("must be", "every key must be");
const LABEL_VALUE_MESSAGE =
  "must be a label value: empty, or at most 63 of A-Z, a-z, 0-9, '-', '_' and '.', beginning and ending with a letter or digit";
const labelKeyRe = new RegExp(LABEL_KEY_PATTERN);
// The prefix bound the pattern cannot express; indexOf is -1 when there is no prefix.
const isLabelKey = (key: string) => key.length <= 317 && labelKeyRe.test(key) && key.indexOf("/") <= 253;

const labelKey = (what: string) =>
  z
    .string()
    .min(1)
    .max(317)
    .regex(labelKeyRe, LABEL_KEY_MESSAGE)
    .refine((key) => key.indexOf("/") <= 253, "the prefix of a label key must be at most 253 characters")
    .meta({
      "x-kubernetes-validations": [
        {
          rule: "self.indexOf('/') <= 253",
          message: "the prefix of a label key must be at most 253 characters",
          reason: "FieldValueInvalid",
        },
      ],
    })
    .describe(what);

const labelValue = () => z.string().max(63).regex(new RegExp(LABEL_VALUE_PATTERN), LABEL_VALUE_MESSAGE);

const SET_OPERATORS = ["In", "NotIn"];

const LabelSelectorRequirement = z
  .strictObject({
    key: labelKey("The label key the requirement applies to."),
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]).describe("How the key relates to the values."),
    values: z
      .array(labelValue())
      .max(64)
      .optional()
      .describe("Values for In and NotIn, at least one; must be empty for Exists and DoesNotExist."),
  })
  .superRefine((requirement, ctx) => {
    const count = requirement.values?.length ?? 0;
    if (SET_OPERATORS.includes(requirement.operator) && count === 0) {
      ctx.addIssue({ code: "custom", path: ["values"], message: "In and NotIn need at least one value" });
    }
    if (!SET_OPERATORS.includes(requirement.operator) && count > 0) {
      ctx.addIssue({ code: "custom", path: ["values"], message: "Exists and DoesNotExist take no values" });
    }
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: "!(self.operator in ['In', 'NotIn']) || (has(self.values) && self.values.size() > 0)",
        message: "In and NotIn need at least one value",
        fieldPath: ".values",
        reason: "FieldValueRequired",
      },
      {
        rule: "self.operator in ['In', 'NotIn'] || !has(self.values) || self.values.size() == 0",
        message: "Exists and DoesNotExist take no values",
        fieldPath: ".values",
        reason: "FieldValueForbidden",
      },
    ],
  })
  .describe("A set-based requirement on one label.");

export const LabelSelector = z
  .strictObject({
    matchLabels: z
      .record(z.string(), labelValue())
      .refine((labels) => Object.keys(labels).every(isLabelKey), LABEL_KEYS_MESSAGE)
      .optional()
      .meta({
        maxProperties: 64,
        "x-kubernetes-validations": [
          {
            rule: `self.all(k, k.size() <= 317 && k.matches(r'${LABEL_KEY_PATTERN}') && k.indexOf('/') <= 253)`,
            message: LABEL_KEYS_MESSAGE,
            reason: "FieldValueInvalid",
          },
        ],
      })
      .describe("Labels the target must carry, all of them."),
    matchExpressions: z
      .array(LabelSelectorRequirement)
      .max(16)
      .optional()
      .describe("Set-based requirements on the target's labels, all of them."),
  })
  .describe("A standard Kubernetes label selector; empty matches every workload.");
export type LabelSelector = z.infer<typeof LabelSelector>;

export const ConditionStatus = z.enum(["True", "False", "Unknown"]);

export const Condition = z.strictObject({
  type: z.string().min(1).max(316).describe("Type of the condition, in CamelCase, e.g. Ready."),
  status: ConditionStatus.describe("True, False or Unknown."),
  observedGeneration: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("The .metadata.generation the condition was computed from."),
  lastTransitionTime: timestamp("When status last changed; it does not change when only the message does."),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe("A CamelCase, machine-readable reason for the last transition."),
  message: z.string().max(32768).describe("A human-readable explanation."),
});
export type Condition = z.infer<typeof Condition>;

export const Conditions = z
  .array(Condition)
  .max(32)
  .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
  .describe("The latest observations of the object's state, one per type.");
