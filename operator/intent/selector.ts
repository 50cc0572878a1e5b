import type { LabelSelector } from "../api/index.ts";

/** Kubernetes label-selector semantics: every matchLabels entry and every expression must hold. */
export function matchesSelector(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const expression of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, expression.key);
    const values = expression.values ?? [];
    const holds =
      expression.operator === "In"
        ? has && values.includes(labels[expression.key] as string)
        : expression.operator === "NotIn"
          ? !has || !values.includes(labels[expression.key] as string)
          : expression.operator === "Exists"
            ? has
            : !has;
    if (!holds) return false;
  }
  return true;
}

export const selectorSize = (selector: LabelSelector | undefined) =>
  Object.keys(selector?.matchLabels ?? {}).length + (selector?.matchExpressions?.length ?? 0);
