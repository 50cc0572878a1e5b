// Runs a reconciler over a work queue with N workers. Reconcilers are
// level-triggered: they get a key, read current state, and converge. A thrown
// error requeues the key with backoff; a result may ask for a later requeue.
//
// Each reconcile gets an AbortSignal. abortInFlight() aborts every reconcile
// running at that moment: main.ts calls it the instant leadership is lost, so
// a replica that may no longer hold the lease stops mid-way instead of
// finishing on stale authority. (Cooperative: reconcilers pass the signal to
// their calls and check it; writes are also guarded by LeadershipGuard.)
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { OperatorMetrics } from "../metrics.ts";
import type { Clock } from "./clock.ts";
import { DEFAULT_RATE_LIMITER, RateLimiter, WorkQueue } from "./queue.ts";

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface ReconcileRequest {
  namespace: string;
  name: string;
  key: string;
  log: Logger;
  /** Aborted when this replica loses leadership (or shutdown gives up waiting); its reason says which. */
  signal: AbortSignal;
}

export type Reconciler = (request: ReconcileRequest) => Promise<ReconcileResult | undefined>;

export const objectKey = (namespace: string | undefined, name: string | undefined) =>
  `${namespace ?? ""}/${name ?? ""}`;

export class Controller {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];
  private running = false;
  private readonly inFlight = new Set<AbortController>();

  readonly name: string;
  private readonly reconcile: Reconciler;
  private readonly log: Logger;
  private readonly metrics: OperatorMetrics;
  /** Checked before every reconcile: a replica that stops leading stops acting at once. */
  private readonly mayAct: () => boolean;

  constructor(
    name: string,
    reconcile: Reconciler,
    log: Logger,
    metrics: OperatorMetrics,
    clock: Clock,
    mayAct: () => boolean = () => true,
  ) {
    this.name = name;
    this.reconcile = reconcile;
    this.log = log;
    this.metrics = metrics;
    this.mayAct = mayAct;
    this.queue = new WorkQueue(clock, new RateLimiter(DEFAULT_RATE_LIMITER, clock), metrics.queueMetrics(name));
  }

  enqueue(namespace: string | undefined, name: string | undefined): void {
    if (name) this.queue.add(objectKey(namespace, name));
  }

  start(workers: number): void {
    this.running = true;
    this.workers = Array.from({ length: workers }, () => this.work());
  }

  /** Aborts the signal of every reconcile in flight now; later reconciles get a fresh signal. */
  abortInFlight(reason: Error): void {
    for (const controller of this.inFlight) controller.abort(reason);
  }

  /** Stops taking work and waits for in-flight reconciles, up to the deadline, then aborts those still running. */
  async stop(deadlineMs: number): Promise<boolean> {
    this.running = false;
    this.queue.shutDown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finished = await Promise.race([
      Promise.all(this.workers).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) this.abortInFlight(new Error("shutdown deadline passed"));
    return finished;
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        if (!this.running || !this.mayAct()) continue;
        await this.process(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async process(key: string): Promise<void> {
    const slash = key.indexOf("/");
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const log = this.log.child({ controller: this.name, namespace, name, reconcileID: randomUUID() });
    const end = this.metrics.reconcileTime.startTimer({ controller: this.name });
    const abort = new AbortController();
    this.inFlight.add(abort);
    try {
      const result = await this.reconcile({ namespace, name, key, log, signal: abort.signal });
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics.reconcileTotal.inc({ controller: this.name, result: "requeue_after" });
      } else {
        this.metrics.reconcileTotal.inc({ controller: this.name, result: "success" });
      }
    } catch (error) {
      this.metrics.reconcileTotal.inc({ controller: this.name, result: "error" });
      if (abort.signal.aborted || (error instanceof Error && error.name === "NotLeaderError")) {
        // Not a fault of the object: this replica stopped leading (or is shutting down) mid-reconcile.
        log.warn({ reason: String(abort.signal.reason ?? error) }, "reconcile abandoned: no longer allowed to act");
      } else {
        // A write conflict only means the cache was behind; it is retried, not a fault.
        const level = error instanceof Error && error.name === "ConflictError" ? "debug" : "error";
        log[level](
          { err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) },
          "reconcile failed; requeueing with backoff",
        );
      }
      this.queue.addRateLimited(key);
    } finally {
      this.inFlight.delete(abort);
      end();
    }
  }
}
