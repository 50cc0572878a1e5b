// The edition decides what the process can do. The OSS edition is wired with
// no executor at all: the code that mutates workloads lives in
// operator/executor/ and is only ever loaded by a dynamic import, after a
// license has been verified. A test walks the static import graph from
// main.ts to prove no OSS path reaches it.
import type * as k8s from "@kubernetes/client-node";
import type { Desired } from "./api/index.ts";
import type { Executor } from "./executor/executor.ts";
import type { Edition } from "./intent/evaluate.ts";
import type { ObservedTarget, Plan } from "./intent/plan.ts";
import { type DryRunResult, podTemplateDryRunner } from "./kube/gateway.ts";

/** Validates a plan's change with the API server without applying it. */
export interface DryRunner {
  dryRun(
    namespace: string,
    target: ObservedTarget,
    plan: Extract<Plan, { ok: true }>,
    intentName: string,
  ): Promise<DryRunResult>;
}

export interface EditionWiring {
  edition: Edition;
  dryRunner: DryRunner;
  /** Present only in the licensed edition. */
  executor: Executor | undefined;
  desiredFrom?: (plan: Extract<Plan, { ok: true }>, startedAt: string) => Desired;
}

export function wireOssEdition(kc: k8s.KubeConfig): EditionWiring {
  const dryRunTemplate = podTemplateDryRunner(kc);
  return {
    edition: "oss",
    dryRunner: {
      dryRun: (namespace, _target, plan, intentName) => dryRunTemplate(namespace, plan.template, intentName),
    },
    executor: undefined,
  };
}

/** Only called with a verified license. */
export async function wireLicensedEdition(kc: k8s.KubeConfig): Promise<EditionWiring> {
  const { createExecutor, desiredFromPlan } = await import("./executor/executor.ts");
  const executor = createExecutor(kc);
  return {
    edition: "licensed",
    executor,
    desiredFrom: desiredFromPlan,
    dryRunner: {
      dryRun: async (namespace, target, plan) =>
        plan.mutation.type === "restoreSnapshot"
          ? { validated: false, message: "not dry-run: an undo restores a state the API server accepted before" }
          : executor.dryRun(namespace, target.kind, target.name, desiredFromPlan(plan, new Date().toISOString())),
    },
  };
}
