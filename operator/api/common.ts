// Building blocks shared by the three CRDs. Every bound here (maxLength,
// maxItems) exists so the API server's CEL cost estimator accepts the rules.
import { z } from "zod";
import { GO_DURATION_PATTERN, parseDuration } from "../lib/duration.ts";

export const GROUP = "arf.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const objectName = (what: string) => z.string().min(1).max(253).regex(DNS1123_SUBDOMAIN).describe(what);

export const duration = (what: string) =>
  z
    .string()
    .max(64)
    .regex(new RegExp(GO_DURATION_PATTERN))
    .refine((text) => (parseDuration(text) ?? 0) > 0, "must be a positive duration such as 30s, 10m or 1h")
    .describe(`${what} A Go duration such as 30s, 10m or 1h30m.`);

export const timestamp = (what: string) => z.iso.datetime({ offset: true }).describe(what);

export const WorkloadKind = z
  .enum(["Deployment", "StatefulSet", "DaemonSet"])
  .describe("Kind of the workload, in the apps/v1 API group.");
export type WorkloadKind = z.infer<typeof WorkloadKind>;

export const Action = z.enum(["rollback", "restart", "scale"]);
export type Action = z.infer<typeof Action>;

export const WorkloadRef = z
  .strictObject({
    kind: WorkloadKind,
    name: objectName("Name of the workload. It is always looked up in the namespace of the object that refers to it."),
  })
  .describe("A Deployment, StatefulSet or DaemonSet in this object's own namespace.");
export type WorkloadRef = z.infer<typeof WorkloadRef>;

const LabelSelectorRequirement = z.strictObject({
  key: z.string().min(1).max(317).describe("The label key the requirement applies to."),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]).describe("How the key relates to the values."),
  values: z
    .array(z.string().max(63))
    .max(64)
    .optional()
    .describe("Values for In and NotIn; must be empty for Exists and DoesNotExist."),
});

export const LabelSelector = z
  .strictObject({
    matchLabels: z
      .record(z.string().max(317), z.string().max(63))
      .optional()
      .meta({ maxProperties: 64 })
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
