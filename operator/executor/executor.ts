// The only code that changes workloads. It is loaded by a dynamic import,
// and only after a license has been verified (see edition.ts); the OSS
// edition never reaches it. Every action follows kubectl's semantics, writes
// with the field manager "arf-operator", and is idempotent against the live
// state: applying an attempt that already took effect changes nothing, which
// is what makes a resumed attempt safe after a crash.
import * as k8s from "@kubernetes/client-node";
import type { WorkloadKind } from "../api/index.ts";
import type { DryRunResult } from "../intent/evaluate.ts";
import { DEPLOYMENT_OWNED_ANNOTATIONS, type Plan, RESTARTED_AT, withoutHash } from "../intent/plan.ts";
import { stableEqual } from "../lib/stable.ts";

export const FIELD_MANAGER = "arf-operator";

export interface Desired {
  type: "scale" | "restart" | "rollbackDeployment" | "rollbackControllerRevision";
  replicas?: number;
  expectedReplicas?: number;
  restartedAt?: string;
  source?: string;
  fromRevision?: number;
  toRevision?: number;
}

/** Fixes what an attempt will do, from the plan and the attempt's start time. */
export function desiredFromPlan(plan: Extract<Plan, { ok: true }>, startedAt: string): Desired {
  const m = plan.mutation;
  switch (m.type) {
    case "scale":
      return { type: "scale", replicas: m.replicas, expectedReplicas: m.expectedReplicas };
    case "restart":
      return { type: "restart", restartedAt: startedAt };
    case "rollbackDeployment":
    case "rollbackControllerRevision":
      return {
        type: m.type,
        source: m.source,
        toRevision: m.toRevision,
        ...(plan.fromRevision !== undefined ? { fromRevision: plan.fromRevision } : {}),
      };
  }
}

/** A failure that retrying cannot fix (the world moved on); the attempt ends Failed. */
export class PermanentFailure extends Error {}

export interface ActionResult {
  changed: boolean;
  message: string;
}

export interface Executor {
  apply(namespace: string, kind: WorkloadKind, name: string, desired: Desired): Promise<ActionResult>;
  dryRun(namespace: string, kind: WorkloadKind, name: string, desired: Desired): Promise<DryRunResult>;
}

const strategic = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);
const jsonPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);

function apiMessage(error: unknown): string {
  if (error instanceof k8s.ApiException) {
    try {
      return String(JSON.parse(String(error.body)).message);
    } catch {
      return String(error.body);
    }
  }
  return error instanceof Error ? error.message : String(error);
}

export function createExecutor(kc: k8s.KubeConfig): Executor {
  const apps = kc.makeApiClient(k8s.AppsV1Api);

  async function read(namespace: string, kind: WorkloadKind, name: string) {
    if (kind === "Deployment") return apps.readNamespacedDeployment({ namespace, name });
    if (kind === "StatefulSet") return apps.readNamespacedStatefulSet({ namespace, name });
    return apps.readNamespacedDaemonSet({ namespace, name });
  }

  async function patch(
    namespace: string,
    kind: WorkloadKind,
    name: string,
    body: unknown,
    options: ReturnType<typeof k8s.setHeaderOptions>,
    dryRun?: "All",
  ) {
    const params = { namespace, name, body, fieldManager: FIELD_MANAGER, ...(dryRun ? { dryRun } : {}) };
    if (kind === "Deployment") return apps.patchNamespacedDeployment(params, options);
    if (kind === "StatefulSet") return apps.patchNamespacedStatefulSet(params, options);
    return apps.patchNamespacedDaemonSet(params, options);
  }

  /** What to send for an attempt, or undefined when the live state already matches it. */
  async function change(
    namespace: string,
    kind: WorkloadKind,
    name: string,
    desired: Desired,
  ): Promise<
    | { kind: "done"; message: string }
    | { kind: "scale"; body: unknown; message: string }
    | { kind: "patch"; body: unknown; options: ReturnType<typeof k8s.setHeaderOptions>; message: string }
  > {
    const target = `${kind.toLowerCase()}/${name}`;
    switch (desired.type) {
      case "scale": {
        if (kind === "DaemonSet") throw new PermanentFailure(`${target} cannot be scaled`);
        const scale =
          kind === "Deployment"
            ? await apps.readNamespacedDeploymentScale({ namespace, name })
            : await apps.readNamespacedStatefulSetScale({ namespace, name });
        const current = scale.spec?.replicas ?? 0;
        if (current === desired.replicas) return { kind: "done", message: `${target} has ${current} replicas` };
        if (current !== desired.expectedReplicas) {
          throw new PermanentFailure(
            `${target} has ${current} replicas, not the ${desired.expectedReplicas} observed when the intent was decided; not scaling`,
          );
        }
        // The test operation makes the API server refuse the write if replicas changed meanwhile.
        return {
          kind: "scale",
          body: [
            { op: "test", path: "/spec/replicas", value: desired.expectedReplicas },
            { op: "replace", path: "/spec/replicas", value: desired.replicas },
          ],
          message: `scaled ${target} from ${current} to ${desired.replicas} replicas`,
        };
      }
      case "restart": {
        const workload = await read(namespace, kind, name);
        if (kind === "Deployment" && (workload as k8s.V1Deployment).spec?.paused)
          throw new PermanentFailure(`${target} is paused`);
        if (workload.spec?.template?.metadata?.annotations?.[RESTARTED_AT] === desired.restartedAt) {
          return { kind: "done", message: `${target} already restarted at ${desired.restartedAt}` };
        }
        return {
          kind: "patch",
          body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: desired.restartedAt } } } } },
          options: strategic,
          message: `restarted ${target} (${RESTARTED_AT}=${desired.restartedAt})`,
        };
      }
      case "rollbackDeployment": {
        const deployment = (await read(namespace, kind, name)) as k8s.V1Deployment;
        if (deployment.spec?.paused) throw new PermanentFailure(`${target} is paused`);
        const rs = await apps.readNamespacedReplicaSet({ namespace, name: desired.source ?? "" }).catch((error) => {
          throw new PermanentFailure(
            `ReplicaSet ${desired.source} of revision ${desired.toRevision} is gone: ${apiMessage(error)}`,
          );
        });
        const template = withoutHash(rs.spec?.template);
        if (stableEqual(template, withoutHash(deployment.spec?.template))) {
          return { kind: "done", message: `${target} already runs the template of ReplicaSet ${desired.source}` };
        }
        // As kubectl: keep the Deployment's own annotations, take the rest from the ReplicaSet.
        const annotations: Record<string, string> = {};
        for (const [key, value] of Object.entries(deployment.metadata?.annotations ?? {})) {
          if (DEPLOYMENT_OWNED_ANNOTATIONS.has(key)) annotations[key] = value;
        }
        for (const [key, value] of Object.entries(rs.metadata?.annotations ?? {})) {
          if (!DEPLOYMENT_OWNED_ANNOTATIONS.has(key)) annotations[key] = value;
        }
        return {
          kind: "patch",
          body: [
            { op: "replace", path: "/spec/template", value: template },
            { op: "replace", path: "/metadata/annotations", value: annotations },
          ],
          options: jsonPatch,
          message: `rolled ${target} back to revision ${desired.toRevision} (ReplicaSet ${desired.source})`,
        };
      }
      case "rollbackControllerRevision": {
        const workload = await read(namespace, kind, name);
        const revision = await apps
          .readNamespacedControllerRevision({ namespace, name: desired.source ?? "" })
          .catch((error) => {
            throw new PermanentFailure(`ControllerRevision ${desired.source} is gone: ${apiMessage(error)}`);
          });
        const data = revision.data as { spec?: { template?: Record<string, unknown> } };
        const { $patch: _directive, ...template } = data.spec?.template ?? {};
        if (stableEqual(template, workload.spec?.template)) {
          return { kind: "done", message: `${target} already runs the template of revision ${desired.toRevision}` };
        }
        return {
          kind: "patch",
          body: revision.data,
          options: strategic,
          message: `rolled ${target} back to revision ${desired.toRevision} (ControllerRevision ${desired.source})`,
        };
      }
    }
  }

  async function send(
    namespace: string,
    kind: WorkloadKind,
    name: string,
    desired: Desired,
    dryRun?: "All",
  ): Promise<ActionResult> {
    const planned = await change(namespace, kind, name, desired);
    if (planned.kind === "done") return { changed: false, message: planned.message };
    try {
      if (planned.kind === "scale") {
        const params = {
          namespace,
          name,
          body: planned.body,
          fieldManager: FIELD_MANAGER,
          ...(dryRun ? { dryRun } : {}),
        };
        if (kind === "Deployment") await apps.patchNamespacedDeploymentScale(params, jsonPatch);
        else await apps.patchNamespacedStatefulSetScale(params, jsonPatch);
      } else {
        await patch(namespace, kind, name, planned.body, planned.options, dryRun);
      }
    } catch (error) {
      if (error instanceof k8s.ApiException && (error.code === 422 || error.code === 400 || error.code === 404)) {
        throw new PermanentFailure(`the API server refused: ${apiMessage(error)}`);
      }
      throw error;
    }
    return { changed: true, message: planned.message };
  }

  return {
    apply: (namespace, kind, name, desired) => send(namespace, kind, name, desired),
    async dryRun(namespace, kind, name, desired) {
      try {
        const result = await send(namespace, kind, name, desired, "All");
        return {
          validated: true,
          message: result.changed ? "accepted by the API server in a dry run (dryRun=All)" : result.message,
        };
      } catch (error) {
        return { validated: false, message: `rejected: ${error instanceof Error ? error.message : String(error)}` };
      }
    },
  };
}
