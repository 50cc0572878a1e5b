// The deterministic intent id: the same proposal (action, target, parameters,
// incident, in the same namespace) always hashes to the same id, whoever
// files it and whatever the object is named, so a repeat is recognised.
import { createHash } from "node:crypto";
import type { HealingIntentSpec } from "../api/index.ts";

export function intentId(namespace: string, spec: HealingIntentSpec): string {
  const parameters = spec.parameters ?? {};
  const canonical = JSON.stringify([
    namespace,
    spec.action,
    spec.target.kind,
    spec.target.name,
    parameters.replicas ?? null,
    parameters.revision ?? null,
    spec.incidentId,
    // Only when present, so the ids of other actions stay as they were.
    ...(parameters.intent ? [parameters.intent] : []),
  ]);
  return `hi-${createHash("sha256").update(canonical).digest("hex").slice(0, 20)}`;
}

export interface IntentIdentity {
  name: string;
  intentId: string;
  creationTimestamp: string;
  deleting: boolean;
  /** Whether it already has an execution record: the one that acted first owns the id. */
  acted?: boolean;
}

/**
 * The intent that owns an id is the one that acted, else the oldest existing
 * one (ties broken by name); every other intent with the same id is its
 * duplicate, and is never acted on. (Creation times have whole seconds, so the
 * name alone must not decide who owns an id that one of them already acted on;
 * the action ledger enforces it in any case.)
 */
export function duplicateOf(self: IntentIdentity, siblings: IntentIdentity[]): string | undefined {
  const owners = [self, ...siblings.filter((s) => s.name !== self.name)]
    .filter((s) => s.intentId === self.intentId && !s.deleting)
    .sort(
      (a, b) =>
        Number(Boolean(b.acted)) - Number(Boolean(a.acted)) ||
        a.creationTimestamp.localeCompare(b.creationTimestamp) ||
        a.name.localeCompare(b.name),
    );
  const owner = owners[0];
  return owner && owner.name !== self.name ? owner.name : undefined;
}
