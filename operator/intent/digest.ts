// The plan digest: what an approver approves. It covers everything that
// decides what would run (the namespace, action and target, the change, and
// the observed state the change starts from), so an approval of "3 -> 6"
// does not carry over to "10 -> 6", nor a rollback "to the previous revision"
// to a different previous revision.
import { createHash } from "node:crypto";
import type { HealingIntentSpec } from "../api/index.ts";
import { stableStringify } from "../lib/stable.ts";
import { type Plan, type Workload, withoutHash, withoutNulls } from "./plan.ts";

export function planDigest(
  namespace: string,
  spec: HealingIntentSpec,
  plan: Extract<Plan, { ok: true }>,
  workload: Workload,
): string {
  const canonical = stableStringify({
    namespace,
    action: spec.action,
    target: spec.target,
    // Null-valued fields are dropped: a cached object and a live read must give the same digest.
    mutation: withoutNulls(plan.mutation),
    // A scale is about replica counts (in the mutation); every other action replaces or rolls the pod template.
    from: plan.mutation.type === "scale" ? undefined : withoutNulls(withoutHash(workload.spec?.template)),
  });
  return `sha256:${createHash("sha256").update(canonical).digest("hex")}`;
}

export const shortDigest = (digest: string | undefined) => (digest ? digest.slice(7, 19) : "(none)");

/**
 * The digest of a rollback source as planned (its template without
 * pod-template-hash, and the annotations it would bring), so the executor can
 * refuse a ReplicaSet that someone edited after the plan was approved.
 */
export function sourceDigest(template: unknown, annotations: Record<string, string> | undefined): string {
  const canonical = stableStringify({ template: withoutNulls(template ?? {}), annotations: annotations ?? {} });
  return `sha256:${createHash("sha256").update(canonical).digest("hex")}`;
}
