import * as k8s from "@kubernetes/client-node";

/** Whether the API server answered 404: the object does not exist. Only that means "gone". */
export const isNotFound = (error: unknown) => error instanceof k8s.ApiException && error.code === 404;

/** The call's result, or undefined when the object does not exist; every other error is thrown. */
export async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Someone wrote the object since it was read (the status writer's ConflictError). */
export const isConflict = (error: unknown) => error instanceof Error && error.name === "ConflictError";

/**
 * Runs a read-modify-write again, up to `attempts` times, while it fails
 * because the object changed since it was read; run re-reads on each attempt.
 */
export async function retryOnConflict<T>(run: (attempt: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(attempt);
    } catch (error) {
      if (!isConflict(error) || attempt >= attempts) throw error;
    }
  }
}
