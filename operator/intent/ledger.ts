// The action ledger: the operator's own durable record of every attempt to
// act, kept where only the operator writes (ConfigMaps in its namespace), so
// that nothing a user writes to an intent's status can make it act.
//
// - One record per proposal, named after its deterministic intent id: creating
//   it is the at-most-once lock. A second intent with the same proposal, a
//   re-filed duplicate after the original was deleted, or a second replica gets
//   409 and finds the record of who acted first.
// - A record is created before the workload is touched and updated after, so
//   an attempt found Started after a crash is resumed from the record, never
//   from status.
// - Records outlive intents: the rate limit counts them, so deleting an intent
//   does not erase it from the target's history.
import { createHash } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import { z } from "zod";
import { Desired, WorkloadKind } from "../api/index.ts";
import { unlessNotFound } from "../kube/errors.ts";

export const ActionRecord = z.strictObject({
  intentId: z.string().min(1).max(128),
  namespace: z.string().min(1).max(253),
  intentName: z.string().min(1).max(253),
  intentUid: z.string().min(1).max(128),
  target: z.strictObject({ kind: WorkloadKind, name: z.string().min(1).max(253) }),
  attemptId: z.string().min(1).max(128),
  planDigest: z.string().min(1).max(71),
  desired: Desired,
  policy: z.string().max(253).optional(),
  approvers: z.array(z.string().max(256)).max(16),
  startedAt: z.string().min(1).max(64),
  state: z.enum(["Started", "Succeeded", "Failed"]),
  finishedAt: z.string().max(64).optional(),
  message: z.string().max(4096).optional(),
  /** The workload before the action, for an automatic undo (kept here, where only the operator writes). */
  snapshot: z
    .strictObject({
      template: z.unknown().optional(),
      replicas: z.number().int().min(0).optional(),
      revision: z.number().int().min(0).optional(),
      /** Each Prometheus check just before the action: the window's baselines. */
      baseline: z
        .array(
          z.strictObject({
            check: z.string().max(63),
            value: z.number().optional(),
            message: z.string().max(1024).optional(),
          }),
        )
        .max(16)
        .optional(),
    })
    .optional(),
  /** The workload's generation right after the action: an undo refuses a workload changed since. */
  generationAfter: z.number().int().min(0).optional(),
  /** The RollbackPlan that holds this action's window. */
  rollbackPlan: z.string().max(253).optional(),
});
export type ActionRecord = z.infer<typeof ActionRecord>;

export interface StoredActionRecord {
  name: string;
  resourceVersion: string;
  /** Undefined when the stored data is not a valid record (then nobody acts on it). */
  record: ActionRecord | undefined;
  problem?: string;
}

export interface ActionLedger {
  /** Where the records live, for messages. */
  readonly namespace: string;
  get(intentId: string): Promise<StoredActionRecord | undefined>;
  /** Creates the record, or returns the one that already exists under the same name. */
  create(record: ActionRecord): Promise<{ created: boolean; stored: StoredActionRecord }>;
  /** Replaces the record; fails on a concurrent change. */
  update(stored: StoredActionRecord, record: ActionRecord): Promise<StoredActionRecord>;
  /**
   * When each recorded attempt on one target started, except the given
   * proposal's own (an unreadable record counts, from its creation).
   */
  actionsOn(namespace: string, kind: WorkloadKind, name: string, exceptIntentId?: string): Promise<Date[]>;
}

export const recordName = (intentId: string) => `arf-action-${intentId}`;

/** Whether a record is of an action on this very target (a record names its namespace and target). */
export const recordIsFor = (
  record: ActionRecord | undefined,
  namespace: string,
  target: { kind: string; name: string },
): record is ActionRecord =>
  record?.namespace === namespace && record.target.kind === target.kind && record.target.name === target.name;

/** A label value naming a target (names can be longer than a label value may be). */
export const targetLabel = (namespace: string, kind: string, name: string) =>
  createHash("sha256").update(`${namespace}/${kind}/${name}`).digest("hex").slice(0, 40);

const RECORD_LABEL = "arf.dev/action-record";
const TARGET_LABEL = "arf.dev/target";

function parseStored(configMap: k8s.V1ConfigMap): StoredActionRecord {
  const name = configMap.metadata?.name ?? "";
  const resourceVersion = configMap.metadata?.resourceVersion ?? "";
  let data: unknown;
  try {
    data = JSON.parse(configMap.data?.record ?? "");
  } catch {
    return { name, resourceVersion, record: undefined, problem: "data.record is not JSON" };
  }
  const parsed = ActionRecord.safeParse(data);
  return parsed.success
    ? { name, resourceVersion, record: parsed.data }
    : {
        name,
        resourceVersion,
        record: undefined,
        problem: `data.record is not a valid record: ${parsed.error.message}`,
      };
}

export function kubeActionLedger(kc: k8s.KubeConfig, namespace: string): ActionLedger {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const body = (record: ActionRecord, resourceVersion?: string): k8s.V1ConfigMap => ({
    metadata: {
      name: recordName(record.intentId),
      namespace,
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: {
        "app.kubernetes.io/part-of": "arf-operator",
        [RECORD_LABEL]: "true",
        [TARGET_LABEL]: targetLabel(record.namespace, record.target.kind, record.target.name),
      },
      annotations: { "arf.dev/intent": `${record.namespace}/${record.intentName}` },
    },
    data: { record: JSON.stringify(record) },
  });
  const get = async (intentId: string) => {
    const configMap = await unlessNotFound(core.readNamespacedConfigMap({ namespace, name: recordName(intentId) }));
    return configMap ? parseStored(configMap) : undefined;
  };
  return {
    namespace,
    get,
    async create(record) {
      try {
        return {
          created: true,
          stored: parseStored(await core.createNamespacedConfigMap({ namespace, body: body(record) })),
        };
      } catch (error) {
        if (!(error instanceof k8s.ApiException && error.code === 409)) throw error;
        const existing = await get(record.intentId);
        if (!existing) throw new Error(`${recordName(record.intentId)} exists and vanished again; will retry`);
        return { created: false, stored: existing };
      }
    },
    async update(stored, record) {
      return parseStored(
        await core.replaceNamespacedConfigMap({
          namespace,
          name: stored.name,
          body: body(record, stored.resourceVersion),
        }),
      );
    },
    async actionsOn(targetNamespace, kind, name, exceptIntentId) {
      const list = await core.listNamespacedConfigMap({
        namespace,
        labelSelector: `${RECORD_LABEL}=true,${TARGET_LABEL}=${targetLabel(targetNamespace, kind, name)}`,
      });
      return list.items.flatMap((item) => {
        const record = parseStored(item).record;
        // Its own record (left by a reconcile that stopped before acting) must not rate-limit its resumption.
        if (exceptIntentId && item.metadata?.name === recordName(exceptIntentId)) return [];
        // Fail closed: a record that cannot be read still counts as an action, from when it was made.
        const at = record?.startedAt ?? item.metadata?.creationTimestamp;
        return [at ? new Date(at) : new Date()];
      });
    },
  };
}
