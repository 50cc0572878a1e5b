// HealingIntent reconciler, in three steps: gather the context (from the
// caches, and from the live API before anything is executed), decide (pure,
// decide.ts), act (write status and Events, or run the decided execution
// through execution.ts). Never writes the spec.
//
// Decisions about one target are serialised (a per-target lock), so two
// intents on the same workload never both pass a rate limit or both act.
import {
  HealingIntentSpec,
  type HealingIntentStatus,
  type IntentPhase,
  TERMINAL_PHASES,
  type WorkloadKind,
} from "../api/index.ts";
import { type Validated, validate } from "../api/validate.ts";
import type { EditionWiring } from "../edition.ts";
import type { AdmissionReader, EventRecorder, RevisionReader, StatusWriter, WorkloadReader } from "../kube/gateway.ts";
import { KeyedMutex } from "../lib/keyed-mutex.ts";
import { stableEqual } from "../lib/stable.ts";
import type { OperatorMetrics } from "../metrics.ts";
import type { Clock } from "../runtime/clock.ts";
import type { ReconcileRequest, ReconcileResult } from "../runtime/controller.ts";
import { type AdmissionState, judgeAdmission } from "./admission.ts";
import type { AdmissionTracker } from "./admission-notes.ts";
import { decideIntent, type IntentDecision, type IntentFacts } from "./decide.ts";
import { planDigest } from "./digest.ts";
import { appendHistory, type DryRunResult } from "./evaluate.ts";
import { type ExecutionDeps, execute, resumeRecordedAttempt } from "./execution.ts";
import { duplicateOf, type IntentIdentity, intentId } from "./identity.ts";
import { type ArfObject, type HealingIntentObject, recordEvents } from "./objects.ts";
import { type ObservedTarget, planAction, type UndoSource, type Workload } from "./plan.ts";
import { policyCandidate, resolvePolicy } from "./policy.ts";

export type { ArfObject, HealingIntentObject } from "./objects.ts";

/** Read access to the informer caches. */
export interface ClusterView {
  intent(namespace: string, name: string): HealingIntentObject | undefined;
  /** The cached intents of a namespace that propose the action with this intent id. */
  intentsWithId(namespace: string, intentId: string): HealingIntentObject[];
  policies(namespace: string): ArfObject[];
  workload(kind: WorkloadKind, namespace: string, name: string): Workload | undefined;
}

export interface IntentReconcilerDeps {
  view: ClusterView;
  revisions: RevisionReader;
  /** Live reads of a workload, before anything is executed. */
  workloads?: WorkloadReader;
  /** Shared per-target locks (the window controller's undos take them too). */
  targetLocks?: KeyedMutex;
  /** Live list of the ApprovalPolicies in a namespace, before anything is executed. */
  livePolicies?: (namespace: string) => Promise<ArfObject[]>;
  statusWriter: StatusWriter;
  events: EventRecorder;
  metrics: OperatorMetrics;
  clock: Clock;
  /** The current edition's wiring (edition, dry runner, and an executor only with a verified license). */
  wiring: () => EditionWiring;
  admission?: AdmissionReader;
  /** Since when the admission policy has been in force as judged (licensed edition). */
  admissionTracker?: AdmissionTracker;
  execution?: ExecutionDeps;
}

const TARGET_BUSY_RETRY_MS = 250;
const NO_ADMISSION: AdmissionState = {
  verified: false,
  reason: "AdmissionPolicyMissing",
  message: "the approvals admission policy could not be read",
};

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
    acted: Boolean(object.status?.execution),
  };
}

/** The lock key for an intent: its target, or the intent itself when the spec names none. */
function targetKey(namespace: string, name: string, spec: unknown): string {
  const target = (spec as { target?: { kind?: unknown; name?: unknown } } | undefined)?.target;
  return typeof target?.kind === "string" && typeof target?.name === "string"
    ? `${namespace}/${target.kind}/${target.name}`
    : `${namespace}/HealingIntent/${name}`;
}

export function makeIntentReconciler(deps: IntentReconcilerDeps) {
  const targets = deps.targetLocks ?? new KeyedMutex();
  return async function reconcileIntent(request: ReconcileRequest): Promise<ReconcileResult | undefined> {
    const intent = deps.view.intent(request.namespace, request.name);
    if (!intent || intent.metadata?.deletionTimestamp) return undefined;
    const key = targetKey(request.namespace, request.name, intent.spec);
    // Whatever may act on the target (a resumed attempt; the live check and execution) runs alone per
    // target; recommending needs no lock. A busy target is retried shortly rather than holding a worker.
    const exclusive: Exclusive = (fn) =>
      targets.busy(key) ? Promise.resolve({ requeueAfterMs: TARGET_BUSY_RETRY_MS }) : targets.run(key, fn);
    return reconcile(deps, request, exclusive);
  };
}

type Exclusive = (fn: () => Promise<ReconcileResult | undefined>) => Promise<ReconcileResult | undefined>;

async function reconcile(
  deps: IntentReconcilerDeps,
  request: ReconcileRequest,
  exclusive: Exclusive,
): Promise<ReconcileResult | undefined> {
  const { namespace, name, log } = request;
  request.signal?.throwIfAborted();
  // Writes to workloads also stop once this reconcile is aborted (leadership lost, shutdown).
  const execution: ExecutionDeps | undefined = deps.execution && {
    ...deps.execution,
    assertMayAct: () => {
      request.signal?.throwIfAborted();
      deps.execution?.assertMayAct();
    },
  };
  const intent = deps.view.intent(namespace, name);
  if (!intent || intent.metadata?.deletionTimestamp) return undefined;
  let previous = intent.status;
  // A finished intent is a record: it is never decided again. It is observed, though: a later spec
  // change (a late approval, a commit) must not leave Flux and Argo CD waiting for observedGeneration.
  if (previous?.phase && TERMINAL_PHASES.has(previous.phase as IntentPhase)) {
    const generation = intent.metadata?.generation ?? 0;
    if (previous.observedGeneration !== generation) {
      await deps.statusWriter.writeStatus("healingintents", intent, {
        ...previous,
        observedGeneration: generation,
        conditions: previous.conditions?.map((c) => ({ ...c, observedGeneration: generation })),
      });
    }
    return undefined;
  }
  const wiring = deps.wiring(); // one snapshot of the edition per reconcile
  const validated = validate(HealingIntentSpec, intent.spec, "spec");

  const extraEvents: IntentDecision["events"] = [];
  if (previous?.execution && validated.ok) {
    // Status is a record, never a command: an attempt is resumed only from the operator's own record.
    let unverified: Extract<Awaited<ReturnType<typeof resumeRecordedAttempt>>, { kind: "unverified" }> | undefined;
    const result = await exclusive(async () => {
      const resumed = await resumeRecordedAttempt(execution, wiring, intent, validated.value, log);
      if (resumed.kind === "handled") return resumed.result;
      unverified = resumed;
      return undefined;
    });
    if (!unverified) return result;
    previous = unverified.previous;
    extraEvents.push(...unverified.events);
  }

  const cached = await gather(deps, intent, previous, wiring, validated, "cache");
  let decided = decideIntent(cached);
  if (decided.execute && wiring.executor && execution) {
    let executed = false;
    let confirmed = decided;
    const result = await exclusive(async () => {
      // Confirm against the live state before anything runs; the cache may be behind.
      const live = await gather(deps, intent, previous, wiring, validated, "live");
      confirmed = decideIntent(live);
      const order = confirmed.execute;
      if (!order || !validated.ok) return undefined;
      executed = true;
      countDecision(deps, confirmed, previous);
      return execute(execution, wiring, {
        intent,
        spec: validated.value,
        status: confirmed.status,
        order,
        events: [...extraEvents, ...confirmed.events],
        log,
      });
    });
    if (executed || result?.requeueAfterMs === TARGET_BUSY_RETRY_MS) return result;
    decided = confirmed;
  }

  countDecision(deps, decided, previous);
  if (extraEvents.length > 0) {
    decided.status.history = appendHistory(decided.status.history, extraEvents, deps.clock.now());
  }
  if (!stableEqual(decided.status, intent.status ?? {})) {
    await deps.statusWriter.writeStatus("healingintents", intent, decided.status);
    log.info(
      {
        intentId: decided.status.intentId,
        phase: decided.status.phase,
        policy: decided.decision?.policy,
        mode: decided.decision?.mode,
        verdict: decided.decision?.verdict,
        recommendation: decided.status.recommendation?.summary,
      },
      "intent status updated",
    );
  }
  await recordEvents(deps.events, intent, [...extraEvents, ...decided.events], log);
  return decided.requeueAfterMs !== undefined ? { requeueAfterMs: decided.requeueAfterMs } : undefined;
}

/** Everything the decision depends on. "live" reads the target and the records from the API, not the cache. */
async function gather(
  deps: IntentReconcilerDeps,
  intent: HealingIntentObject,
  previous: HealingIntentStatus | undefined,
  wiring: EditionWiring,
  validated: Validated<HealingIntentSpec>,
  source: "cache" | "live",
): Promise<IntentFacts> {
  const namespace = intent.metadata?.namespace ?? "";
  const name = intent.metadata?.name ?? "";
  const now = deps.clock.now();
  const base: IntentFacts = {
    now,
    generation: intent.metadata?.generation ?? 0,
    createdAt: new Date(intent.metadata?.creationTimestamp ?? now),
    previous,
    edition: wiring.edition,
    recentActions: [],
    admission: NO_ADMISSION,
  };
  if (!validated.ok) return { ...base, problems: validated.problems };
  const spec = validated.value;
  const id = intentId(namespace, spec);
  const self = identityOf(intent) as IntentIdentity;
  const siblings = deps.view.intentsWithId(namespace, id).flatMap((o) => identityOf(o) ?? []);
  const duplicate = duplicateOf(self, siblings);
  if (duplicate) return { ...base, spec, intentId: id, duplicateOf: duplicate };

  const started = performance.now();
  const observed = await observeTarget(deps, namespace, spec, source, wiring.edition);
  const policy = resolvePolicy(
    spec,
    observed.workload?.metadata?.labels ?? (observed.workload ? {} : undefined),
    (source === "live" && deps.livePolicies ? await deps.livePolicies(namespace) : deps.view.policies(namespace)).map(
      (p) => policyCandidate(p.metadata?.name ?? "", p.spec),
    ),
  );
  const plan = planAction(spec, observed);
  const digest = plan.ok && observed.workload ? planDigest(namespace, spec, plan, observed.workload) : undefined;
  let dryRun: DryRunResult | undefined;
  if (plan.ok && !plan.noop) {
    const recorded = previous?.recommendation;
    // The same change was already validated: do not ask the API server again on every resync.
    const alreadyValidated =
      recorded?.digest === digest && previous?.observedGeneration === base.generation && recorded?.dryRun.validated;
    dryRun =
      alreadyValidated && recorded ? recorded.dryRun : await wiring.dryRunner.dryRun(namespace, observed, plan, name);
  }
  deps.metrics.recommendationDuration.observe((performance.now() - started) / 1000);

  const governed = wiring.edition === "licensed" && policy.policy && policy.mode !== "advisory";
  const rateLimited = governed && policy.policy?.spec.limits?.rateLimit !== undefined;
  const [recentActions, admission] = await Promise.all([
    rateLimited && source === "live" && deps.execution
      ? deps.execution.ledger.actionsOn(namespace, spec.target.kind, spec.target.name, id)
      : Promise.resolve([]),
    governed && policy.mode === "approval" && deps.admission
      ? deps
          .admission(source === "live")
          .then(({ policy: p, binding: b }) =>
            deps.admissionTracker
              ? deps.admissionTracker.state(judgeAdmission(p, b), now)
              : { ...NO_ADMISSION, message: "no record of the admission policy is kept; approvals are not counted" },
          )
      : Promise.resolve(NO_ADMISSION),
  ]);
  return {
    ...base,
    spec,
    intentId: id,
    policy,
    ...(observed.workload ? { workload: observed.workload } : {}),
    plan,
    ...(digest ? { digest } : {}),
    ...(dryRun ? { dryRun } : {}),
    recentActions,
    admission,
  };
}

async function observeTarget(
  deps: IntentReconcilerDeps,
  namespace: string,
  spec: HealingIntentSpec,
  source: "cache" | "live",
  edition: EditionWiring["edition"],
): Promise<ObservedTarget> {
  const { kind, name } = spec.target;
  const workload =
    source === "live" && deps.workloads
      ? await deps.workloads.read(kind, namespace, name)
      : deps.view.workload(kind, namespace, name);
  const observed: ObservedTarget = { kind, name, ...(workload ? { workload } : {}) };
  if (workload && spec.action === "undo") {
    // Only the licensed edition may read the operator's records (the OSS edition has no access to them).
    observed.undo =
      edition === "licensed"
        ? await undoSource(deps, namespace, spec)
        : { ok: false, message: "only the licensed edition keeps the records an undo restores from" };
  }
  if (workload && spec.action === "rollback") {
    if (kind === "Deployment") observed.replicaSets = await deps.revisions.replicaSets(namespace);
    else observed.controllerRevisions = await deps.revisions.controllerRevisions(namespace);
  }
  return observed;
}

/** The earlier intent an undo names, its action and its pre-action snapshot, from the operator's own record. */
async function undoSource(deps: IntentReconcilerDeps, namespace: string, spec: HealingIntentSpec): Promise<UndoSource> {
  const name = spec.parameters?.intent ?? "";
  const earlier = deps.view.intent(namespace, name);
  if (!earlier) return { ok: false, message: `there is no HealingIntent ${name} in this namespace to undo` };
  const parsed = HealingIntentSpec.safeParse(earlier.spec);
  if (!parsed.success) return { ok: false, message: `HealingIntent ${name} is invalid; there is nothing to undo` };
  const target = parsed.data.target;
  if (target.kind !== spec.target.kind || target.name !== spec.target.name) {
    return {
      ok: false,
      message: `HealingIntent ${name} acted on ${target.kind.toLowerCase()}/${target.name}, not on this intent's target`,
    };
  }
  if (!deps.execution) {
    return { ok: false, message: "only the licensed edition keeps the records an undo restores from" };
  }
  const id = intentId(namespace, parsed.data);
  const stored = await deps.execution.ledger.get(id);
  const record = stored?.record;
  if (!record || record.intentUid !== earlier.metadata?.uid) {
    return { ok: false, message: `HealingIntent ${name} never acted (the operator has no record of it)` };
  }
  if (record.state !== "Succeeded" || !record.snapshot) {
    return {
      ok: false,
      message: `HealingIntent ${name}'s action is ${record.state}${record.snapshot ? "" : " without a snapshot"}`,
    };
  }
  return {
    ok: true,
    intentName: name,
    intentId: id,
    action: parsed.data.action,
    snapshot: record.snapshot,
    ...(record.generationAfter !== undefined ? { generationAfter: record.generationAfter } : {}),
    ...(record.desired.replicas !== undefined ? { replicasAfter: record.desired.replicas } : {}),
  };
}

function countDecision(deps: IntentReconcilerDeps, decided: IntentDecision, previous: HealingIntentStatus | undefined) {
  if (decided.decision && decided.decision.verdict !== previous?.decision?.verdict) {
    deps.metrics.intentDecisions.inc({ mode: decided.decision.mode, decision: decided.decision.verdict });
  }
}
