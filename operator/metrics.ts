// All metrics live in one registry owned by the process (not prom-client's
// global one), with controller-runtime-compatible names where they overlap.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { QueueMetrics } from "./runtime/queue.ts";

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: "controller_runtime_reconcile_total",
    help: "Total number of reconciliations per controller and result.",
    labelNames: ["controller", "result"] as const,
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: "controller_runtime_reconcile_time_seconds",
    help: "Length of time per reconciliation per controller.",
    labelNames: ["controller"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly workqueueDepth = new Gauge({
    name: "workqueue_depth",
    help: "Current depth of the work queue.",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly workqueueAdds = new Counter({
    name: "workqueue_adds_total",
    help: "Total number of adds handled by the work queue.",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly workqueueRetries = new Counter({
    name: "workqueue_retries_total",
    help: "Total number of rate-limited retries handled by the work queue.",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly workqueueQueueDuration = new Histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long an item stays in the work queue before being processed.",
    labelNames: ["name"] as const,
    buckets: [0.001, 0.01, 0.1, 1, 10, 100],
    registers: [this.registry],
  });
  readonly leaderStatus = new Gauge({
    name: "leader_election_master_status",
    help: "1 while this replica holds the leader lease, 0 otherwise.",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly editionInfo = new Gauge({
    name: "arf_edition_info",
    help: "The edition the operator runs as (value is always 1).",
    labelNames: ["edition"] as const,
    registers: [this.registry],
  });
  /** Where arf_intents reads the current intents from at scrape time (the informer cache). */
  intentSource: () => Array<{ phase: string; action: string }> = () => [];
  readonly intents: Gauge<"phase" | "action"> = new Gauge({
    name: "arf_intents",
    help: "HealingIntents per phase and action, as last observed.",
    labelNames: ["phase", "action"] as const,
    registers: [this.registry],
    collect: () => {
      this.intents.reset();
      for (const { phase, action } of this.intentSource()) this.intents.inc({ phase, action });
    },
  });
  readonly intentDecisions = new Counter({
    name: "arf_intent_decisions_total",
    help: "Policy decisions made on HealingIntents, per mode and decision.",
    labelNames: ["mode", "decision"] as const,
    registers: [this.registry],
  });
  readonly licenseValid = new Gauge({
    name: "arf_license_valid",
    help: "1 while a verified license is in force (licensed edition), 0 otherwise.",
    registers: [this.registry],
  });
  readonly licenseExpiry = new Gauge({
    name: "arf_license_expiry_timestamp_seconds",
    help: "When the license in force expires, as a Unix timestamp; 0 without one.",
    registers: [this.registry],
  });
  readonly licenseConfigured = new Gauge({
    name: "arf_license_configured",
    help: "1 when the operator reads a license (--license-secret is set: the licensed edition is wanted), 0 otherwise.",
    registers: [this.registry],
  });
  readonly licensePublicKey = new Gauge({
    name: "arf_license_public_key_info",
    help: 'The key licenses are verified against: source "vendor" (shipped in the image) or "override" (--unsafe-license-public-key-override), and its SHA-256 fingerprint. Always 1.',
    labelNames: ["source", "fingerprint"] as const,
    registers: [this.registry],
  });
  readonly executions = new Counter({
    name: "arf_executions_total",
    help: "Actions performed on workloads, per action and result.",
    labelNames: ["action", "result"] as const,
    registers: [this.registry],
  });
  readonly recommendationDuration = new Histogram({
    name: "arf_recommendation_duration_seconds",
    help: "Time to build a recommendation, including the API server dry run.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  // Auto-rollback windows. Per-target series exist only while a window is open, and a check's value
  // and threshold are removed (never left stale) when it could not be measured.
  readonly windowOpen = new Gauge({
    name: "arf_rollback_window_open",
    help: "1 while an auto-rollback window watches the target.",
    labelNames: ["namespace", "target"] as const,
    registers: [this.registry],
  });
  readonly windowRemaining = new Gauge({
    name: "arf_rollback_window_remaining_seconds",
    help: "Seconds until the open window closes Passed if nothing fails.",
    labelNames: ["namespace", "target"] as const,
    registers: [this.registry],
  });
  readonly windowChecks = new Counter({
    name: "arf_rollback_window_checks_total",
    help: "Measurements taken in auto-rollback windows, per check and result.",
    labelNames: ["check", "result"] as const,
    registers: [this.registry],
  });
  readonly windowValue = new Gauge({
    name: "arf_rollback_window_check_value",
    help: "The last measured value of a check in an open window.",
    labelNames: ["namespace", "target", "check"] as const,
    registers: [this.registry],
  });
  readonly windowThreshold = new Gauge({
    name: "arf_rollback_window_check_threshold",
    help: "The threshold of a check in an open window.",
    labelNames: ["namespace", "target", "check"] as const,
    registers: [this.registry],
  });
  readonly autoRollbacks = new Counter({
    name: "arf_auto_rollbacks_total",
    help: "Automatic undos performed after a failed window, per reason.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly autoRollbackFailures = new Counter({
    name: "arf_auto_rollback_failures_total",
    help: "Automatic undos a failed window called for that did not happen: Refused (the operator's record of the action does not allow it), Undecided (no record of deciding the undo), Failed (the undo's write failed or the workload moved since).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly autoRollbackReaction = new Histogram({
    name: "arf_auto_rollback_reaction_seconds",
    help: "From the measurement that reached the failure limit to the undo's write.",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly eventsPending = new Gauge({
    name: "arf_events_pending",
    help: "Events recorded but not yet sent (waiting or in flight): they go out in the background, one at a time while decisions are queued.",
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: "arf_events_dropped_total",
    help: "Events dropped because the backlog of unsent Events was full (as client-go's broadcaster drops them).",
    registers: [this.registry],
  });
  readonly windowsTotal = new Counter({
    name: "arf_rollback_windows_total",
    help: "Auto-rollback windows ended, per result.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  /** Which target each plan's open window watches, so its series can be removed when it closes or vanishes. */
  private readonly openWindows = new Map<string, { namespace: string; target: string; checks: Set<string> }>();

  openWindow(namespace: string, plan: string, target: string, remainingSeconds: number): void {
    const key = `${namespace}/${plan}`;
    const known = this.openWindows.get(key);
    if (known && known.target !== target) this.closeWindowOfPlan(namespace, plan);
    if (!this.openWindows.has(key)) this.openWindows.set(key, { namespace, target, checks: new Set() });
    this.windowOpen.set({ namespace, target }, 1);
    this.windowRemaining.set({ namespace, target }, Math.max(0, remainingSeconds));
  }

  windowCheckValue(namespace: string, target: string, check: string, value?: number, threshold?: number): void {
    const labels = { namespace, target, check };
    for (const open of this.openWindows.values())
      if (open.namespace === namespace && open.target === target) open.checks.add(check);
    if (value === undefined || !Number.isFinite(value)) {
      this.windowValue.remove(labels);
      this.windowThreshold.remove(labels);
      return;
    }
    this.windowValue.set(labels, value);
    if (threshold !== undefined) this.windowThreshold.set(labels, threshold);
  }

  closeWindowOfPlan(namespace: string, plan: string): void {
    const key = `${namespace}/${plan}`;
    const open = this.openWindows.get(key);
    if (!open) return;
    this.windowOpen.remove({ namespace, target: open.target });
    this.windowRemaining.remove({ namespace, target: open.target });
    for (const check of open.checks) {
      this.windowValue.remove({ namespace, target: open.target, check });
      this.windowThreshold.remove({ namespace, target: open.target, check });
    }
    this.openWindows.delete(key);
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  queueMetrics(name: string): QueueMetrics {
    return {
      depth: (value) => this.workqueueDepth.set({ name }, value),
      added: () => this.workqueueAdds.inc({ name }),
      retried: () => this.workqueueRetries.inc({ name }),
      queueDuration: (seconds) => this.workqueueQueueDuration.observe({ name }, seconds),
    };
  }
}
