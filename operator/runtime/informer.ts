// An informer that stays alive. client-node's ListWatch re-lists by itself on
// 410 Gone but stops on any other error, and a half-open connection can stall
// it silently. This wrapper restarts it with exponential backoff after errors,
// and restarts a watch that has been silent longer than staleAfterMs. Handlers
// must only enqueue keys: anything they throw is caught and logged.
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import { StringInterner } from "../lib/intern.ts";
import type { Clock } from "./clock.ts";

export type ChangeHandler<T> = (object: T, previous?: T) => void;

export interface InformerOptions {
  staleAfterMs: number;
  minRestartDelayMs: number;
  maxRestartDelayMs: number;
}

export const DEFAULT_INFORMER_OPTIONS: InformerOptions = {
  staleAfterMs: 5 * 60_000,
  minRestartDelayMs: 500,
  maxRestartDelayMs: 60_000,
};

export class ResilientInformer<T extends k8s.KubernetesObject> {
  private readonly informer: k8s.Informer<T> & k8s.ObjectCache<T>;
  private readonly handlers: ChangeHandler<T>[] = [];
  private synced = false;
  private stopped = true;
  private restartDelay: number;
  private lastActivity = 0;
  private restartTimer?: { cancel(): void };
  private staleTimer?: { cancel(): void };
  private startFailed = false;

  readonly name: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly options: InformerOptions;

  constructor(
    name: string,
    kc: k8s.KubeConfig,
    path: string,
    list: k8s.ListPromise<T>,
    log: Logger,
    clock: Clock,
    options: InformerOptions = DEFAULT_INFORMER_OPTIONS,
    /** client-node's factory; tests pass a fake to drive failures. */
    makeInformer: typeof k8s.makeInformer = k8s.makeInformer,
  ) {
    this.name = name;
    this.log = log;
    this.clock = clock;
    this.options = options;
    this.restartDelay = options.minRestartDelayMs;
    this.informer = makeInformer(kc, path, list);
    const touch = () => {
      this.lastActivity = this.clock.now().getTime();
      this.restartDelay = this.options.minRestartDelayMs;
    };
    this.informer.on(k8s.ADD, (object) => {
      touch();
      this.dispatch(compacted(object));
    });
    this.informer.on(k8s.UPDATE, (object) => {
      touch();
      this.dispatch(compacted(object));
    });
    this.informer.on(k8s.DELETE, (object) => {
      touch();
      this.dispatch(object);
    });
    this.informer.on(k8s.CONNECT, () => {
      this.lastActivity = this.clock.now().getTime();
    });
    this.informer.on(k8s.ERROR, (error) => this.onError(error));
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  /** Starts the informer; resolves once the initial list has succeeded (retrying until it does or stop() is called). */
  async start(): Promise<void> {
    this.stopped = false;
    this.scheduleStalenessCheck();
    while (!this.stopped && !this.synced) {
      this.startFailed = false;
      await this.informer.start();
      if (!this.startFailed) {
        this.synced = true;
        this.lastActivity = this.clock.now().getTime();
        break;
      }
      // start() resolves even when the initial list failed; onError has
      // scheduled nothing yet for this case, so wait and try again here.
      await new Promise((resolve) => this.clock.setTimeout(() => resolve(undefined), this.nextDelay()));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.restartTimer?.cancel();
    this.staleTimer?.cancel();
    await this.informer.stop();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  list(namespace?: string): T[] {
    return [...this.informer.list(namespace)];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  private dispatch(object: T): void {
    for (const handler of this.handlers) {
      try {
        handler(object);
      } catch (error) {
        this.log.error({ err: error, informer: this.name }, "informer handler threw; it must only enqueue keys");
      }
    }
  }

  private onError(error: unknown): void {
    if (this.stopped) return;
    if (!this.synced) {
      this.startFailed = true;
      this.log.warn({ err: describe(error), informer: this.name }, "initial list failed; retrying");
      return;
    }
    const delay = this.nextDelay();
    this.log.warn({ err: describe(error), informer: this.name, retryInMs: delay }, "watch failed; restarting");
    this.scheduleRestart(delay);
  }

  private scheduleRestart(delay: number): void {
    this.restartTimer?.cancel();
    this.restartTimer = this.clock.setTimeout(() => {
      if (this.stopped) return;
      void this.informer.stop().then(() => (this.stopped ? undefined : this.informer.start()));
    }, delay);
  }

  private scheduleStalenessCheck(): void {
    this.staleTimer = this.clock.setTimeout(
      () => {
        this.checkStaleness();
        if (!this.stopped) this.scheduleStalenessCheck();
      },
      Math.min(this.options.staleAfterMs, 30_000),
    );
  }

  private checkStaleness(): void {
    if (this.stopped || !this.synced) return;
    const silentFor = this.clock.now().getTime() - this.lastActivity;
    if (silentFor < this.options.staleAfterMs) return;
    this.log.info({ informer: this.name, silentForMs: silentFor }, "watch silent for too long; restarting it");
    this.lastActivity = this.clock.now().getTime();
    this.scheduleRestart(0);
  }

  private nextDelay(): number {
    const delay = this.restartDelay;
    this.restartDelay = Math.min(this.restartDelay * 2, this.options.maxRestartDelayMs);
    return delay;
  }
}

/**
 * client-node's cache keeps the very object it hands to handlers, so dropping
 * managedFields here drops them from the cache: no decision reads them, and
 * they are the larger part of a small object's memory (a tree of tiny
 * objects per field manager). Live reads, which the executor makes before
 * acting, still carry them.
 */
function withoutManagedFields<T extends k8s.KubernetesObject>(object: T): T {
  if (object.metadata?.managedFields) delete object.metadata.managedFields;
  return object;
}

/** One table for every informer: kinds share strings too (namespaces, names, labels). */
const sharedStrings = new StringInterner();
/** Objects already compacted: a listed item is compacted with its page, and not walked again when dispatched. */
const compactedObjects = new WeakSet<object>();

/**
 * What the cache keeps: no managedFields, and one shared copy of each repeated
 * string (lib/intern.ts). Only memory is at stake: whatever goes wrong here,
 * the object is still cached and dispatched as it came.
 */
function compacted<T extends k8s.KubernetesObject>(object: T): T {
  if (compactedObjects.has(object)) return object;
  try {
    sharedStrings.internAll(withoutManagedFields(object));
    compactedObjects.add(object);
  } catch {
    // left as it came
  }
  return object;
}

/** One page of a list: the API server's limit and continue parameters, as CustomObjectsApi names them. */
export type ListPage<T extends k8s.KubernetesObject> = (page: {
  limit: number;
  _continue?: string;
}) => Promise<k8s.KubernetesListObject<T>>;

/**
 * A list in pages of `pageSize`: one answer for 10,000 intents is tens of MiB
 * of JSON, held as text and parsed at once, and that peak stays in the
 * process's RSS long after. Items are compacted (no managedFields, shared
 * strings) page by page. The
 * pages are one consistent snapshot (the API server's continue token); the
 * last page's resourceVersion starts the watch. (client-go's reflector pages
 * too, but asks resourceVersion=0, which older API servers answer whole from
 * their watch cache; these pages are served by etcd, or by the watch cache on
 * API servers that page it.) A token that comes back again ends the list with
 * an error rather than looping; the informer then lists again, with backoff.
 */
export function pagedList<T extends k8s.KubernetesObject>(page: ListPage<T>, pageSize = 500): k8s.ListPromise<T> {
  return async () => {
    const items: T[] = [];
    const tokens = new Set<string>();
    let token: string | undefined;
    let last: k8s.KubernetesListObject<T>;
    do {
      last = await page({ limit: pageSize, ...(token ? { _continue: token } : {}) });
      for (const item of last.items ?? []) items.push(compacted(item));
      // Raw JSON (CustomObjectsApi) names it `continue`; client-node's typed lists `_continue`.
      const meta = last.metadata as { continue?: string; _continue?: string } | undefined;
      token = meta?.continue || meta?._continue || undefined;
      if (token !== undefined) {
        if (tokens.has(token)) throw new Error(`the list's continue token came back again after ${tokens.size} pages`);
        tokens.add(token);
      }
    } while (token);
    return { ...last, items, metadata: { ...last.metadata, continue: undefined, _continue: undefined } as never };
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
