/** The informer: list, then watch, keeping a Store in step with the API server and telling handlers what changed. */
import { backoffDelay, jitter } from './backoff.js';
import { abortReason, isGone, type Client, type ListResult, type WatchEvent } from './client.js';
import { createLogger, errorFields, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { objectKey } from './keys.js';
import type { KubeObject, ResourceType } from './resources.js';
import { Store } from './store.js';
import { Tracer, untraced } from './trace.js';

/**
 * Where the list/watch loop is. The loop is `state = await step(state)` until
 * Stopped; each line below is one step (kube-rs's watcher documents its loop the same way).
 *
 * ```text
 *   Pending  ── start() ──────────────────────────────────▶ Listing(initial)
 *   Listing  ── all pages listed, store replaced,
 *               handlers told the difference ─────────────▶ Watching(the list's resourceVersion)
 *            ── list failed ──────────────────────────────▶ Backoff(next: list)
 *   Watching ── stream ended (server-side timeout) ───────▶ Watching(last resourceVersion seen)
 *            ── silent for silenceTimeoutMs (watchdog) ───▶ Watching(last resourceVersion seen)
 *            ── 410 Gone / Expired ───────────────────────▶ Listing(gone)
 *            ── 410 right after a list ───────────────────▶ Backoff(next: list)
 *            ── any other error, or closed at once ───────▶ Backoff(next: watch)
 *   Backoff  ── jittered exponential delay ───────────────▶ Listing(retry) or Watching(last seen)
 *   any      ── signal aborted ───────────────────────────▶ Stopped
 * ```
 *
 * Watching always resumes from the last resourceVersion seen (an event's or a
 * bookmark's), so nothing between two watches is missed; when the server no
 * longer has that version (410), only a new list can say what changed.
 */
export type InformerState =
  | { readonly phase: 'Pending' }
  | {
      readonly phase: 'Listing';
      /** Why: the first list, a 410 on the watch, or a retry after a failed list. */
      readonly reason: 'initial' | 'gone' | 'retry';
    }
  | {
      readonly phase: 'Watching';
      /** Where the watch starts; events and bookmarks move it on as they arrive. */
      readonly resourceVersion: string;
    }
  | {
      readonly phase: 'Backoff';
      readonly next: 'list' | 'watch';
      /** Consecutive failures, this one included (1 = first failure). */
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: Error;
    }
  | { readonly phase: 'Stopped' };

/**
 * Called synchronously, in event order, after the store has changed (so the
 * store already shows `newObj`). Errors, thrown or as rejected promises, are
 * caught, logged and counted; they never stop the informer.
 */
export interface InformerEventHandler<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T> {
  /** Watch one namespace only. @default all namespaces (and always all for cluster-scoped kinds) */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Applied to every object before it is cached. @default dropManagedFields */
  readonly transform?: (obj: T) => T;
  /** Server-side watch timeout; each watch asks for a random value in [t, 2t). @default 300 */
  readonly watchTimeoutSeconds?: number;
  /**
   * Watchdog: a watch that delivered no event and no bookmark for this long is
   * aborted and reopened. A half-open TCP connection looks exactly like a quiet
   * watch, and only this notices it. (The API server sends bookmarks about every
   * minute, but only once something of this kind changed somewhere; a watch on a
   * kind nothing changes in is reopened every period, which costs one request.)
   * @default 150_000 (about twice the API server's bookmark interval)
   */
  readonly silenceTimeoutMs?: number;
  /** Reconnect backoff: jittered exponential, forever; reset after `resetAfterMs` without failures. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number; readonly resetAfterMs?: number };
  /** Periodically call onUpdate(obj, obj) for every cached object. @default off */
  readonly resyncPeriodMs?: number;
  /** Page size of lists. @default 500 */
  readonly listPageSize?: number;
}

export const INFORMER_DEFAULTS = {
  watchTimeoutSeconds: 300,
  silenceTimeoutMs: 150_000,
  // client-go's reflector backoff: 800 ms doubling to 30 s, reset after 2 minutes without failure.
  backoff: { initialMs: 800, maxMs: 30_000, resetAfterMs: 120_000 },
  listPageSize: 500,
} as const;

/** A stream that closed sooner than this without one event is treated as a failure, not a timeout. */
const MIN_HEALTHY_WATCH_MS = 1_000;

export interface InformerDeps {
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Traces lists, watch events and bookmarks. @default Tracer.off */
  readonly tracer?: Tracer;
}

export interface InformerStats {
  kind: string;
  namespace?: string;
  labelSelector?: string;
  synced: boolean;
  state: InformerState['phase'];
  /** The last resourceVersion seen: the informer's position in the API server's history. */
  resourceVersion: string;
  objects: number;
  lastEventAt?: Date;
  /** List attempts after the first one (after a 410, or retrying a failed list). */
  relists: number;
  /** Watches opened other than the first after each list. */
  watchRestarts: number;
  consecutiveFailures: number;
  lastError?: string;
}

/** What the informer needs from a Client (a narrower type keeps unit tests honest about it). */
export type ListerWatcher = Pick<Client, 'list' | 'watch'>;

/** The default transform: managedFields are large and no reconciler reads them from a cache. */
export function dropManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** A watch timeout in [base, 2 base), so a fleet of watches does not reconnect in lockstep. */
export function jitteredWatchTimeout(baseSeconds: number, random: () => number = Math.random): number {
  return Math.floor(jitter(baseSeconds, 1, random));
}

/**
 * Keeps `store` equal to the API server's view of one kind (in one
 * namespace, matching the selectors), and tells handlers about every change.
 *
 * Guarantees: handlers see every change as add/update/delete, in order, each
 * after the store shows it; after a relist they see exactly what changed in
 * between (by resourceVersion). The loop never ends on its own: every failure
 * is logged, counted and retried with backoff.
 * Caveats: intermediate states between two observations are not replayed (a
 * relist reports the net change), and a handler must be quick: it runs on the
 * event path.
 */
export class Informer<T extends KubeObject = KubeObject> {
  readonly store: Store<T>;
  readonly type: ResourceType;

  private readonly client: ListerWatcher;
  private readonly options: InformerOptions<T>;
  private readonly backoffOptions: { initialMs: number; maxMs: number; resetAfterMs: number };
  private readonly transform: (obj: T) => T;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly tracer: Tracer;
  private readonly handlers: InformerEventHandler<T>[] = [];

  private state: InformerState = { phase: 'Pending' };
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private lastEventAt: Date | undefined;
  private lastFailureAt = 0;
  private failures = 0;
  private lastError: Error | undefined;
  private relists = 0;
  private watchRestarts = 0;
  private listAttempts = 0;
  private watchesSinceList = 0;

  constructor(
    client: ListerWatcher,
    type: ResourceType,
    options: InformerOptions<T> = {},
    deps: InformerDeps = {},
  ) {
    this.client = client;
    this.type = type;
    this.options = { ...options };
    this.backoffOptions = { ...INFORMER_DEFAULTS.backoff, ...options.backoff };
    this.transform = options.transform ?? dropManagedFields;
    this.store = new Store<T>({}, { kind: type.kind });
    this.metrics = deps.metrics;
    this.tracer = deps.tracer ?? Tracer.off;
    this.metrics?.initInformer(type.kind);
    this.log = (deps.logger ?? createLogger()).child({
      informer: type.kind,
      ...(this.namespace ? { namespace: this.namespace } : {}),
    });
  }

  /** The namespace this informer is restricted to, if any. */
  get namespace(): string | undefined {
    return this.type.namespaced ? this.options.namespace : undefined;
  }

  /** Adds a handler; if objects are already cached it gets an onAdd for each of them first. */
  addEventHandler(handler: InformerEventHandler<T>): void {
    this.handlers.push(handler);
    for (const obj of this.store.list()) this.call('add', () => handler.onAdd?.(obj));
  }

  /** Runs the list/watch loop until `signal` aborts. */
  start(signal: AbortSignal): void {
    if (this.state.phase !== 'Pending') throw new Error(`informer ${this.type.kind}: already started`);
    this.state = { phase: 'Listing', reason: 'initial' };
    // Started from inside a traced reconcile (a lazily created informer), its requests are not that reconcile's.
    untraced(() => void this.run(signal));
  }

  /** True once the first list has been cached and handed to the handlers. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once synced; rejects when `signal` aborts or the informer stops first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.state.phase === 'Stopped') return Promise.reject(this.stoppedBeforeSync());
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
        reject(abortReason(signal as AbortSignal));
      };
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.syncWaiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** A snapshot for a debug page. */
  stats(): InformerStats {
    const stats: InformerStats = {
      kind: this.type.kind,
      synced: this.synced,
      state: this.state.phase,
      resourceVersion: this.resourceVersion,
      objects: this.store.size,
      relists: this.relists,
      watchRestarts: this.watchRestarts,
      consecutiveFailures: this.failures,
    };
    if (this.namespace) stats.namespace = this.namespace;
    if (this.options.labelSelector) stats.labelSelector = this.options.labelSelector;
    if (this.lastEventAt) stats.lastEventAt = this.lastEventAt;
    if (this.lastError) stats.lastError = this.lastError.message;
    return stats;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const resync = this.startResync(signal);
    this.log.debug('Informer started', { labelSelector: this.options.labelSelector });
    while (this.state.phase !== 'Stopped') {
      if (signal.aborted) {
        this.state = { phase: 'Stopped' };
        break;
      }
      try {
        this.state = await this.step(this.state, signal);
      } catch (err) {
        // step() handles every expected failure itself; landing here is a bug, but it must not end the loop.
        this.state = this.fail(asError(err), 'list');
      }
    }
    if (resync) clearInterval(resync);
    for (const waiter of this.syncWaiters.splice(0)) waiter.reject(this.stoppedBeforeSync());
    this.log.debug('Informer stopped');
  }

  private step(state: InformerState, signal: AbortSignal): Promise<InformerState> {
    switch (state.phase) {
      case 'Listing':
        return this.list(state.reason, signal);
      case 'Watching':
        return this.watch(state.resourceVersion, signal);
      case 'Backoff':
        return this.backoff(state, signal);
      case 'Pending':
      case 'Stopped':
        return Promise.resolve({ phase: 'Stopped' });
    }
  }

  /** Lists every page, replaces the store's contents and tells handlers what differs from before. */
  private async list(reason: 'initial' | 'gone' | 'retry', signal: AbortSignal): Promise<InformerState> {
    if (this.listAttempts++ > 0) {
      this.relists++;
      this.metrics?.informerRelists.inc({ kind: this.type.kind });
    }
    let items: T[];
    let resourceVersion: string;
    try {
      ({ items, resourceVersion } = await this.listAllPages(signal));
    } catch (err) {
      if (signal.aborted) return { phase: 'Stopped' };
      return this.fail(asError(err), 'list');
    }
    this.watchesSinceList = 0;

    const cached: T[] = [];
    for (const item of items) {
      try {
        cached.push(this.transform(item));
      } catch (err) {
        this.skipped(err, item);
      }
    }
    const diff = this.store.replace(cached);
    this.resourceVersion = resourceVersion;
    for (const obj of diff.added) this.notify('add', obj);
    for (const { oldObj, newObj } of diff.updated) this.notify('update', newObj, oldObj);
    for (const obj of diff.deleted) this.notify('delete', obj);
    if (this.tracer.traces()) {
      this.tracer.step('list', undefined, {
        kind: this.type.kind,
        reason,
        objects: this.store.size,
        resourceVersion,
      });
    }
    this.log.info('Listed', {
      reason,
      objects: this.store.size,
      resourceVersion,
      added: diff.added.length,
      updated: diff.updated.length,
      deleted: diff.deleted.length,
    });

    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
    }
    return { phase: 'Watching', resourceVersion };
  }

  /**
   * Pages with limit/continue. All pages come from one snapshot (the first
   * page's resourceVersion); if the continue token expires midway, the whole
   * list fails and is retried from the start.
   */
  private async listAllPages(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let page: ListResult<T> | undefined;
    do {
      page = await this.client.list<T>(this.type, {
        ...this.selectors(),
        limit: this.options.listPageSize ?? INFORMER_DEFAULTS.listPageSize,
        ...(page?.continue ? { continue: page.continue } : {}),
        signal,
      });
      items.push(...page.items);
    } while (page.continue);
    return { items, resourceVersion: page.resourceVersion };
  }

  /** One watch, from `resourceVersion` until the stream ends, fails, goes silent or is stopped. */
  private async watch(from: string, signal: AbortSignal): Promise<InformerState> {
    if (this.watchesSinceList++ > 0) {
      this.watchRestarts++;
      this.metrics?.informerWatchRestarts.inc({ kind: this.type.kind });
    }
    const silenceMs = this.options.silenceTimeoutMs ?? INFORMER_DEFAULTS.silenceTimeoutMs;
    const watchAbort = new AbortController();
    const onStop = (): void => watchAbort.abort(abortReason(signal));
    signal.addEventListener('abort', onStop, { once: true });
    let silent = false;
    const watchdog = setTimeout(() => {
      silent = true;
      watchAbort.abort(new Error(`watch silent for ${silenceMs} ms`));
    }, silenceMs);

    this.resourceVersion = from;
    const openedAt = Date.now();
    let events = 0;
    try {
      const timeoutSeconds = jitteredWatchTimeout(
        this.options.watchTimeoutSeconds ?? INFORMER_DEFAULTS.watchTimeoutSeconds,
      );
      this.log.debug('Watching', { resourceVersion: from, timeoutSeconds });
      await this.client.watch<T>(
        this.type,
        {
          ...this.selectors(),
          resourceVersion: from,
          allowWatchBookmarks: true,
          timeoutSeconds,
          signal: watchAbort.signal,
        },
        (event) => {
          watchdog.refresh();
          events++;
          this.apply(event);
        },
      );
    } catch (err) {
      if (signal.aborted) return { phase: 'Stopped' };
      if (silent) {
        this.log.info('Watch went silent; restarting it', {
          resourceVersion: this.resourceVersion,
          silenceTimeoutMs: silenceMs,
        });
        return { phase: 'Watching', resourceVersion: this.resourceVersion };
      }
      if (isGone(err) && events === 0 && this.watchesSinceList === 1) {
        // The version a list just returned is already gone: relisting at once could spin; back off first.
        return this.fail(asError(err), 'list');
      }
      if (isGone(err)) {
        this.log.info('Watch resourceVersion expired (410); relisting', {
          resourceVersion: this.resourceVersion,
          ...errorFields(err),
        });
        return { phase: 'Listing', reason: 'gone' };
      }
      return this.fail(asError(err), 'watch');
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', onStop);
    }

    if (events === 0 && Date.now() - openedAt < MIN_HEALTHY_WATCH_MS) {
      return this.fail(new Error('watch closed by the server immediately, without events'), 'watch');
    }
    this.log.debug('Watch ended; resuming', { resourceVersion: this.resourceVersion, events });
    return { phase: 'Watching', resourceVersion: this.resourceVersion };
  }

  /** Applies one watch event to the store, then tells the handlers. */
  private apply(event: WatchEvent<T>): void {
    this.lastEventAt = new Date();
    this.metrics?.informerEvents.inc({ kind: this.type.kind, type: event.type });
    if (this.tracer.enabled) this.traceEvent(event);
    try {
      if (event.type === 'ADDED' || event.type === 'MODIFIED') {
        const obj = this.transform(event.object);
        const old = this.store.upsert(obj);
        this.notify(old ? 'update' : 'add', obj, old);
      } else if (event.type === 'DELETED') {
        const obj = this.transform(event.object);
        this.store.remove(objectKey(obj));
        this.notify('delete', obj);
      }
    } catch (err) {
      // A transform or index function threw. Retrying the same event would fail the same way: skip it, loudly.
      this.skipped(err, event.object);
    }
    // BOOKMARK carries only a resourceVersion: where to resume, even if nothing we watch changed.
    const resourceVersion = event.object.metadata?.resourceVersion;
    if (resourceVersion) this.resourceVersion = resourceVersion;
  }

  /** Before the store changes, so a trace reads in the order things happen: event, then what it caused. */
  private traceEvent(event: WatchEvent<T>): void {
    const resourceVersion = event.object.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (this.tracer.traces())
        this.tracer.step('bookmark', undefined, { kind: this.type.kind, resourceVersion });
      return;
    }
    const key = event.object.metadata?.name ? objectKey(event.object) : undefined;
    if (key !== undefined && this.tracer.traces(key)) {
      this.tracer.step('watch', key, { kind: this.type.kind, type: event.type, resourceVersion });
    }
  }

  private notify(kind: 'add' | 'update' | 'delete', obj: T, oldObj?: T): void {
    for (const h of this.handlers) {
      if (kind === 'add') this.call(kind, () => h.onAdd?.(obj));
      else if (kind === 'update') this.call(kind, () => h.onUpdate?.(oldObj ?? obj, obj));
      else this.call(kind, () => h.onDelete?.(obj));
    }
  }

  /** Runs one handler call; what it throws (or rejects with) is logged and counted, never propagated. */
  private call(event: string, fn: () => unknown): void {
    const report = (err: unknown): void => {
      this.metrics?.informerHandlerErrors.inc({ kind: this.type.kind });
      this.log.error('Informer event handler failed', { event, ...errorFields(err) });
    };
    try {
      const result = fn();
      // Handlers are meant to be synchronous; an async one must not become an unhandled rejection.
      if (result instanceof Promise) result.catch(report);
    } catch (err) {
      report(err);
    }
  }

  private skipped(err: unknown, obj: KubeObject): void {
    this.metrics?.informerHandlerErrors.inc({ kind: this.type.kind });
    this.log.error('Object could not be cached (transform or index function failed); skipped', {
      name: obj.metadata?.name,
      objectNamespace: obj.metadata?.namespace,
      ...errorFields(err),
    });
  }

  /** Records a failure and picks the backoff before the next attempt. */
  private fail(error: Error, next: 'list' | 'watch'): InformerState {
    const now = Date.now();
    // A long enough stretch without failures means the last trouble is over: start small again.
    if (now - this.lastFailureAt > this.backoffOptions.resetAfterMs) this.failures = 0;
    this.failures++;
    this.lastFailureAt = now;
    this.lastError = error;
    const delayMs = backoffDelay(this.failures, this.backoffOptions);
    this.log.warn(next === 'list' ? 'List failed; retrying' : 'Watch failed; reconnecting', {
      attempt: this.failures,
      delayMs,
      resourceVersion: this.resourceVersion,
      ...errorFields(error),
    });
    return { phase: 'Backoff', next, attempt: this.failures, delayMs, error };
  }

  private async backoff(
    state: Extract<InformerState, { phase: 'Backoff' }>,
    signal: AbortSignal,
  ): Promise<InformerState> {
    const completed = await sleep(state.delayMs, signal);
    if (!completed) return { phase: 'Stopped' };
    return state.next === 'list'
      ? { phase: 'Listing', reason: 'retry' }
      : { phase: 'Watching', resourceVersion: this.resourceVersion };
  }

  private startResync(signal: AbortSignal): NodeJS.Timeout | undefined {
    const period = this.options.resyncPeriodMs;
    if (!period) return undefined;
    return setInterval(() => {
      if (!this.synced || signal.aborted) return;
      for (const obj of this.store.list()) this.notify('update', obj, obj);
    }, period);
  }

  private selectors(): { namespace?: string; labelSelector?: string; fieldSelector?: string } {
    const s: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {};
    if (this.namespace) s.namespace = this.namespace;
    if (this.options.labelSelector) s.labelSelector = this.options.labelSelector;
    if (this.options.fieldSelector) s.fieldSelector = this.options.fieldSelector;
    return s;
  }

  private stoppedBeforeSync(): Error {
    return new Error(`informer ${this.type.kind} stopped before it synced`, { cause: this.lastError });
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Shared informers: one per (kind, namespace, selectors) for the whole
 * process, so two controllers watching Deployments share one watch and one cache.
 */
export class InformerFactory {
  private readonly client: ListerWatcher;
  private readonly deps: InformerDeps;
  private readonly byKey = new Map<string, Informer>();
  private startSignal: AbortSignal | undefined;

  constructor(client: ListerWatcher, deps: InformerDeps = {}) {
    this.client = client;
    this.deps = deps;
  }

  /**
   * The shared informer for these selectors, created on first use. Options
   * other than namespace and selectors (transform, timeouts) come from the
   * first caller. Informers created after start() start at once.
   */
  informerFor<T extends KubeObject = KubeObject>(
    type: ResourceType,
    options: InformerOptions<T> = {},
  ): Informer<T> {
    const key = JSON.stringify([
      type.group,
      type.version,
      type.plural,
      type.namespaced ? (options.namespace ?? '') : '',
      options.labelSelector ?? '',
      options.fieldSelector ?? '',
    ]);
    let informer = this.byKey.get(key) as Informer<T> | undefined;
    if (!informer) {
      informer = new Informer<T>(this.client, type, options, this.deps);
      this.byKey.set(key, informer as unknown as Informer);
      if (this.startSignal) informer.start(this.startSignal);
    }
    return informer;
  }

  /** Starts every informer (and any created later) until `signal` aborts. */
  start(signal: AbortSignal): void {
    if (this.startSignal) throw new Error('informer factory: already started');
    this.startSignal = signal;
    for (const informer of this.byKey.values()) informer.start(signal);
  }

  /** Resolves when every informer created so far has synced. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.byKey.values()].map((informer) => informer.waitForSync(signal)));
  }

  informers(): Informer[] {
    return [...this.byKey.values()];
  }
}
