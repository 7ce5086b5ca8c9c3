/** The informer: a watcher feeding a reflector's Store, and the handlers told what changed in it. */
import { abortReason } from './client.js';
import { systemClock, type Clock, type Timer } from './clock.js';
import { createLogger, errorFields, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { KubeObject, ResourceType } from './resources.js';
import { reflector, type StoreChange } from './reflector.js';
import { Store } from './store.js';
import { Tracer, untraced } from './trace.js';
import {
  Watcher,
  type ListerWatcher,
  type WatcherEvent,
  type WatcherOptions,
  type WatcherState,
} from './watcher.js';

/**
 * Called synchronously, in event order, after the store has changed (so the
 * store already shows `newObj`). Errors, thrown or as rejected promises, are
 * caught, logged and counted; they never stop the informer.
 */
export interface InformerEventHandler<T> {
  /**
   * `isInInitialList`: the object came with the informer's first list (or, for a handler added
   * later, with the replay of the cache): it tells of a state, not of a change someone just made.
   */
  onAdd?(obj: T, isInInitialList: boolean): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

/** The watcher's options (what to watch, timeouts, backoff), and what the informer adds. */
export interface InformerOptions<T> extends WatcherOptions {
  /** Applied to every object before it is cached. @default dropManagedFields */
  readonly transform?: (obj: T) => T;
  /** Periodically call onUpdate(obj, obj) for every cached object. @default off */
  readonly resyncPeriodMs?: number;
}

export interface InformerDeps {
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Traces lists, watch events and bookmarks. @default Tracer.off */
  readonly tracer?: Tracer;
  /** The watcher's backoff and watchdog, and the resync period, run on it. @default systemClock */
  readonly clock?: Clock;
}

export interface InformerStats {
  kind: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  synced: boolean;
  state: WatcherState['phase'];
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

/** The default transform: managedFields are large and no reconciler reads them from a cache. */
export function dropManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/**
 * Keeps `store` equal to the API server's view of one kind (in one
 * namespace, matching the selectors), and tells handlers about every change:
 * a Watcher's events, applied to the store by a reflector, fanned out to handlers.
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

  private readonly options: InformerOptions<T>;
  private readonly watcher: Watcher<T>;
  private readonly reflect: (event: WatcherEvent<T>) => StoreChange<T>[];
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly tracer: Tracer;
  private readonly clock: Clock;
  private readonly handlers: InformerEventHandler<T>[] = [];

  private synced = false;
  private syncWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  constructor(
    client: ListerWatcher,
    type: ResourceType,
    options: InformerOptions<T> = {},
    deps: InformerDeps = {},
  ) {
    this.type = type;
    this.options = { ...options };
    this.store = new Store<T>({}, { kind: type.kind });
    this.metrics = deps.metrics;
    this.tracer = deps.tracer ?? Tracer.off;
    this.clock = deps.clock ?? systemClock;
    this.metrics?.initInformer(type.kind);
    const namespace = type.namespaced ? options.namespace : undefined;
    this.log = (deps.logger ?? createLogger()).child({
      informer: type.kind,
      ...(namespace ? { namespace } : {}),
    });
    this.watcher = new Watcher<T>(client, type, this.options, {
      logger: this.log,
      tracer: this.tracer,
      clock: this.clock,
      ...(this.metrics ? { metrics: this.metrics } : {}),
    });
    this.reflect = reflector(this.store, {
      transform: options.transform ?? dropManagedFields,
      onSkipped: (err, obj) => this.skipped(err, obj),
    });
  }

  /** The namespace this informer is restricted to, if any. */
  get namespace(): string | undefined {
    return this.watcher.namespace;
  }

  /** Adds a handler; if objects are already cached it gets an onAdd for each of them first. */
  addEventHandler(handler: InformerEventHandler<T>): void {
    this.handlers.push(handler);
    for (const obj of this.store.list()) this.call('add', () => handler.onAdd?.(obj, true));
  }

  /** Runs the list/watch loop until `signal` aborts. */
  start(signal: AbortSignal): void {
    if (this.watcher.phase !== 'Pending') throw new Error(`informer ${this.type.kind}: already started`);
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
    if (this.watcher.phase === 'Stopped') return Promise.reject(this.stoppedBeforeSync());
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
    const { state, resourceVersion, relists, watchRestarts, consecutiveFailures, lastEventAt, lastError } =
      this.watcher.status();
    const stats: InformerStats = {
      kind: this.type.kind,
      synced: this.synced,
      state,
      resourceVersion,
      objects: this.store.size,
      relists,
      watchRestarts,
      consecutiveFailures,
    };
    if (this.namespace) stats.namespace = this.namespace;
    if (this.options.labelSelector) stats.labelSelector = this.options.labelSelector;
    if (this.options.fieldSelector) stats.fieldSelector = this.options.fieldSelector;
    if (lastEventAt) stats.lastEventAt = lastEventAt;
    if (lastError) stats.lastError = lastError.message;
    return stats;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const resync = this.startResync(signal);
    this.log.debug('Informer started', { labelSelector: this.options.labelSelector });
    await this.watcher.run(signal, (event) => this.apply(event));
    resync?.cancel();
    for (const waiter of this.syncWaiters.splice(0)) waiter.reject(this.stoppedBeforeSync());
    this.log.debug('Informer stopped');
  }

  /** Applies one watcher event to the store, then tells the handlers; a list also marks the informer synced. */
  private apply(event: WatcherEvent<T>): void {
    const changes = this.reflect(event);
    const initial = event.type === 'restart' && !this.synced;
    for (const change of changes) this.notify(change, initial);
    if (event.type === 'restart') this.listed(event, changes);
  }

  private listed(event: Extract<WatcherEvent<T>, { type: 'restart' }>, changes: StoreChange<T>[]): void {
    const { reason, resourceVersion } = event;
    if (this.tracer.traces()) {
      this.tracer.step('list', undefined, {
        kind: this.type.kind,
        reason,
        objects: this.store.size,
        resourceVersion,
      });
    }
    const count = (type: StoreChange<T>['type']): number => changes.filter((c) => c.type === type).length;
    this.log.info('Listed', {
      reason,
      objects: this.store.size,
      resourceVersion,
      added: count('add'),
      updated: count('update'),
      deleted: count('delete'),
    });
    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
    }
  }

  private notify(change: StoreChange<T>, initial: boolean): void {
    for (const h of this.handlers) {
      if (change.type === 'add') this.call(change.type, () => h.onAdd?.(change.obj, initial));
      else if (change.type === 'update')
        this.call(change.type, () => h.onUpdate?.(change.oldObj, change.newObj));
      else this.call(change.type, () => h.onDelete?.(change.obj));
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

  /** Every period, onUpdate(obj, obj) for every cached object, once synced. */
  private startResync(signal: AbortSignal): Timer | undefined {
    const period = this.options.resyncPeriodMs;
    if (!period) return undefined;
    let timer: Timer;
    const tick = (): void => {
      timer = this.clock.setTimer(tick, period);
      if (!this.synced || signal.aborted) return;
      for (const newObj of this.store.list()) this.notify({ type: 'update', oldObj: newObj, newObj }, false);
    };
    timer = this.clock.setTimer(tick, period);
    return { cancel: () => timer.cancel() };
  }

  private stoppedBeforeSync(): Error {
    return new Error(`informer ${this.type.kind} stopped before it synced`, {
      cause: this.watcher.status().lastError,
    });
  }
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
