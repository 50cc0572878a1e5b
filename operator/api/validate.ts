// Turns zod issues into the field paths the API server would name, so the
// operator's own validation (for data that slipped past an older CRD) reads
// exactly like an admission error.
import type { z } from "zod";

export interface FieldProblem {
  field: string;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; problems: FieldProblem[] };

export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ""): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

export function problemsOf(error: z.ZodError, prefix: string): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: formatPath([...issue.path, key], prefix),
        message: "field not declared in schema",
      }));
    }
    return [{ field: formatPath(issue.path, prefix), message: issue.message }];
  });
}

export function validate<T>(schema: z.ZodType<T>, data: unknown, prefix: string): Validated<T> {
  const result = schema.safeParse(data);
  return result.success ? { ok: true, value: result.data } : { ok: false, problems: problemsOf(result.error, prefix) };
}

export const describeProblems = (problems: FieldProblem[]) =>
  problems.map((problem) => `${problem.field}: ${problem.message}`).join("; ");
