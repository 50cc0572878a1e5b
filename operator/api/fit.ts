// Makes a status the operator computed fit the CRD's own bounds before it is
// written. A status the API server would refuse (422) is never sent: a write
// that fails forever would leave an attempt Started and retried on every
// reconcile. Strings over their maxLength are cut with a marker; lists over
// their maxItems keep their newest (last) entries; anything else that does not
// validate is an error in the operator, reported as such.
import type { z } from "zod";
import { formatPath } from "./validate.ts";

export const TRUNCATION_MARKER = "…[truncated]";

export class StatusSchemaError extends Error {
  override name = "StatusSchemaError";
}

export function fitToSchema<T>(schema: z.ZodType<T>, value: unknown, what: string): { value: T; truncated: string[] } {
  const current = structuredClone(value);
  const truncated: string[] = [];
  for (let round = 0; round < 16; round++) {
    const result = schema.safeParse(current);
    if (result.success) return { value: current as T, truncated };
    let fixed = false;
    for (const issue of result.error.issues) {
      if (issue.code !== "too_big" || typeof issue.maximum !== "number") continue;
      const max = Number(issue.maximum);
      const parentPath = issue.path.slice(0, -1);
      const key = issue.path[issue.path.length - 1];
      type Node = Record<PropertyKey, unknown> | undefined;
      const parent = parentPath.reduce<Node>((node, part) => node?.[part] as Node, current as Node);
      if (parent === undefined || key === undefined) continue;
      const field = parent[key];
      if (issue.origin === "string" && typeof field === "string") {
        const keep = Math.max(0, max - TRUNCATION_MARKER.length);
        parent[key] = (field.slice(0, keep) + TRUNCATION_MARKER).slice(0, max);
        fixed = true;
      } else if (issue.origin === "array" && Array.isArray(field)) {
        parent[key] = field.slice(-max);
        fixed = true;
      }
      if (fixed) truncated.push(formatPath(issue.path, what));
    }
    if (!fixed) {
      throw new StatusSchemaError(
        `${what} does not fit its schema: ${result.error.issues.map((i) => `${formatPath(i.path, what)}: ${i.message}`).join("; ")}`,
      );
    }
  }
  throw new StatusSchemaError(`${what} could not be made to fit its schema`);
}
