// HealingIntent reconciler: gathers the context (the intent, its siblings,
// the policies, the target and its revisions), hands it to the pure functions,
// and writes back only the status and Events. Never the spec.
import type * as k8s from "@kubernetes/client-node";
import { ApprovalPolicySpec, HealingIntentSpec, type HealingIntentStatus, type WorkloadKind } from "../api/index.ts";
import { validate } from "../api/validate.ts";
import type { DryRunner, EventRecorder, RevisionReader, StatusWriter } from "../kube/gateway.ts";
import { intentRef } from "../kube/gateway.ts";
import { stableEqual } from "../lib/stable.ts";
import type { OperatorMetrics } from "../metrics.ts";
import type { Clock } from "../runtime/clock.ts";
import type { ReconcileRequest, ReconcileResult } from "../runtime/controller.ts";
import { type DryRunResult, type Edition, evaluateIntent } from "./evaluate.ts";
import { duplicateOf, type IntentIdentity, intentId } from "./identity.ts";
import { type ObservedTarget, planAction, type Workload } from "./plan.ts";
import { type PolicyCandidate, resolvePolicy } from "./policy.ts";

export interface ArfObject<Spec = unknown, Status = unknown> extends k8s.KubernetesObject {
  spec?: Spec;
  status?: Status;
}
export type HealingIntentObject = ArfObject<unknown, HealingIntentStatus>;

/** Read access to the informer caches. */
export interface ClusterView {
  intent(namespace: string, name: string): HealingIntentObject | undefined;
  intents(namespace: string): HealingIntentObject[];
  policies(namespace: string): ArfObject[];
  workload(kind: WorkloadKind, namespace: string, name: string): Workload | undefined;
}

export interface IntentReconcilerDeps {
  view: ClusterView;
  revisions: RevisionReader;
  dryRunner: DryRunner;
  statusWriter: StatusWriter;
  events: EventRecorder;
  metrics: OperatorMetrics;
  clock: Clock;
  edition: () => Edition;
}

export function identityOf(object: HealingIntentObject): IntentIdentity | undefined {
  const parsed = HealingIntentSpec.safeParse(object.spec);
  if (!parsed.success) return undefined;
  return {
    name: object.metadata?.name ?? "",
    intentId: intentId(object.metadata?.namespace ?? "", parsed.data),
    creationTimestamp: new Date(object.metadata?.creationTimestamp ?? 0).toISOString(),
    deleting: Boolean(object.metadata?.deletionTimestamp),
  };
}

export function makeIntentReconciler(deps: IntentReconcilerDeps) {
  return async function reconcileIntent({
    namespace,
    name,
    log,
  }: ReconcileRequest): Promise<ReconcileResult | undefined> {
    const intent = deps.view.intent(namespace, name);
    if (!intent || intent.metadata?.deletionTimestamp) return undefined;
    const now = deps.clock.now();
    const generation = intent.metadata?.generation ?? 0;
    const previous = intent.status;

    const validated = validate(HealingIntentSpec, intent.spec, "spec");
    let evaluation: ReturnType<typeof evaluateIntent>;
    if (!validated.ok) {
      evaluation = evaluateIntent({ generation, previous, problems: validated.problems, edition: deps.edition(), now });
    } else {
      const spec = validated.value;
      const id = intentId(namespace, spec);
      const self = identityOf(intent) as IntentIdentity;
      const siblings = deps.view.intents(namespace).flatMap((o) => identityOf(o) ?? []);
      const duplicate = duplicateOf(self, siblings);
      if (duplicate) {
        evaluation = evaluateIntent({
          generation,
          previous,
          intentId: id,
          duplicateOf: duplicate,
          edition: deps.edition(),
          now,
        });
      } else {
        const started = performance.now();
        const observed = await observeTarget(
          deps,
          namespace,
          spec.target.kind,
          spec.target.name,
          spec.action === "rollback",
        );
        const candidates: PolicyCandidate[] = deps.view.policies(namespace).map((p) => {
          const parsed = ApprovalPolicySpec.safeParse(p.spec);
          return { name: p.metadata?.name ?? "", spec: parsed.success ? parsed.data : undefined };
        });
        const policy = resolvePolicy(
          spec,
          observed.workload?.metadata?.labels ?? (observed.workload ? {} : undefined),
          candidates,
        );
        const plan = planAction(spec, observed);
        let dryRun: DryRunResult | undefined;
        if (plan.ok && !plan.noop) {
          const recorded = previous?.recommendation;
          // The same change was already validated: do not ask the API server again on every resync.
          const alreadyValidated =
            recorded &&
            recorded.summary === plan.summary &&
            stableEqual(recorded.changes, plan.changes) &&
            previous?.observedGeneration === generation;
          dryRun = alreadyValidated ? recorded.dryRun : await deps.dryRunner.dryRun(namespace, observed, plan, name);
        }
        evaluation = evaluateIntent({
          generation,
          previous,
          intentId: id,
          policy,
          plan,
          dryRun,
          edition: deps.edition(),
          now,
        });
        deps.metrics.recommendationDuration.observe((performance.now() - started) / 1000);
      }
    }

    if (evaluation.decision && evaluation.decision.verdict !== previous?.decision?.verdict) {
      deps.metrics.intentDecisions.inc({ mode: evaluation.decision.mode, decision: evaluation.decision.verdict });
    }
    if (!stableEqual(evaluation.status, previous ?? {})) {
      await deps.statusWriter.writeStatus(
        "healingintents",
        namespace,
        name,
        intent.metadata?.resourceVersion ?? "",
        evaluation.status,
      );
      log.info(
        {
          intentId: evaluation.status.intentId,
          phase: evaluation.status.phase,
          policy: evaluation.decision?.policy,
          mode: evaluation.decision?.mode,
          verdict: evaluation.decision?.verdict,
          recommendation: evaluation.status.recommendation?.summary,
        },
        "intent status updated",
      );
    }
    for (const event of evaluation.events) {
      await deps.events
        .record(intentRef(namespace, name, intent.metadata?.uid), event.type, event.reason, event.message)
        .catch((error) => log.warn({ err: String(error), reason: event.reason }, "could not record event"));
    }
    return undefined;
  };
}

async function observeTarget(
  deps: IntentReconcilerDeps,
  namespace: string,
  kind: WorkloadKind,
  name: string,
  needRevisions: boolean,
): Promise<ObservedTarget> {
  const workload = deps.view.workload(kind, namespace, name);
  const observed: ObservedTarget = { kind, name, ...(workload ? { workload } : {}) };
  if (workload && needRevisions) {
    if (kind === "Deployment") observed.replicaSets = await deps.revisions.replicaSets(namespace);
    else observed.controllerRevisions = await deps.revisions.controllerRevisions(namespace);
  }
  return observed;
}
