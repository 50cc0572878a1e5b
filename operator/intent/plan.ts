// What an intent would do to its workload, as a pure function of the observed
// workload and its revisions. The semantics are kubectl's (rollout restart,
// rollout undo, scale); the returned mutation is what a dry run validates and
// what the licensed executor applies.
import type * as k8s from "@kubernetes/client-node";
import type { HealingIntentSpec, WorkloadKind } from "../api/index.ts";
import { stableEqual } from "../lib/stable.ts";

export type Workload = k8s.V1Deployment | k8s.V1StatefulSet | k8s.V1DaemonSet;

export interface ObservedTarget {
  kind: WorkloadKind;
  name: string;
  workload?: Workload;
  /** ReplicaSets in the namespace (Deployment rollback). */
  replicaSets?: k8s.V1ReplicaSet[];
  /** ControllerRevisions in the namespace (StatefulSet and DaemonSet rollback). */
  controllerRevisions?: k8s.V1ControllerRevision[];
}

export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";
export const DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision";
// Annotations the Deployment controller owns; kubectl never copies them back.
export const DEPLOYMENT_OWNED_ANNOTATIONS = new Set([
  DEPLOYMENT_REVISION,
  "deployment.kubernetes.io/revision-history",
  "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas",
  "kubectl.kubernetes.io/last-applied-configuration",
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
  | { type: "rollbackControllerRevision"; data: Record<string, unknown>; toRevision: number; source: string };

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
    }
  | {
      ok: false;
      reason: "TargetNotFound" | "ActionNotApplicable" | "TargetPaused" | "RevisionNotFound";
      message: string;
    };

const ref = (kind: string, name: string) => `${kind.toLowerCase()}/${name}`;

export function planAction(spec: HealingIntentSpec, observed: ObservedTarget): Plan {
  const target = ref(observed.kind, observed.name);
  const workload = observed.workload;
  if (!workload)
    return { ok: false, reason: "TargetNotFound", message: `${target} does not exist in the intent's namespace` };
  switch (spec.action) {
    case "scale":
      return planScale(target, observed.kind, workload, spec.parameters?.replicas ?? 0);
    case "restart":
      return planRestart(target, observed.kind, workload);
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
    template: withRestartedAt(workload.spec?.template ?? {}, "1970-01-01T00:00:00Z"),
  };
}

export function withRestartedAt(template: k8s.V1PodTemplateSpec, at: string): k8s.V1PodTemplateSpec {
  const copy = structuredClone(template);
  copy.metadata = { ...copy.metadata, annotations: { ...copy.metadata?.annotations, [RESTARTED_AT]: at } };
  return copy;
}

function ownedBy(owner: Workload) {
  return (object: { metadata?: k8s.V1ObjectMeta }) =>
    (object.metadata?.ownerReferences ?? []).some((o) => o.uid === owner.metadata?.uid && o.controller !== false);
}

export function withoutHash(template: k8s.V1PodTemplateSpec | undefined): k8s.V1PodTemplateSpec {
  const copy = structuredClone(template ?? {});
  if (copy.metadata?.labels) {
    delete copy.metadata.labels["pod-template-hash"];
  }
  return copy;
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
  if (changes.length === 0 || JSON.stringify(stripImages(from)) !== JSON.stringify(stripImages(to))) {
    changes.push({ field: "spec.template", from: "current pod template", to: "pod template of the target revision" });
  }
  return changes;
}

function stripImages(template: k8s.V1PodTemplateSpec | undefined) {
  const copy = withoutHash(template);
  for (const c of copy.spec?.containers ?? []) c.image = "";
  return copy;
}

function chooseRevision(current: number, available: number[], requested: number | undefined): number | undefined {
  if (requested !== undefined) return available.includes(requested) ? requested : undefined;
  return available.filter((r) => r < current).sort((a, b) => b - a)[0];
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
  const owned = replicaSets.filter(ownedBy(deployment));
  const revisionOf = (rs: k8s.V1ReplicaSet) => Number(rs.metadata?.annotations?.[DEPLOYMENT_REVISION] ?? "0");
  const current = Number(deployment.metadata?.annotations?.[DEPLOYMENT_REVISION] ?? "0");
  const available = owned.map(revisionOf).filter((r) => r > 0);
  const toRevision = chooseRevision(current, available, requested);
  if (toRevision === undefined) return revisionNotFound(target, current, available, requested);
  const source = owned.find((rs) => revisionOf(rs) === toRevision) as k8s.V1ReplicaSet;
  const template = withoutHash(source.spec?.template);
  const annotations = Object.fromEntries(
    Object.entries(source.metadata?.annotations ?? {}).filter(([key]) => !DEPLOYMENT_OWNED_ANNOTATIONS.has(key)),
  );
  return {
    ok: true,
    ...describeRollback(target, current, withoutHash(deployment.spec?.template), toRevision, template),
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
  const owned = revisions.filter(ownedBy(workload)).sort((a, b) => a.revision - b.revision);
  const updateRevision = kind === "StatefulSet" ? (workload as k8s.V1StatefulSet).status?.updateRevision : undefined;
  const current =
    owned.find((r) => r.metadata?.name === updateRevision)?.revision ?? owned[owned.length - 1]?.revision ?? 0;
  const toRevision = chooseRevision(
    current,
    owned.map((r) => r.revision),
    requested,
  );
  if (toRevision === undefined) {
    return revisionNotFound(
      target,
      current,
      owned.map((r) => r.revision),
      requested,
    );
  }
  const source = owned.find((r) => r.revision === toRevision) as k8s.V1ControllerRevision;
  const data = (source.data ?? {}) as { spec?: { template?: k8s.V1PodTemplateSpec } };
  const template = stripPatchDirectives(data.spec?.template);
  return {
    ok: true,
    ...describeRollback(target, current, workload.spec?.template, toRevision, template),
    mutation: {
      type: "rollbackControllerRevision",
      data: source.data as Record<string, unknown>,
      toRevision,
      source: source.metadata?.name ?? "",
    },
    template,
    fromRevision: current,
    toRevision,
  };
}

function revisionNotFound(target: string, current: number, available: number[], requested: number | undefined): Plan {
  const listed = [...available].sort((a, b) => a - b).join(", ") || "none";
  return {
    ok: false,
    reason: "RevisionNotFound",
    message:
      requested !== undefined
        ? `${target} has no revision ${requested}; available: ${listed}`
        : `${target} has no revision before ${current} to roll back to`,
  };
}

function describeRollback(
  target: string,
  current: number,
  currentTemplate: k8s.V1PodTemplateSpec | undefined,
  toRevision: number,
  template: k8s.V1PodTemplateSpec,
): { noop: boolean; summary: string; changes: FieldChange[] } {
  const noop = stableEqual(withoutHash(template), withoutHash(currentTemplate));
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
