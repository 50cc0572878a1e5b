// What an intent would do to its workload, as a pure function of the observed
// workload and its revisions. The semantics are kubectl's (rollout restart,
// rollout undo, scale); the returned mutation is what a dry run validates and
// what the licensed executor applies.
import type * as k8s from "@kubernetes/client-node";
import type { HealingIntentSpec, LabelSelector, WorkloadKind } from "../api/index.ts";
import { stableEqual } from "../lib/stable.ts";
import { rfc3339 } from "../lib/time.ts";
import { matchesSelector } from "./selector.ts";

export type Workload = k8s.V1Deployment | k8s.V1StatefulSet | k8s.V1DaemonSet;

export interface ObservedTarget {
  kind: WorkloadKind;
  name: string;
  workload?: Workload;
  /** ReplicaSets in the namespace (Deployment rollback). */
  replicaSets?: k8s.V1ReplicaSet[];
  /** ControllerRevisions in the namespace (StatefulSet and DaemonSet rollback). */
  controllerRevisions?: k8s.V1ControllerRevision[];
  /** For an undo: the earlier intent's action and the workload as it was before it, or why there is none. */
  undo?: UndoSource;
}

export type UndoSource =
  | {
      ok: true;
      intentName: string;
      intentId: string;
      action: string;
      snapshot: { template?: unknown; replicas?: number; revision?: number };
      /** What the action left: the workload's generation after it, and the replicas a scale set. */
      generationAfter?: number;
      replicasAfter?: number;
    }
  | { ok: false; message: string };

export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";
export const DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision";
// Annotations a Deployment rollback keeps from the Deployment instead of
// copying them from the ReplicaSet: kubectl's annotationsToSkip.
export const DEPLOYMENT_OWNED_ANNOTATIONS = new Set([
  DEPLOYMENT_REVISION,
  "deployment.kubernetes.io/revision-history",
  "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas",
  "kubectl.kubernetes.io/last-applied-configuration",
  "deprecated.deployment.rollback.to",
]);

export type Mutation =
  | { type: "scale"; replicas: number; expectedReplicas: number }
  | { type: "restart" }
  | {
      type: "rollbackDeployment";
      template: k8s.V1PodTemplateSpec;
      annotations: Record<string, string>;
      toRevision: number;
      /** The ReplicaSet whose template is restored. */
      source: string;
    }
  | { type: "rollbackControllerRevision"; data: Record<string, unknown>; toRevision: number; source: string }
  | {
      type: "restoreSnapshot";
      /** The earlier intent's id; its record holds the snapshot. */
      of: string;
      template?: k8s.V1PodTemplateSpec;
      replicas?: number;
      /** The replicas observed when planned (an undo of a scale); part of what is approved. */
      expectedReplicas?: number;
    };

export interface FieldChange {
  field: string;
  from: string;
  to: string;
}

export type Plan =
  | {
      ok: true;
      noop: boolean;
      summary: string;
      changes: FieldChange[];
      mutation: Mutation;
      /** The pod template the workload would have, when the action changes it. */
      template?: k8s.V1PodTemplateSpec;
      fromRevision?: number;
      toRevision?: number;
      /** The workload's metadata.generation the plan was computed from (a write precondition). */
      generation?: number;
    }
  | {
      ok: false;
      reason: "TargetNotFound" | "ActionNotApplicable" | "TargetPaused" | "RevisionNotFound" | "NothingToUndo";
      message: string;
    };

const ref = (kind: string, name: string) => `${kind.toLowerCase()}/${name}`;

export function planAction(spec: HealingIntentSpec, observed: ObservedTarget): Plan {
  const target = ref(observed.kind, observed.name);
  const workload = observed.workload;
  if (!workload)
    return { ok: false, reason: "TargetNotFound", message: `${target} does not exist in the intent's namespace` };
  const plan = planFor(target, spec, observed, workload);
  const generation = workload.metadata?.generation;
  return plan.ok && generation !== undefined ? { ...plan, generation } : plan;
}

function planFor(target: string, spec: HealingIntentSpec, observed: ObservedTarget, workload: Workload): Plan {
  switch (spec.action) {
    case "scale":
      return planScale(target, observed.kind, workload, spec.parameters?.replicas ?? 0);
    case "restart":
      return planRestart(target, observed.kind, workload);
    case "undo":
      return planUndo(target, workload, observed.undo);
    case "rollback":
      return observed.kind === "Deployment"
        ? planDeploymentRollback(
            target,
            workload as k8s.V1Deployment,
            observed.replicaSets ?? [],
            spec.parameters?.revision,
          )
        : planRevisionRollback(
            target,
            observed.kind,
            workload,
            observed.controllerRevisions ?? [],
            spec.parameters?.revision,
          );
  }
}

/** Undo: put back the workload as it was before an earlier intent acted (its snapshot). */
function planUndo(target: string, workload: Workload, source: UndoSource | undefined): Plan {
  if (!source?.ok) {
    return {
      ok: false,
      reason: "NothingToUndo",
      message: source?.message ?? "the earlier intent's action is not known",
    };
  }
  const { snapshot, intentName, intentId } = source;
  if (source.action === "scale") {
    const current = (workload.spec as { replicas?: number }).replicas ?? 1;
    const replicas = snapshot.replicas;
    if (replicas === undefined) {
      return {
        ok: false,
        reason: "NothingToUndo",
        message: `the snapshot before ${intentName} holds no replica count`,
      };
    }
    if (source.replicasAfter !== undefined && current !== source.replicasAfter && current !== replicas) {
      return {
        ok: false,
        reason: "NothingToUndo",
        message: `${target} has ${current} replicas, not the ${source.replicasAfter} ${intentName} left: something changed it since; undoing would overwrite that`,
      };
    }
    return {
      ok: true,
      noop: current === replicas,
      summary:
        current === replicas
          ? `${target} already has the ${replicas} replicas it had before ${intentName}; nothing to undo`
          : `undo ${intentName}: ${target} replicas ${current} -> ${replicas}, as before it`,
      changes: current === replicas ? [] : [{ field: "spec.replicas", from: String(current), to: String(replicas) }],
      mutation: { type: "restoreSnapshot", of: intentId, replicas, expectedReplicas: current },
    };
  }
  const template = snapshot.template as k8s.V1PodTemplateSpec | undefined;
  if (!template) {
    return { ok: false, reason: "NothingToUndo", message: `the snapshot before ${intentName} holds no pod template` };
  }
  const noop = sameTemplate(withoutHash(template), withoutHash(workload.spec?.template));
  const generation = workload.metadata?.generation;
  if (!noop && (source.generationAfter === undefined || generation !== source.generationAfter)) {
    return {
      ok: false,
      reason: "NothingToUndo",
      message:
        source.generationAfter === undefined
          ? `what ${intentName} left is not recorded, so a newer change to ${target} cannot be ruled out; not undoing`
          : `${target} changed since ${intentName} acted (generation ${generation}, it left ${source.generationAfter}); undoing would overwrite the newer change`,
    };
  }
  return {
    ok: true,
    noop,
    summary: noop
      ? `${target} already runs the pod template it had before ${intentName}; nothing to undo`
      : `undo ${intentName}: restore ${target}'s pod template from before it (${images(template)})`,
    changes: noop ? [] : imageChanges(workload.spec?.template, template),
    mutation: { type: "restoreSnapshot", of: intentId, template },
    template,
  };
}

function planScale(target: string, kind: WorkloadKind, workload: Workload, replicas: number): Plan {
  if (kind === "DaemonSet") {
    return {
      ok: false,
      reason: "ActionNotApplicable",
      message: `${target} runs one pod per node and cannot be scaled`,
    };
  }
  const current = (workload.spec as { replicas?: number }).replicas ?? 1;
  return {
    ok: true,
    noop: current === replicas,
    summary:
      current === replicas
        ? `${target} already has ${replicas} replicas; nothing to change`
        : `${target} replicas ${current} -> ${replicas}`,
    changes: current === replicas ? [] : [{ field: "spec.replicas", from: String(current), to: String(replicas) }],
    mutation: { type: "scale", replicas, expectedReplicas: current },
  };
}

function planRestart(target: string, kind: WorkloadKind, workload: Workload): Plan {
  if (kind === "Deployment" && (workload as k8s.V1Deployment).spec?.paused) {
    return {
      ok: false,
      reason: "TargetPaused",
      message: `${target} is paused; resume it before restarting (as kubectl rollout restart requires)`,
    };
  }
  const previous = workload.spec?.template?.metadata?.annotations?.[RESTARTED_AT];
  return {
    ok: true,
    noop: false,
    summary: `restart ${target}: roll every pod by setting the pod-template annotation ${RESTARTED_AT}`,
    changes: [
      {
        field: `spec.template.metadata.annotations[${RESTARTED_AT}]`,
        from: previous ?? "(unset)",
        to: "(time of execution)",
      },
    ],
    mutation: { type: "restart" },
    template: withRestartedAt(workload.spec?.template ?? {}, rfc3339(new Date(0))),
  };
}

export function withRestartedAt(template: k8s.V1PodTemplateSpec, at: string): k8s.V1PodTemplateSpec {
  const copy = structuredClone(template);
  copy.metadata = { ...copy.metadata, annotations: { ...copy.metadata?.annotations, [RESTARTED_AT]: at } };
  return copy;
}

/**
 * kubectl's notion of a workload's history: the objects in its namespace that
 * its label selector selects and whose controller reference (an owner
 * reference with controller: true) is the workload (metav1.IsControlledBy).
 */
export function controlledBy(owner: Workload) {
  const uid = owner.metadata?.uid;
  const selector = owner.spec?.selector as LabelSelector | undefined;
  return (object: { metadata?: k8s.V1ObjectMeta }) =>
    uid !== undefined &&
    (object.metadata?.ownerReferences ?? []).some((o) => o.controller === true && o.uid === uid) &&
    matchesSelector(selector, object.metadata?.labels ?? {});
}

export function withoutHash(template: k8s.V1PodTemplateSpec | undefined): k8s.V1PodTemplateSpec {
  const copy = structuredClone(template ?? {});
  if (copy.metadata?.labels) {
    delete copy.metadata.labels["pod-template-hash"];
  }
  return copy;
}

/** A copy without null-valued fields: the API server treats null and absent alike (e.g. creationTimestamp: null). */
/** A value without null-valued fields (client libraries and the API server differ on them). */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

/** Whether two pod templates are the same, whatever the order of their keys and ignoring null-valued fields. */
export function sameTemplate(a: unknown, b: unknown): boolean {
  return stableEqual(withoutNulls(a ?? {}), withoutNulls(b ?? {}));
}

function images(template: k8s.V1PodTemplateSpec | undefined): string {
  const containers = template?.spec?.containers ?? [];
  const list = containers.map((c) => c.image ?? "?");
  return list.length === 1 ? `image ${list[0]}` : `images ${list.join(", ")}`;
}

function imageChanges(from: k8s.V1PodTemplateSpec | undefined, to: k8s.V1PodTemplateSpec | undefined): FieldChange[] {
  const changes: FieldChange[] = [];
  const before = new Map((from?.spec?.containers ?? []).map((c) => [c.name, c.image ?? ""]));
  for (const container of to?.spec?.containers ?? []) {
    const old = before.get(container.name);
    if (old !== container.image) {
      changes.push({
        field: `image of container ${container.name}`,
        from: old ?? "(no such container)",
        to: container.image ?? "",
      });
    }
  }
  if (changes.length === 0 || !sameTemplate(stripImages(from), stripImages(to))) {
    changes.push({ field: "spec.template", from: "current pod template", to: "pod template of the target revision" });
  }
  return changes;
}

function stripImages(template: k8s.V1PodTemplateSpec | undefined) {
  const copy = withoutHash(template);
  for (const c of copy.spec?.containers ?? []) c.image = "";
  return copy;
}

/** Go's strconv.ParseInt, base 10: the revision annotation's number, or undefined when it is not one. */
function parseRevision(value: string): number | undefined {
  return /^[+-]?\d+$/.test(value) ? Number(value) : undefined;
}

/** deploymentutil.Revision: a ReplicaSet without the annotation has revision 0; a malformed one has none. */
export function replicaSetRevision(rs: { metadata?: k8s.V1ObjectMeta }): number | undefined {
  const value = rs.metadata?.annotations?.[DEPLOYMENT_REVISION];
  return value === undefined ? 0 : parseRevision(value);
}

/**
 * kubectl's deploymentRevision: the ReplicaSet of the requested revision, or,
 * when none is requested (0), the one with the second-highest revision among
 * the owned ReplicaSets, whatever the Deployment's current revision is.
 */
export function chooseReplicaSet<T extends { metadata?: k8s.V1ObjectMeta }>(
  owned: T[],
  requested: number | undefined,
): T | undefined {
  let latest: { rs: T; revision: number } | undefined;
  let previous: { rs: T; revision: number } | undefined;
  for (const rs of owned) {
    const revision = replicaSetRevision(rs);
    if (revision === undefined) continue;
    if (requested) {
      if (revision === requested) return rs;
    } else if (!latest || latest.revision < revision) {
      previous = latest;
      latest = { rs, revision };
    } else if (!previous || previous.revision < revision) {
      previous = { rs, revision };
    }
  }
  return requested ? undefined : previous?.rs;
}

/**
 * kubectl's findHistory: the ControllerRevision of the requested revision, or,
 * when none is requested (0), the second to last of the owned ones sorted by
 * revision.
 */
export function chooseControllerRevision<T extends { revision: number }>(
  owned: T[],
  requested: number | undefined,
): T | undefined {
  if (requested) return owned.find((r) => r.revision === requested);
  if (owned.length <= 1) return undefined;
  return [...owned].sort((a, b) => a.revision - b.revision)[owned.length - 2];
}

function planDeploymentRollback(
  target: string,
  deployment: k8s.V1Deployment,
  replicaSets: k8s.V1ReplicaSet[],
  requested: number | undefined,
): Plan {
  if (deployment.spec?.paused) {
    return {
      ok: false,
      reason: "TargetPaused",
      message: `${target} is paused; resume it before rolling back (as kubectl rollout undo requires)`,
    };
  }
  const owned = replicaSets.filter(controlledBy(deployment));
  const current = parseRevision(deployment.metadata?.annotations?.[DEPLOYMENT_REVISION] ?? "0") ?? 0;
  const source = chooseReplicaSet(owned, requested);
  if (!source) {
    return revisionNotFound(
      target,
      owned.map(replicaSetRevision).filter((r) => r !== undefined),
      requested,
    );
  }
  const toRevision = replicaSetRevision(source) ?? 0;
  const template = withoutHash(source.spec?.template);
  const annotations = Object.fromEntries(
    Object.entries(source.metadata?.annotations ?? {}).filter(([key]) => !DEPLOYMENT_OWNED_ANNOTATIONS.has(key)),
  );
  const currentTemplate = withoutHash(deployment.spec?.template);
  return {
    ok: true,
    ...describeRollback(
      target,
      current,
      currentTemplate,
      toRevision,
      template,
      sameTemplate(template, currentTemplate),
    ),
    mutation: { type: "rollbackDeployment", template, annotations, toRevision, source: source.metadata?.name ?? "" },
    template,
    fromRevision: current,
    toRevision,
  };
}

function planRevisionRollback(
  target: string,
  kind: WorkloadKind,
  workload: Workload,
  revisions: k8s.V1ControllerRevision[],
  requested: number | undefined,
): Plan {
  const owned = revisions.filter(controlledBy(workload)).sort((a, b) => a.revision - b.revision);
  const updateRevision = kind === "StatefulSet" ? (workload as k8s.V1StatefulSet).status?.updateRevision : undefined;
  const current =
    owned.find((r) => r.metadata?.name === updateRevision)?.revision ?? owned[owned.length - 1]?.revision ?? 0;
  const source = chooseControllerRevision(owned, requested);
  if (!source) {
    return revisionNotFound(
      target,
      owned.map((r) => r.revision),
      requested,
    );
  }
  const template = revisionTemplate(source);
  return {
    ok: true,
    ...describeRollback(
      target,
      current,
      workload.spec?.template,
      source.revision,
      template,
      sameTemplate(template, workload.spec?.template),
    ),
    mutation: {
      type: "rollbackControllerRevision",
      data: source.data as Record<string, unknown>,
      toRevision: source.revision,
      source: source.metadata?.name ?? "",
    },
    template,
    fromRevision: current,
    toRevision: source.revision,
  };
}

/** The pod template a ControllerRevision restores (its data is a strategic-merge patch that replaces spec.template). */
export function revisionTemplate(revision: { data?: unknown }): k8s.V1PodTemplateSpec {
  const data = (revision.data ?? {}) as { spec?: { template?: k8s.V1PodTemplateSpec } };
  return stripPatchDirectives(data.spec?.template);
}

function revisionNotFound(target: string, available: number[], requested: number | undefined): Plan {
  const listed = [...available].sort((a, b) => a - b).join(", ") || "none";
  return {
    ok: false,
    reason: "RevisionNotFound",
    message: requested
      ? `${target} has no revision ${requested}; available: ${listed}`
      : `${target} has no previous revision to roll back to (revisions: ${listed})`,
  };
}

function describeRollback(
  target: string,
  current: number,
  currentTemplate: k8s.V1PodTemplateSpec | undefined,
  toRevision: number,
  template: k8s.V1PodTemplateSpec,
  noop: boolean,
): { noop: boolean; summary: string; changes: FieldChange[] } {
  return {
    noop,
    summary: noop
      ? `${target} already runs the pod template of revision ${toRevision}; nothing to change`
      : `rollback ${target} from revision ${current} (${images(currentTemplate)}) to revision ${toRevision} (${images(template)})`,
    changes: noop ? [] : imageChanges(currentTemplate, template),
  };
}

function stripPatchDirectives(template: k8s.V1PodTemplateSpec | undefined): k8s.V1PodTemplateSpec {
  const copy = structuredClone(template ?? {}) as Record<string, unknown>;
  delete copy.$patch;
  return copy as k8s.V1PodTemplateSpec;
}
