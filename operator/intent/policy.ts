// Which ApprovalPolicy governs an intent. Only policies in the intent's own
// namespace count. Among the matching ones the most specific wins; a tie is
// broken by name, and the tie is reported so nobody is surprised.
import { ApprovalPolicySpec, type ExecutionMode, type HealingIntentSpec } from "../api/index.ts";
import { describeProblems, validate } from "../api/validate.ts";
import { matchesSelector, selectorSize } from "./selector.ts";

export interface PolicyCandidate {
  name: string;
  /** The parsed spec, or undefined when the policy is invalid. */
  spec: ApprovalPolicySpec | undefined;
  /** Why it is invalid, naming the fields. */
  problems?: string;
  /** An invalid policy's selector, when the selector alone is valid: it blocks only intents it selects. */
  selector?: ApprovalPolicySpec["selector"] | null;
}

export interface PolicyResolution {
  policy?: { name: string; spec: ApprovalPolicySpec };
  mode: ExecutionMode;
  reason: "PolicyMatched" | "NoPolicy" | "PolicyTie" | "PolicyInvalid";
  message: string;
  notes: string[];
}

const SelectorOnly = ApprovalPolicySpec.shape.selector;

/** Reads an ApprovalPolicy's spec as a resolution candidate; an invalid one keeps its problems and, if valid, its selector. */
export function policyCandidate(name: string, spec: unknown): PolicyCandidate {
  const validated = validate(ApprovalPolicySpec, spec, "spec");
  if (validated.ok) return { name, spec: validated.value };
  const selector = SelectorOnly.safeParse((spec as { selector?: unknown } | undefined)?.selector);
  return {
    name,
    spec: undefined,
    problems: describeProblems(validated.problems),
    selector: selector.success ? (selector.data ?? null) : undefined,
  };
}

/** How specific a policy's selector is: each constraint it sets counts. */
export function specificity(spec: ApprovalPolicySpec): number {
  const selector = spec.selector;
  if (!selector) return 0;
  return (
    (selector.actions ? 1 : 0) +
    (selector.targetKinds ? 1 : 0) +
    (selector.minConfidence !== undefined ? 1 : 0) +
    selectorSize(selector.targetSelector)
  );
}

export function policyMatches(
  spec: ApprovalPolicySpec,
  intent: HealingIntentSpec,
  targetLabels: Record<string, string> | undefined,
): boolean {
  const selector = spec.selector;
  if (!selector) return true;
  if (selector.actions && !selector.actions.includes(intent.action)) return false;
  if (selector.targetKinds && !selector.targetKinds.includes(intent.target.kind)) return false;
  if (selector.minConfidence !== undefined && intent.confidence < selector.minConfidence) return false;
  if (selector.targetSelector) {
    // Without the target's labels a label selector cannot be said to match.
    if (!targetLabels) return false;
    if (!matchesSelector(selector.targetSelector, targetLabels)) return false;
  }
  return true;
}

export function resolvePolicy(
  intent: HealingIntentSpec,
  targetLabels: Record<string, string> | undefined,
  candidates: PolicyCandidate[],
): PolicyResolution {
  // Fail closed: an invalid policy that could govern the intent (its selector matches, or cannot be read)
  // blocks it; ignoring it would let a looser policy govern instead.
  const blocking = candidates
    .filter((c) => !c.spec)
    .filter(
      (c) =>
        c.selector === undefined ||
        policyMatches({ selector: c.selector ?? undefined } as ApprovalPolicySpec, intent, targetLabels),
    )
    .sort((a, b) => a.name.localeCompare(b.name));
  if (blocking.length > 0) {
    return {
      mode: "advisory",
      reason: "PolicyInvalid",
      message: blocking
        .map((c) => `ApprovalPolicy ${c.name} is invalid (${c.problems ?? "unreadable"}) and could govern this intent`)
        .concat("nothing runs until it is fixed")
        .join("; "),
      notes: [],
    };
  }
  const notes = candidates
    .filter((c) => !c.spec)
    .map((c) => `ApprovalPolicy ${c.name} is invalid but does not select this intent`)
    .sort();
  const matching = candidates
    .flatMap((c) => (c.spec && policyMatches(c.spec, intent, targetLabels) ? [{ name: c.name, spec: c.spec }] : []))
    .map((p) => ({ ...p, score: specificity(p.spec) }))
    .sort((a, b) => b.score - a.score || a.name.localeCompare(b.name));
  const winner = matching[0];
  if (!winner) {
    return {
      mode: "advisory",
      reason: "NoPolicy",
      message: "no ApprovalPolicy in this namespace governs the intent; advisory",
      notes,
    };
  }
  const tied = matching.filter((p) => p.score === winner.score).map((p) => p.name);
  const policy = { name: winner.name, spec: winner.spec };
  if (tied.length > 1) {
    return {
      policy,
      mode: winner.spec.mode,
      reason: "PolicyTie",
      message: `ApprovalPolicies ${tied.join(", ")} match equally (specificity ${winner.score}); ${winner.name} wins by name`,
      notes,
    };
  }
  return {
    policy,
    mode: winner.spec.mode,
    reason: "PolicyMatched",
    message: `ApprovalPolicy ${winner.name} governs the intent (mode ${winner.spec.mode}, specificity ${winner.score})`,
    notes,
  };
}
