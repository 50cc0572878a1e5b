// HealingIntent reconciler: gathers the context (the intent, its siblings,
// the policies, the target and its revisions), hands it to the pure functions,
// and writes back only the status and Events. Never the spec.
import type * as k8s from "@kubernetes/client-node";
import { ApprovalPolicySpec, HealingIntentSpec, type HealingIntentStatus, type WorkloadKind } from "../api/index.ts";
import { validate } from "../api/validate.ts";
import type { EditionWiring } from "../edition.ts";
import type { EventRecorder, RevisionReader, StatusWriter } from "../kube/gateway.ts";
import { intentRef } from "../kube/gateway.ts";
import { stableEqual } from "../lib/stable.ts";
import type { OperatorMetrics } from "../metrics.ts";
import type { Clock } from "../runtime/clock.ts";
import type { ReconcileRequest, ReconcileResult } from "../runtime/controller.ts";
import { applyLadder, type DryRunResult, evaluateIntent } from "./evaluate.ts";
import { type ExecutionDeps, finishExecution, intentContext, startExecution } from "./execution.ts";
import { duplicateOf, type IntentIdentity, intentId } from "./identity.ts";
import { climbLadder } from "./ladder.ts";
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
  statusWriter: StatusWriter;
  events: EventRecorder;
  metrics: OperatorMetrics;
  clock: Clock;
  /** The current edition's wiring (edition, dry runner, and an executor only with a verified license). */
  wiring: () => EditionWiring;
  admissionInstalled?: () => Promise<boolean>;
  execution?: ExecutionDeps;
}

const TERMINAL_PHASES = new Set(["Succeeded", "Failed", "Rejected", "Expired"]);

// The informer replaces an object on every change, so identities can be
// remembered per object: duplicate detection then costs a lookup per sibling,
// not a schema parse (it runs for every sibling on every reconcile).
const identities = new WeakMap<HealingIntentObject, IntentIdentity | null>();

export function identityOf(object: HealingIntentObject): IntentIdentity | undefined {
  const known = identities.get(object);
  if (known !== undefined) return known ?? undefined;
  const identity = computeIdentity(object);
  identities.set(object, identity ?? null);
  return identity;
}

function computeIdentity(object: HealingIntentObject): IntentIdentity | undefined {
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

    // A finished intent is a record: it is never decided again.
    if (previous?.phase && TERMINAL_PHASES.has(previous.phase)) return undefined;

    const validated = validate(HealingIntentSpec, intent.spec, "spec");
    const executor = deps.wiring().executor;
    // An attempt that was recorded but not finished (a crash, a lost lease) is
    // resumed exactly as recorded, never decided anew.
    if (previous?.execution?.state === "Started" && validated.ok) {
      if (!executor || !deps.execution) {
        log.warn(
          { attemptId: previous.execution.attemptId },
          "an attempt is in flight but the licensed edition is not active; it waits",
        );
        return { requeueAfterMs: 30_000 };
      }
      await finishExecution(deps.execution, executor, intentContext(intent, validated.value, log), previous);
      return undefined;
    }
    let evaluation: ReturnType<typeof evaluateIntent>;
    let requeueAfterMs: number | undefined;
    if (!validated.ok) {
      evaluation = evaluateIntent({
        generation,
        previous,
        problems: validated.problems,
        edition: deps.wiring().edition,
        now,
      });
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
          edition: deps.wiring().edition,
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
            previous?.observedGeneration === generation &&
            recorded.dryRun.validated;
          dryRun = alreadyValidated
            ? recorded.dryRun
            : await deps.wiring().dryRunner.dryRun(namespace, observed, plan, name);
        }
        evaluation = evaluateIntent({
          generation,
          previous,
          intentId: id,
          policy,
          plan,
          dryRun,
          edition: deps.wiring().edition,
          now,
        });
        deps.metrics.recommendationDuration.observe((performance.now() - started) / 1000);
        const recommendedOk = evaluation.status.conditions?.find((c) => c.type === "Recommended")?.status === "True";
        if (deps.wiring().edition === "licensed" && plan.ok && recommendedOk && observed.workload) {
          const ladder = climbLadder({
            policy: policy.policy,
            spec,
            plan,
            workload: observed.workload,
            recentActions: recentActionsOn(deps.view.intents(namespace), spec, name),
            createdAt: new Date(intent.metadata?.creationTimestamp ?? now),
            admissionPolicyInstalled: (await deps.admissionInstalled?.()) ?? false,
            now,
          });
          evaluation = applyLadder(evaluation, ladder, policy, previous, generation, now);
          // Look again at least every 30 s while waiting: the approval deadline may be hours away, but
          // the admission policy that vouches for approvers must still be in place when they are counted.
          if (ladder.verdict === "AwaitApproval") {
            requeueAfterMs = Math.min(30_000, Math.max(1000, ladder.expiresAt.getTime() - now.getTime()));
          }
          if (ladder.verdict === "Refuse" && ladder.refusal.retryAt) {
            requeueAfterMs = Math.max(1000, ladder.refusal.retryAt.getTime() - now.getTime());
          }
          const desiredFrom = deps.wiring().desiredFrom;
          if (ladder.verdict === "Execute" && executor && deps.execution && desiredFrom) {
            countDecision(deps, evaluation, previous);
            await startExecution(
              deps.execution,
              executor,
              intentContext(intent, spec, log),
              evaluation.status,
              plan,
              observed.workload,
              policy.policy,
              desiredFrom,
            );
            await recordEvents(deps, namespace, name, intent.metadata?.uid, evaluation.events, log);
            return undefined;
          }
        }
      }
    }

    countDecision(deps, evaluation, previous);
    if (!stableEqual(evaluation.status, previous ?? {})) {
      await deps.statusWriter.writeStatus("healingintents", intent, evaluation.status);
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
    await recordEvents(deps, namespace, name, intent.metadata?.uid, evaluation.events, log);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  };
}

function countDecision(
  deps: IntentReconcilerDeps,
  evaluation: ReturnType<typeof evaluateIntent>,
  previous: HealingIntentStatus | undefined,
) {
  if (evaluation.decision && evaluation.decision.verdict !== previous?.decision?.verdict) {
    deps.metrics.intentDecisions.inc({ mode: evaluation.decision.mode, decision: evaluation.decision.verdict });
  }
}

async function recordEvents(
  deps: IntentReconcilerDeps,
  namespace: string,
  name: string,
  uid: string | undefined,
  events: ReturnType<typeof evaluateIntent>["events"],
  log: ReconcileRequest["log"],
) {
  for (const event of events) {
    await deps.events
      .record(intentRef(namespace, name, uid), event.type, event.reason, event.message)
      .catch((error) => log.warn({ err: String(error), reason: event.reason }, "could not record event"));
  }
}

/** When other intents last acted on the same target, for the policy's rate limit. */
function recentActionsOn(intents: HealingIntentObject[], spec: HealingIntentSpec, self: string): Date[] {
  return intents.flatMap((i) => {
    const other = i.spec as { target?: { kind?: string; name?: string } } | undefined;
    const execution = i.status?.execution;
    if (i.metadata?.name === self || !execution?.startedAt) return [];
    if (other?.target?.kind !== spec.target.kind || other?.target?.name !== spec.target.name) return [];
    return [new Date(execution.startedAt)];
  });
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
