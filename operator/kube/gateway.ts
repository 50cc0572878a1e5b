// The operator's only contact with the Kubernetes API for reconciling
// intents, behind small interfaces so the decisions stay pure and testable.
import * as k8s from "@kubernetes/client-node";
import { CRD_DEFINITIONS } from "../api/crds.ts";
import { API_VERSION, GROUP, VERSION, type WorkloadKind } from "../api/index.ts";
import type { DryRunResult } from "../intent/evaluate.ts";
import type { ObservedTarget, Plan } from "../intent/plan.ts";

export interface ObjectRef {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid?: string;
}

export interface EventRecorder {
  record(object: ObjectRef, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

export interface StatusWriter {
  /**
   * Replaces the status of a custom resource as last read (from the cache or a
   * previous write); fails with ConflictError if it has changed since, and
   * resolves with the updated object.
   */
  writeStatus<T extends k8s.KubernetesObject>(plural: string, object: T, status: unknown): Promise<T>;
}

export interface RevisionReader {
  replicaSets(namespace: string): Promise<k8s.V1ReplicaSet[]>;
  controllerRevisions(namespace: string): Promise<k8s.V1ControllerRevision[]>;
}

export interface DryRunner {
  dryRun(
    namespace: string,
    target: ObservedTarget,
    plan: Extract<Plan, { ok: true }>,
    intentName: string,
  ): Promise<DryRunResult>;
}

/** Someone wrote the object since it was read: routine under optimistic concurrency; retry. */
export class ConflictError extends Error {
  override name = "ConflictError";
}

const KIND_BY_PLURAL = new Map(CRD_DEFINITIONS.map((def) => [def.plural, def.kind]));

export function kubeStatusWriter(kc: k8s.KubeConfig): StatusWriter {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  return {
    async writeStatus(plural, object, status) {
      const { namespace = "", name = "" } = object.metadata ?? {};
      try {
        // A PUT of the status subresource replaces status exactly (a merge patch
        // would keep fields the new status no longer has), and the object's
        // resourceVersion makes it fail with 409 if anyone wrote in between.
        const updated = await api.replaceNamespacedCustomObjectStatus({
          group: GROUP,
          version: VERSION,
          plural,
          namespace,
          name,
          body: { ...object, apiVersion: API_VERSION, kind: KIND_BY_PLURAL.get(plural), status },
        });
        return updated as typeof object;
      } catch (error) {
        if (error instanceof k8s.ApiException && error.code === 409) {
          throw new ConflictError(`${plural} ${namespace}/${name} changed since it was read; will retry`);
        }
        throw error;
      }
    },
  };
}

export function kubeEventRecorder(kc: k8s.KubeConfig, component: string, instance: string): EventRecorder {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  return {
    async record(object, type, reason, message) {
      const now = new Date();
      await api.createNamespacedEvent({
        namespace: object.namespace,
        body: {
          metadata: { generateName: `${object.name}.` },
          involvedObject: {
            kind: object.kind,
            apiVersion: object.apiVersion,
            namespace: object.namespace,
            name: object.name,
            uid: object.uid,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          source: { component },
          reportingComponent: component,
          reportingInstance: instance,
        },
      });
    },
  };
}

export function kubeRevisionReader(kc: k8s.KubeConfig): RevisionReader {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  return {
    replicaSets: async (namespace) => (await apps.listNamespacedReplicaSet({ namespace })).items,
    controllerRevisions: async (namespace) => (await apps.listNamespacedControllerRevision({ namespace })).items,
  };
}

const apiMessage = (error: unknown) => {
  if (error instanceof k8s.ApiException) {
    try {
      return String(JSON.parse(String(error.body)).message);
    } catch {
      return String(error.body);
    }
  }
  return String(error);
};

/**
 * OSS dry run. The OSS edition has no write access to workloads, so it cannot
 * dry-run a patch of one. It validates the pod template an action would
 * produce through a dry-run create of an (inert) PodTemplate instead; a scale
 * changes no template and is checked against the observed workload only.
 */
export function podTemplateDryRunner(kc: k8s.KubeConfig): DryRunner {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    async dryRun(namespace, _target, plan, intentName) {
      if (!plan.template) {
        return {
          validated: false,
          message:
            "not dry-run: the API server can dry-run a scale only for a client with write access to the workload, which the OSS edition does not have",
        };
      }
      try {
        await core.createNamespacedPodTemplate({
          namespace,
          dryRun: "All",
          body: { metadata: { name: `arf-dry-run-${intentName}`.slice(0, 253) }, template: plan.template },
        });
        return {
          validated: true,
          message: "pod template accepted by the API server (dry-run create of a PodTemplate)",
        };
      } catch (error) {
        return { validated: false, message: `rejected: ${apiMessage(error)}` };
      }
    },
  };
}

export const WORKLOAD_PLURALS: Record<WorkloadKind, string> = {
  Deployment: "deployments",
  StatefulSet: "statefulsets",
  DaemonSet: "daemonsets",
};

export const intentRef = (namespace: string, name: string, uid?: string): ObjectRef => ({
  kind: "HealingIntent",
  apiVersion: API_VERSION,
  namespace,
  name,
  uid,
});

/** Whether the approvals admission policy and its binding are installed (cached briefly). */
export function kubeAdmissionCheck(kc: k8s.KubeConfig, name: string, ttlMs = 5_000): () => Promise<boolean> {
  const api = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  let cached: { at: number; value: boolean } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < ttlMs) return cached.value;
    let value: boolean;
    try {
      await api.readValidatingAdmissionPolicy({ name });
      await api.readValidatingAdmissionPolicyBinding({ name });
      value = true;
    } catch {
      value = false;
    }
    cached = { at: Date.now(), value };
    return value;
  };
}
