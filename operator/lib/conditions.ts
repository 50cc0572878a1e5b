// Kubernetes condition semantics: one condition per type; lastTransitionTime
// changes only when status changes, so re-reconciling settled state never
// makes a condition flap.
import type { Condition } from "../api/index.ts";
import { rfc3339 } from "./time.ts";

export type ConditionInput = Pick<Condition, "type" | "status" | "reason" | "message">;

export function setConditions(
  previous: Condition[] | undefined,
  updates: ConditionInput[],
  generation: number,
  now: Date,
): Condition[] {
  const result = new Map((previous ?? []).map((c) => [c.type, c]));
  for (const update of updates) {
    const old = result.get(update.type);
    result.set(update.type, {
      ...update,
      observedGeneration: generation,
      lastTransitionTime: old && old.status === update.status ? old.lastTransitionTime : rfc3339(now),
    });
  }
  return [...result.values()];
}

export const findCondition = (conditions: Condition[] | undefined, type: string) =>
  conditions?.find((c) => c.type === type);
