// The CRDs are generated from the zod schemas (the single source of truth):
// `npm run gen:crds` writes crds/, and a test fails if crds/ has drifted.
import { z } from "zod";
import { ApprovalPolicySpec, ApprovalPolicyStatus } from "./approvalpolicy.ts";
import { GROUP, VERSION } from "./common.ts";
import { HealingIntentSpec, HealingIntentStatus } from "./healingintent.ts";
import { RollbackPlanSpec, RollbackPlanStatus } from "./rollbackplan.ts";

type JsonSchema = { [key: string]: unknown };

interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface CrdDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  columns: PrinterColumn[];
}

export const CRD_DEFINITIONS: CrdDefinition[] = [
  {
    kind: "HealingIntent",
    plural: "healingintents",
    singular: "healingintent",
    shortNames: ["hi"],
    description:
      "A proposed rollback, restart or scale of a workload in this namespace, with its justification, confidence and incident. The ARF operator decides under ApprovalPolicy whether it may run.",
    spec: HealingIntentSpec,
    status: HealingIntentStatus,
    columns: [
      { name: "Action", type: "string", jsonPath: ".spec.action", description: "The proposed action." },
      { name: "Kind", type: "string", jsonPath: ".spec.target.kind", description: "Kind of the target workload." },
      { name: "Target", type: "string", jsonPath: ".spec.target.name", description: "Name of the target workload." },
      { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Where the intent is." },
      { name: "Confidence", type: "number", jsonPath: ".spec.confidence", description: "The proposer's confidence." },
      {
        name: "Recommendation",
        type: "string",
        jsonPath: ".status.recommendation.summary",
        description: "What would change.",
        priority: 1,
      },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "Age." },
    ],
  },
  {
    kind: "ApprovalPolicy",
    plural: "approvalpolicies",
    singular: "approvalpolicy",
    shortNames: ["ap"],
    description:
      "Which HealingIntents in this namespace may run and how: advisory, approval by people, or autonomous, with limits and freeze windows.",
    spec: ApprovalPolicySpec,
    status: ApprovalPolicyStatus,
    columns: [
      { name: "Mode", type: "string", jsonPath: ".spec.mode", description: "The execution mode." },
      {
        name: "Required",
        type: "integer",
        jsonPath: ".spec.requiredApprovals",
        description: "Approvals required in approval mode.",
      },
      {
        name: "Ready",
        type: "string",
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        description: "Whether the policy is valid and in force.",
      },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "Age." },
    ],
  },
  {
    kind: "RollbackPlan",
    plural: "rollbackplans",
    singular: "rollbackplan",
    shortNames: ["rbp"],
    description:
      "How to revert an action on a workload, and the auto-rollback window that watches its health and Prometheus queries after the action.",
    spec: RollbackPlanSpec,
    status: RollbackPlanStatus,
    columns: [
      { name: "Kind", type: "string", jsonPath: ".spec.target.kind", description: "Kind of the target workload." },
      { name: "Target", type: "string", jsonPath: ".spec.target.name", description: "Name of the target workload." },
      { name: "Window", type: "string", jsonPath: ".spec.autoRollback.duration", description: "Length of the window." },
      { name: "OnFailure", type: "string", jsonPath: ".spec.onFailure", description: "What happens on failure." },
      { name: "State", type: "string", jsonPath: ".status.window.state", description: "State of the last window." },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "Age." },
    ],
  },
];

/** Converts a zod schema into a structural OpenAPI v3 schema as CRDs require. */
export function toStructuralSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", unrepresentable: "throw" }) as JsonSchema;
  return makeStructural(json);
}

function makeStructural(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$schema") continue;
    // Pruning already drops unknown fields, and v1 CRDs reject additionalProperties: false.
    if (key === "additionalProperties" && value === false) continue;
    // Integers carry JavaScript's safe-integer bounds, which are noise in a CRD.
    if (
      (key === "maximum" && value === Number.MAX_SAFE_INTEGER) ||
      (key === "minimum" && value === Number.MIN_SAFE_INTEGER)
    )
      continue;
    out[key] = transformChild(key, value);
  }
  // zod spells date-time as format + its own regex. Both stay: the API server's format alone
  // also takes a lowercase t or z, any character before the fraction and any offset, which zod refuses.
  // A loose object with no declared fields holds arbitrary data (a pod template).
  if (out.type === "object" && isEmptySchema(out.additionalProperties) && isEmptyObject(out.properties)) {
    delete out.additionalProperties;
    delete out.properties;
    out["x-kubernetes-preserve-unknown-fields"] = true;
  }
  return out;
}

function transformChild(key: string, value: unknown): unknown {
  if (key === "properties" && isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([name, child]) => [name, makeStructural(child as JsonSchema)]),
    );
  }
  if ((key === "items" || key === "additionalProperties") && isObject(value)) return makeStructural(value);
  return value;
}

const isObject = (value: unknown): value is JsonSchema =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isEmptyObject = (value: unknown) => value === undefined || (isObject(value) && Object.keys(value).length === 0);
const isEmptySchema = (value: unknown) => value === true || (isObject(value) && Object.keys(value).length === 0);

export function buildCrd(def: CrdDefinition): JsonSchema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { "app.kubernetes.io/part-of": "arf-operator" },
    },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: ["arf"],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.columns,
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: def.description,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string", description: "APIVersion of this object: arf.dev/v1alpha1." },
                kind: { type: "string", description: `Kind of this object: ${def.kind}.` },
                metadata: { type: "object" },
                spec: toStructuralSchema(def.spec),
                // A new object reads as observedGeneration 0 until the operator writes its status, so
                // Flux's kstatus and Argo CD see it in progress rather than healthy before anyone looked.
                status: { ...toStructuralSchema(def.status), default: { observedGeneration: 0 } },
              },
            },
          },
        },
      ],
    },
  };
}

export const crdFileName = (def: CrdDefinition) => `${GROUP}_${def.plural}.yaml`;
