// The operator's only contact with the Kubernetes API for reconciling
// intents, behind small interfaces so the decisions stay pure and testable.
import * as k8s from "@kubernetes/client-node";
import { CRD_DEFINITIONS } from "../api/crds.ts";
import { fitToSchema } from "../api/fit.ts";
import { API_VERSION, GROUP, VERSION, type WorkloadKind } from "../api/index.ts";
import { unlessNotFound } from "./errors.ts";

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

/** Live reads of a workload as raw JSON (typed deserialisation would drop fields it does not know). */
export interface WorkloadReader {
  read(kind: WorkloadKind, namespace: string, name: string): Promise<k8s.V1Deployment | undefined>;
}

/** The approvals admission policy and its binding as read (undefined when missing); fresh skips the short cache. */
export type AdmissionReader = (fresh: boolean) => Promise<{ policy: unknown; binding: unknown }>;

export interface RevisionReader {
  replicaSets(namespace: string): Promise<k8s.V1ReplicaSet[]>;
  controllerRevisions(namespace: string): Promise<k8s.V1ControllerRevision[]>;
}

/** What a server-side dry run of a change said. */
export interface DryRunResult {
  validated: boolean;
  message?: string;
}

/** Someone wrote the object since it was read: routine under optimistic concurrency; retry. */
export class ConflictError extends Error {
  override name = "ConflictError";
}

const KIND_BY_PLURAL = new Map(CRD_DEFINITIONS.map((def) => [def.plural, def.kind]));
const STATUS_SCHEMA_BY_PLURAL = new Map(CRD_DEFINITIONS.map((def) => [def.plural, def.status]));

export function kubeStatusWriter(
  kc: k8s.KubeConfig,
  onTruncated?: (plural: string, namespace: string, name: string, fields: string[]) => void,
  /** Derives conditions other tools read (kstatus, Argo CD) from the status, before it is written. */
  finalize: (plural: string, status: unknown) => unknown = (_plural, status) => status,
): StatusWriter {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  return {
    async writeStatus(plural, object, status) {
      const { namespace = "", name = "" } = object.metadata ?? {};
      const schema = STATUS_SCHEMA_BY_PLURAL.get(plural);
      // Never send what the CRD would refuse: a status that fails with 422 forever stalls the object.
      const finalized = finalize(plural, status);
      const fitted = schema ? fitToSchema(schema, finalized, "status") : { value: finalized, truncated: [] };
      if (fitted.truncated.length > 0) onTruncated?.(plural, namespace, name, fitted.truncated);
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
          body: { ...object, apiVersion: API_VERSION, kind: KIND_BY_PLURAL.get(plural), status: fitted.value },
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

/**
 * Events are sent in the background, as client-go's broadcaster sends them: a
 * reconcile never waits on one (they are a second write per decision), a few go
 * out at once, and beyond a bounded backlog Events are dropped and counted
 * rather than held in memory: a Warning takes the place of the oldest Normal
 * Event waiting, else the newest is dropped. While `busy()` says decisions are
 * waiting, one Event at a time goes out: the API server's capacity goes to the
 * status writes that are the record first. A send that has not answered after
 * `sendTimeoutMs` stops holding its slot. flush() sends the rest at full width
 * and waits (bounded) for them at shutdown.
 */
export function kubeEventRecorder(
  kc: k8s.KubeConfig,
  component: string,
  instance: string,
  options: {
    concurrency?: number;
    backlog?: number;
    busy?: () => boolean;
    sendTimeoutMs?: number;
    onError?: (error: unknown) => void;
    onDrop?: () => void;
    /** Events waiting or in flight, after every change. */
    onPending?: (pending: number) => void;
  } = {},
): EventRecorder & { flush(timeoutMs: number): Promise<void> } {
  const send = sendEvent(kc.makeApiClient(k8s.CoreV1Api), component, instance);
  const concurrency = options.concurrency ?? 4;
  const backlog = options.backlog ?? 5000;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const pending: Array<{ type: "Normal" | "Warning"; send: () => Promise<void> }> = [];
  let inFlight = 0;
  let draining = false;
  const idle: Array<() => void> = [];
  const pump = () => {
    const limit = !draining && options.busy?.() ? 1 : concurrency;
    while (inFlight < limit && pending.length > 0) {
      const next = pending.shift() as (typeof pending)[number];
      inFlight++;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer to an Event create in ${sendTimeoutMs} ms`)),
          sendTimeoutMs,
        );
        timer.unref();
      });
      void Promise.race([next.send(), timedOut])
        .catch((error) => options.onError?.(error))
        .finally(() => {
          clearTimeout(timer);
          inFlight--;
          pump();
        });
    }
    options.onPending?.(inFlight + pending.length);
    if (inFlight === 0 && pending.length === 0) for (const resolve of idle.splice(0)) resolve();
  };
  return {
    async record(object, type, reason, message) {
      if (pending.length >= backlog) {
        const oldestNormal = type === "Warning" ? pending.findIndex((p) => p.type === "Normal") : -1;
        options.onDrop?.();
        if (oldestNormal < 0) return;
        pending.splice(oldestNormal, 1);
      }
      // The time it happened, not the time it was sent; and no more text than an Event keeps.
      const at = new Date();
      const text = message.slice(0, 1024);
      pending.push({ type, send: () => send(object, type, reason, text, at) });
      pump();
    },
    flush(timeoutMs) {
      draining = true;
      pump();
      if (inFlight === 0 && pending.length === 0) return Promise.resolve();
      return new Promise((resolve) => {
        idle.push(resolve);
        setTimeout(resolve, timeoutMs).unref();
      });
    },
  };
}

function sendEvent(api: k8s.CoreV1Api, component: string, instance: string) {
  return async (object: ObjectRef, type: "Normal" | "Warning", reason: string, message: string, now: Date) => {
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
  };
}

/**
 * Reads ReplicaSets and ControllerRevisions as the API server sends them. The
 * typed AppsV1Api would deserialise them into the client's model classes,
 * which drop every field the client does not know (newer pod template
 * fields), and a rollback would then restore a template missing them.
 */
/**
 * apps/v1 objects as the API server sends them (CustomObjectsApi): client-node's
 * typed AppsV1Api drops fields its model classes do not know. get is undefined on 404.
 */
export function rawAppsReader(kc: k8s.KubeConfig) {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  return {
    get: <T>(namespace: string, plural: string, name: string) =>
      unlessNotFound(
        custom.getNamespacedCustomObject({ group: "apps", version: "v1", namespace, plural, name }),
      ) as Promise<T | undefined>,
    list: async <T>(namespace: string, plural: string): Promise<T[]> =>
      (
        (await custom.listNamespacedCustomObject({ group: "apps", version: "v1", namespace, plural })) as {
          items?: T[];
        }
      ).items ?? [],
  };
}

export function kubeRevisionReader(kc: k8s.KubeConfig): RevisionReader {
  const raw = rawAppsReader(kc);
  return {
    replicaSets: (namespace) => raw.list<k8s.V1ReplicaSet>(namespace, "replicasets"),
    controllerRevisions: (namespace) => raw.list<k8s.V1ControllerRevision>(namespace, "controllerrevisions"),
  };
}

/** The API server's message for a failed call (its Status message), or the error's own message. */
export function apiMessage(error: unknown): string {
  if (error instanceof k8s.ApiException) {
    const body: unknown = error.body;
    let status: unknown = body;
    if (typeof body === "string") {
      try {
        status = JSON.parse(body);
      } catch {
        return body.trim() || `HTTP ${error.code}`;
      }
    }
    const message = (status as { message?: unknown } | undefined)?.message;
    return typeof message === "string" && message !== "" ? message : `HTTP ${error.code}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * OSS dry run. The OSS edition has no write access to workloads, so it cannot
 * dry-run a patch of one. It validates the pod template an action would
 * produce through a dry-run create of an (inert) PodTemplate instead; a scale
 * changes no template and is checked against the observed workload only.
 */
export function podTemplateDryRunner(
  kc: k8s.KubeConfig,
): (namespace: string, template: k8s.V1PodTemplateSpec | undefined, intentName: string) => Promise<DryRunResult> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return async (namespace, template, intentName) => {
    if (!template) {
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
        body: { metadata: { name: `arf-dry-run-${intentName}`.slice(0, 253) }, template },
      });
      return { validated: true, message: "pod template accepted by the API server (dry-run create of a PodTemplate)" };
    } catch (error) {
      return { validated: false, message: `rejected: ${apiMessage(error)}` };
    }
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

export function kubeWorkloadReader(kc: k8s.KubeConfig): WorkloadReader {
  const raw = rawAppsReader(kc);
  return { read: (kind, namespace, name) => raw.get<k8s.V1Deployment>(namespace, WORKLOAD_PLURALS[kind], name) };
}

/**
 * Reads the approvals admission policy and its binding as raw objects (cached
 * briefly). Only a 404 means missing; any other error is thrown, so the
 * reconcile retries rather than deciding on a guess.
 */
export function kubeAdmissionReader(kc: k8s.KubeConfig, name: string, ttlMs = 5_000): AdmissionReader {
  const raw = kc.makeApiClient(k8s.CustomObjectsApi);
  const read = (plural: string) =>
    unlessNotFound(raw.getClusterCustomObject({ group: "admissionregistration.k8s.io", version: "v1", plural, name }));
  let cached: { at: number; value: { policy: unknown; binding: unknown } } | undefined;
  return async (fresh) => {
    if (!fresh && cached && performance.now() - cached.at < ttlMs) return cached.value;
    const [policy, binding] = await Promise.all([
      read("validatingadmissionpolicies"),
      read("validatingadmissionpolicybindings"),
    ]);
    cached = { at: performance.now(), value: { policy, binding } };
    return cached.value;
  };
}

/** Lists a namespace's ARF objects of one kind from the API server (not the cache). */
export function kubeLiveLister(kc: k8s.KubeConfig, plural: string) {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  return async (namespace: string) =>
    (
      (await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })) as {
        items: Array<k8s.KubernetesObject & { spec?: unknown }>;
      }
    ).items;
}

/**
 * Prometheus credentials from a Secret (keys "token" and "ca.crt"), read at
 * most every ttl; a read error fails the query (an Error measurement), and
 * the values never reach a log.
 */
export function kubeSecretCredentials(kc: k8s.KubeConfig, namespace: string, name: string, ttlMs = 30_000) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let cached: { at: number; value: { token?: string; ca?: string } } | undefined;
  return async () => {
    if (cached && performance.now() - cached.at < ttlMs) return cached.value;
    let secret: k8s.V1Secret;
    try {
      secret = await core.readNamespacedSecret({ namespace, name });
    } catch (error) {
      throw new Error(`cannot read the Prometheus credentials Secret ${namespace}/${name}: ${apiMessage(error)}`);
    }
    const decode = (key: string) => {
      const data = secret.data?.[key];
      return data ? Buffer.from(data, "base64").toString("utf8") : undefined;
    };
    const token = decode("token")?.trim();
    const ca = decode("ca.crt");
    cached = { at: performance.now(), value: { ...(token ? { token } : {}), ...(ca ? { ca } : {}) } };
    return cached.value;
  };
}
