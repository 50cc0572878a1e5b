// The only code that changes workloads. It is loaded by a dynamic import,
// and only after a license has been verified (see edition.ts); the OSS
// edition never reaches it. Every action follows kubectl's semantics, writes
// with the field manager "arf-operator", and is idempotent against the live
// state: applying an attempt that already took effect changes nothing, which
// is what makes a resumed attempt safe after a crash.
//
// Objects are read as the API server sends them (CustomObjectsApi), never
// through the typed AppsV1Api, whose model classes drop fields they do not
// know: a rollback must restore the revision's template whole.
import * as k8s from "@kubernetes/client-node";
import type { Desired, WorkloadKind } from "../api/index.ts";
import { sourceDigest } from "../intent/digest.ts";
import type { DryRunResult } from "../intent/evaluate.ts";
import {
  controlledBy,
  DEPLOYMENT_OWNED_ANNOTATIONS,
  type Plan,
  RESTARTED_AT,
  revisionTemplate,
  sameTemplate,
  type Workload,
  withoutHash,
} from "../intent/plan.ts";
import { apiMessage, rawAppsReader, WORKLOAD_PLURALS } from "../kube/gateway.ts";
import { FIELD_MANAGER } from "../kube/names.ts";
import { rfc3339 } from "../lib/time.ts";

export { FIELD_MANAGER };

/**
 * Fixes what an attempt will do, from the plan and the attempt's start time.
 * expectedGeneration comes from the plan: pass the plan that was approved.
 */
export function desiredFromPlan(plan: Extract<Plan, { ok: true }>, startedAt: string): Desired {
  const m = plan.mutation;
  const generation = plan.generation !== undefined ? { expectedGeneration: plan.generation } : {};
  switch (m.type) {
    case "restoreSnapshot":
      // The snapshot itself stays in the earlier action's record; only its id is carried.
      return {
        type: "restoreSnapshot",
        source: m.of,
        ...(m.expectedReplicas !== undefined ? { expectedReplicas: m.expectedReplicas } : {}),
        ...generation,
      };
    case "scale":
      return { type: "scale", replicas: m.replicas, expectedReplicas: m.expectedReplicas, ...generation };
    case "restart":
      return { type: "restart", restartedAt: restartedAt(startedAt), ...generation };
    case "rollbackDeployment":
    case "rollbackControllerRevision":
      return {
        type: m.type,
        source: m.source,
        ...(m.type === "rollbackDeployment" ? { sourceDigest: sourceDigest(m.template, m.annotations) } : {}),
        toRevision: m.toRevision,
        ...(plan.fromRevision !== undefined ? { fromRevision: plan.fromRevision } : {}),
        ...generation,
      };
  }
}

/** kubectl's restartedAt: RFC 3339 to the second (Go's time.RFC3339), here always in UTC. */
function restartedAt(startedAt: string): string {
  const date = new Date(startedAt);
  return Number.isNaN(date.getTime()) ? startedAt : rfc3339(date);
}

/** A failure that retrying cannot fix (the world moved on); the attempt ends Failed. */
export class PermanentFailure extends Error {}

export interface ActionResult {
  changed: boolean;
  message: string;
  /** The workload's metadata.generation after the write, when the API server returned it. */
  generation?: number;
}

export interface Executor {
  /** beforeWrite runs immediately before the write and may throw to stop it (a lost lease, an aborted reconcile). */
  apply(
    namespace: string,
    kind: WorkloadKind,
    name: string,
    desired: Desired,
    beforeWrite?: () => void,
  ): Promise<ActionResult>;
  dryRun(namespace: string, kind: WorkloadKind, name: string, desired: Desired): Promise<DryRunResult>;
  restore(
    namespace: string,
    kind: WorkloadKind,
    name: string,
    snapshot: { template?: unknown; replicas?: number },
    beforeWrite?: () => void,
    expected?: { generation?: number; replicas?: number },
  ): Promise<ActionResult>;
}

type PatchOptions = ReturnType<typeof k8s.setHeaderOptions>;
const strategic = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);
const jsonPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);

/** A JSON pointer segment (RFC 6901). */
const pointer = (segment: string) => segment.replaceAll("~", "~0").replaceAll("/", "~1");

/** The write an attempt makes, or "done" when the live state already has it. */
type Change =
  | { kind: "done"; message: string }
  | { kind: "scale"; body: unknown; message: string }
  | {
      kind: "patch";
      body: unknown;
      options: PatchOptions;
      message: string;
      /** The generation the patch's test operation requires, when it has one. */
      testedGeneration?: number;
    };

export function createExecutor(kc: k8s.KubeConfig): Executor {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const raw = rawAppsReader(kc);
  /** An apps/v1 object as the API server sends it; undefined when it does not exist (404). Other errors are thrown. */
  const getRaw = <T>(namespace: string, plural: string, name: string) => raw.get<T>(namespace, plural, name);

  async function readWorkload(namespace: string, kind: WorkloadKind, name: string): Promise<Workload> {
    const workload = await getRaw<Workload>(namespace, WORKLOAD_PLURALS[kind], name);
    if (!workload) throw new PermanentFailure(`${ref(kind, name)} no longer exists`);
    return workload;
  }

  async function patch(
    namespace: string,
    kind: WorkloadKind,
    name: string,
    body: unknown,
    options: PatchOptions,
    dryRun?: "All",
  ) {
    const params = { namespace, name, body, fieldManager: FIELD_MANAGER, ...(dryRun ? { dryRun } : {}) };
    if (kind === "Deployment") return apps.patchNamespacedDeployment(params, options);
    if (kind === "StatefulSet") return apps.patchNamespacedStatefulSet(params, options);
    return apps.patchNamespacedDaemonSet(params, options);
  }

  /**
   * The generation the write must find: the approved one (refused with a
   * PermanentFailure here already if the live workload has moved on), else
   * the one just read, which only guards the read-then-write race.
   */
  function generationToTest(kind: WorkloadKind, name: string, workload: Workload, desired: Desired): number {
    const live = workload.metadata?.generation ?? 0;
    if (desired.expectedGeneration !== undefined && live !== desired.expectedGeneration) {
      throw new PermanentFailure(changedSinceApproval(kind, name, live, desired.expectedGeneration));
    }
    return desired.expectedGeneration ?? live;
  }

  async function change(namespace: string, kind: WorkloadKind, name: string, desired: Desired): Promise<Change> {
    const target = ref(kind, name);
    switch (desired.type) {
      case "restoreSnapshot":
        // An undo carries a snapshot, not a plan: it goes through restore().
        throw new PermanentFailure(`${target}: a snapshot is restored with restore(), not apply()`);
      case "scale": {
        if (kind === "DaemonSet") throw new PermanentFailure(`${target} cannot be scaled`);
        if (desired.replicas === undefined) throw new PermanentFailure(`a scale of ${target} names no replicas`);
        // A Scale's replicas are its workload's spec.replicas (defaulted, so always set): one read of the
        // workload gives them and the generation; the write still goes to the Scale, guarded by a test.
        const workload = await readWorkload(namespace, kind, name);
        const current = (workload.spec as { replicas?: number } | undefined)?.replicas ?? 1;
        if (current === desired.replicas) return { kind: "done", message: `${target} has ${current} replicas` };
        // A resumed attempt whose scale landed and was then undone by someone must not scale again:
        // the generation moved on since the plan, so refuse.
        if (desired.expectedGeneration !== undefined) generationToTest(kind, name, workload, desired);
        if (current !== desired.expectedReplicas) {
          throw new PermanentFailure(
            `${target} has ${current} replicas, not the ${desired.expectedReplicas} observed when the intent was decided; not scaling`,
          );
        }
        return {
          kind: "scale",
          body: scalePatch(current, desired.replicas),
          message: `scaled ${target} from ${current} to ${desired.replicas} replicas`,
        };
      }
      case "restart": {
        const workload = await readWorkload(namespace, kind, name);
        if (kind === "Deployment" && (workload as k8s.V1Deployment).spec?.paused)
          throw new PermanentFailure(`${target} is paused`);
        const metadata = workload.spec?.template?.metadata;
        if (metadata?.annotations?.[RESTARTED_AT] === desired.restartedAt) {
          return { kind: "done", message: `${target} already restarted at ${desired.restartedAt}` };
        }
        const generation = generationToTest(kind, name, workload, desired);
        const set = !metadata
          ? {
              op: "add",
              path: "/spec/template/metadata",
              value: { annotations: { [RESTARTED_AT]: desired.restartedAt } },
            }
          : !metadata.annotations
            ? { op: "add", path: "/spec/template/metadata/annotations", value: { [RESTARTED_AT]: desired.restartedAt } }
            : {
                op: "add",
                path: `/spec/template/metadata/annotations/${pointer(RESTARTED_AT)}`,
                value: desired.restartedAt,
              };
        return {
          kind: "patch",
          body: [{ op: "test", path: "/metadata/generation", value: generation }, set],
          options: jsonPatch,
          testedGeneration: generation,
          message: `restarted ${target} (${RESTARTED_AT}=${desired.restartedAt})`,
        };
      }
      case "rollbackDeployment": {
        const deployment = (await readWorkload(namespace, kind, name)) as k8s.V1Deployment;
        if (deployment.spec?.paused) throw new PermanentFailure(`${target} is paused`);
        const rs = await getRaw<k8s.V1ReplicaSet>(namespace, "replicasets", desired.source ?? "");
        if (!rs) throw new PermanentFailure(`ReplicaSet ${desired.source} of revision ${desired.toRevision} is gone`);
        const template = withoutHash(rs.spec?.template);
        if (sameTemplate(template, withoutHash(deployment.spec?.template))) {
          return { kind: "done", message: `${target} already runs the template of ReplicaSet ${desired.source}` };
        }
        if (!controlledBy(deployment)(rs)) {
          throw new PermanentFailure(`ReplicaSet ${desired.source} is no longer controlled by ${target}; not acting`);
        }
        const sourceAnnotations = Object.fromEntries(
          Object.entries(rs.metadata?.annotations ?? {}).filter(([key]) => !DEPLOYMENT_OWNED_ANNOTATIONS.has(key)),
        );
        if (desired.sourceDigest && sourceDigest(template, sourceAnnotations) !== desired.sourceDigest) {
          throw new PermanentFailure(
            `ReplicaSet ${desired.source} was edited since the plan was approved (its template or annotations differ); not acting`,
          );
        }
        const generation = generationToTest(kind, name, deployment, desired);
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
            { op: "test", path: "/metadata/generation", value: generation },
            { op: "replace", path: "/spec/template", value: template },
            // "add" replaces an existing member, and also works when there is none.
            { op: "add", path: "/metadata/annotations", value: annotations },
          ],
          options: jsonPatch,
          testedGeneration: generation,
          message: `rolled ${target} back to revision ${desired.toRevision} (ReplicaSet ${desired.source})`,
        };
      }
      case "rollbackControllerRevision": {
        const workload = await readWorkload(namespace, kind, name);
        const revision = await getRaw<k8s.V1ControllerRevision>(namespace, "controllerrevisions", desired.source ?? "");
        if (!revision) throw new PermanentFailure(`ControllerRevision ${desired.source} is gone`);
        const template = revisionTemplate(revision);
        if (sameTemplate(template, workload.spec?.template)) {
          return { kind: "done", message: `${target} already runs the template of revision ${desired.toRevision}` };
        }
        if (!controlledBy(workload)(revision)) {
          throw new PermanentFailure(
            `ControllerRevision ${desired.source} is no longer controlled by ${target}; not acting`,
          );
        }
        const generation = generationToTest(kind, name, workload, desired);
        const message = `rolled ${target} back to revision ${desired.toRevision} (ControllerRevision ${desired.source})`;
        if (replacesTemplateOnly(revision.data)) {
          // kubectl applies the revision's data as a strategic-merge patch; the
          // controllers store it as {spec: {template: {..., $patch: replace}}},
          // which replaces the template whole: the same as this JSON patch,
          // which can also carry the precondition.
          return {
            kind: "patch",
            body: [
              { op: "test", path: "/metadata/generation", value: generation },
              { op: "replace", path: "/spec/template", value: template },
            ],
            options: jsonPatch,
            testedGeneration: generation,
            message,
          };
        }
        // Any other shape: kubectl's strategic-merge patch as is, guarded by
        // the resourceVersion of the object just checked.
        return {
          kind: "patch",
          body: {
            ...(revision.data as Record<string, unknown>),
            metadata: { resourceVersion: workload.metadata?.resourceVersion },
          },
          options: strategic,
          message,
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
    beforeWrite?: () => void,
  ): Promise<ActionResult> {
    const planned = await change(namespace, kind, name, desired);
    if (planned.kind === "done") return { changed: false, message: planned.message };
    beforeWrite?.();
    let generationAfter: number | undefined;
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
        const written = (await patch(namespace, kind, name, planned.body, planned.options, dryRun)) as Workload;
        generationAfter = written?.metadata?.generation;
      }
    } catch (error) {
      if (!(error instanceof k8s.ApiException)) throw error;
      if (error.code === 409 || error.code === 422) {
        // A failed test operation (422), or a stale resourceVersion (409): has the workload moved on?
        const expected = planned.kind === "patch" ? planned.testedGeneration : undefined;
        const live =
          expected !== undefined || error.code === 409 ? await liveGeneration(namespace, kind, name) : undefined;
        if (expected !== undefined && live !== undefined && live !== expected) {
          if (desired.expectedGeneration !== undefined) {
            throw new PermanentFailure(changedSinceApproval(kind, name, live, desired.expectedGeneration));
          }
          throw new Error(`${ref(kind, name)} changed while acting (generation ${live}); will retry`);
        }
        if (error.code === 409)
          throw new Error(`${ref(kind, name)} changed while acting: ${apiMessage(error)}; will retry`);
      }
      // A refusal retrying cannot change (400, 403 as admission webhooks deny, 404, 422...) ends the
      // attempt; only throttling (429) and server errors (5xx) are retried.
      if (error.code >= 400 && error.code < 500 && error.code !== 429) {
        throw new PermanentFailure(`the API server refused (${error.code}): ${apiMessage(error)}`);
      }
      throw error;
    }
    return {
      changed: true,
      message: planned.message,
      ...(generationAfter !== undefined ? { generation: generationAfter } : {}),
    };
  }

  async function liveGeneration(namespace: string, kind: WorkloadKind, name: string): Promise<number | undefined> {
    const workload = await getRaw<Workload>(namespace, WORKLOAD_PLURALS[kind], name).catch(() => undefined);
    return workload?.metadata?.generation;
  }

  /** Puts back a pre-action snapshot: the pod template, or for a scale the replica count. Idempotent. */
  async function restore(
    namespace: string,
    kind: WorkloadKind,
    name: string,
    snapshot: { template?: unknown; replicas?: number },
    beforeWrite?: () => void,
    /** What the action left: an undo refuses a workload that changed since (a later deploy, an autoscaler). */
    expected: { generation?: number; replicas?: number } = {},
  ): Promise<ActionResult> {
    const target = ref(kind, name);
    const workload = await readWorkload(namespace, kind, name);
    const live = workload.metadata?.generation ?? 0;
    if (snapshot.template !== undefined && expected.generation === undefined) {
      throw new PermanentFailure(
        `${target}: what the action left is not known (no generation was recorded after it, e.g. it was resumed after a crash), so a newer change cannot be ruled out; not undoing`,
      );
    }
    if (expected.generation !== undefined && live !== expected.generation) {
      throw new PermanentFailure(
        `${target} changed after the action (generation ${live}, the action left ${expected.generation}); not undoing over a newer change`,
      );
    }
    try {
      if (snapshot.template !== undefined) {
        if (
          sameTemplate(withoutHash(snapshot.template as k8s.V1PodTemplateSpec), withoutHash(workload.spec?.template))
        ) {
          return { changed: false, message: `${target} already runs the snapshot's pod template` };
        }
        beforeWrite?.();
        await patch(
          namespace,
          kind,
          name,
          [
            { op: "test", path: "/metadata/generation", value: live },
            { op: "replace", path: "/spec/template", value: snapshot.template },
          ],
          jsonPatch,
        );
        return { changed: true, message: `restored ${target}'s pod template from before the action` };
      }
      if (snapshot.replicas !== undefined && kind !== "DaemonSet") {
        const current = (workload.spec as { replicas?: number }).replicas ?? 1;
        if (current === snapshot.replicas)
          return { changed: false, message: `${target} already has ${current} replicas` };
        // Replicas moved since the action (an autoscaler, a person): never undo over that.
        if (expected.replicas !== undefined && current !== expected.replicas) {
          throw new PermanentFailure(
            `${target} has ${current} replicas, not the ${expected.replicas} the action left; not undoing over a newer change`,
          );
        }
        beforeWrite?.();
        const params = {
          namespace,
          name,
          body: scalePatch(current, snapshot.replicas),
          fieldManager: FIELD_MANAGER,
        };
        if (kind === "Deployment") await apps.patchNamespacedDeploymentScale(params, jsonPatch);
        else await apps.patchNamespacedStatefulSetScale(params, jsonPatch);
        return { changed: true, message: `restored ${target} from ${current} to ${snapshot.replicas} replicas` };
      }
    } catch (error) {
      if (
        error instanceof k8s.ApiException &&
        error.code >= 400 &&
        error.code < 500 &&
        error.code !== 429 &&
        error.code !== 409 &&
        error.code !== 422
      ) {
        throw new PermanentFailure(`the API server refused (${error.code}): ${apiMessage(error)}`);
      }
      throw error; // a conflict or a failed test: the workload moved during the undo; retried with a fresh read
    }
    throw new PermanentFailure(`the snapshot of ${target} holds nothing to restore`);
  }

  return {
    restore,
    apply: (namespace, kind, name, desired, beforeWrite) =>
      send(namespace, kind, name, desired, undefined, beforeWrite),
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

const ref = (kind: string, name: string) => `${kind.toLowerCase()}/${name}`;

const changedSinceApproval = (kind: string, name: string, live: number, approved: number) =>
  `${ref(kind, name)} changed since the plan was approved (generation ${live}, approved at ${approved}); not acting`;

/** Whether ControllerRevision data is the controllers' usual {spec: {template: {..., $patch: replace}}} and nothing else. */
function replacesTemplateOnly(data: unknown): boolean {
  const d = data as { spec?: { template?: { $patch?: unknown } } } | undefined;
  return (
    !!d &&
    Object.keys(d).length === 1 &&
    !!d.spec &&
    Object.keys(d.spec).length === 1 &&
    !!d.spec.template &&
    typeof d.spec.template === "object" &&
    d.spec.template.$patch === "replace"
  );
}

/**
 * A JSON patch that sets a Scale's replicas only while they are still `current`,
 * so the API server refuses the write if someone changed them meanwhile. A Scale
 * omits `replicas: 0` (its spec is then empty), which no "test" of the field can
 * match and no "replace" can set: from zero the test is of the empty spec, and
 * "add" sets the field.
 */
export function scalePatch(current: number, replicas: number): unknown[] {
  if (current === 0)
    return [
      { op: "test", path: "/spec", value: {} },
      { op: "add", path: "/spec/replicas", value: replicas },
    ];
  return [
    { op: "test", path: "/spec/replicas", value: current },
    { op: "replace", path: "/spec/replicas", value: replicas },
  ];
}
