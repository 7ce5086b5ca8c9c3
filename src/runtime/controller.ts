/**
 * A controller: sources feed keys into a work queue, N workers take keys and call the Reconciler,
 * and the runtime (not the reconciler) logs, times and counts every outcome. Optionally, a few more
 * workers take only high-priority keys, so an edit never waits for a worker a storm holds.
 *
 *   watch event -> informer -> handler (predicates, map) -> queue.add(key) -> worker -> reconcile(req)
 *
 * Worker loop, per key: a fresh reconcileID and child logger; then by outcome
 * - success:            forget the key's backoff                       (result="success")
 * - requeueAfterMs > 0: forget the backoff, add the key after the delay (result="requeue_after")
 * - requeue: true:      add the key rate-limited                        (result="requeue")
 * - TerminalError:      forget, do not retry until the next event      (result="error", counted as terminal)
 * - any other throw:    add the key rate-limited (exponential backoff)  (result="error")
 * Nothing a reconciler throws, synchronously or not, ends a worker.
 *
 * With a Tracer (see trace.ts) the controller logs the enqueue, dequeue and result steps of the keys
 * it traces, and runs their reconciles in a trace context so the client and the cache add theirs.
 * With a ReconcileHistory (see history.ts) it records the same steps of every key, traced or not,
 * with the events that queued each key: what the live page (live.ts) shows.
 */
import { randomBytes } from 'node:crypto';
import { getMaxListeners, setMaxListeners } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { systemClock, type Clock } from './clock.js';
import type { HandlerEvent } from './handlers.js';
import { createLogger, errorFields, type Logger } from './logger.js';
import { objectKey, requestFromKey, requestKey } from './keys.js';
import { Metrics, type ReconcileOutcome } from './metrics.js';
import { isTerminalError, type Reconciler, type Request, type Result } from './reconcile.js';
import type { KubeObject } from './resources.js';
import type { ReconcileHistory, TriggerType } from './history.js';
import { aborted } from './signals.js';
import type { Source } from './sources.js';
import { Tracer, type ReconcileTrace } from './trace.js';
import type { Priority } from './priority.js';
import { WorkQueue, type AddOutcome, type WorkQueueSnapshot } from './workqueue.js';
import type { RateLimiter } from './rate-limiter.js';

export interface ControllerOptions {
  /** Workers reconciling different keys in parallel. @default 1 */
  readonly maxConcurrentReconciles?: number;
  /**
   * Workers that take only high-priority keys (a new generation of a spec: a person's edit), on top of
   * maxConcurrentReconciles, so an edit finds a free worker while the others are busy with a storm
   * (WorkQueue, "Reserved workers"). @default 0
   */
  readonly highPriorityWorkers?: number;
  /** @default defaultControllerRateLimiter() */
  readonly rateLimiter?: RateLimiter;
  /** Aborts the reconcile's signal after this long (the call is still awaited). @default no timeout */
  readonly reconcileTimeoutMs?: number;
  /** How many reconcile records stats() keeps. @default 50 */
  readonly recentRecords?: number;
}

export const CONTROLLER_DEFAULTS = {
  maxConcurrentReconciles: 1,
  highPriorityWorkers: 0,
  recentRecords: 50,
} as const;

/** One finished reconcile call, for a debug page. */
export interface ReconcileRecord {
  key: string;
  reconcileID: string;
  result: ReconcileOutcome;
  startedAt: Date;
  durationMs: number;
  requeueAfterMs?: number;
  error?: string;
  terminal?: boolean;
}

/**
 * Keys of each queue list the pages show: enough to see what is next, and a restart onto 10 000 labs
 * does not send 10 000 keys to every page every half second.
 */
export const STATS_QUEUE_KEYS = 100;

export interface ControllerStats {
  name: string;
  /** maxConcurrentReconciles plus highPriorityWorkers. */
  workers: number;
  /** Of those, the ones that take only high-priority keys. */
  highPriorityWorkers: number;
  activeWorkers: number;
  queue: WorkQueueSnapshot;
  /** Most recent last. */
  recent: ReconcileRecord[];
}

export interface ControllerDeps {
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** @default Tracer.off */
  readonly tracer?: Tracer;
  /** Records every reconcile's triggers and steps. @default none */
  readonly history?: ReconcileHistory;
}

const EVENT_TYPES: Record<HandlerEvent, TriggerType> = {
  add: 'ADDED',
  update: 'MODIFIED',
  delete: 'DELETED',
};

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconciler: Reconciler;
  private readonly sources: readonly Source[];
  private readonly workers: number;
  private readonly highPriorityWorkers: number;
  private readonly reconcileTimeoutMs: number | undefined;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly tracer: Tracer;
  private readonly history: ReconcileHistory | undefined;
  private readonly recent: ReconcileRecord[] = [];
  private readonly recentLimit: number;
  private active = 0;
  private started = false;

  constructor(
    name: string,
    reconciler: Reconciler,
    sources: readonly Source[],
    options: ControllerOptions = {},
    deps: ControllerDeps = {},
  ) {
    this.name = name;
    this.reconciler = reconciler;
    this.sources = [...sources];
    this.workers = Math.max(
      1,
      options.maxConcurrentReconciles ?? CONTROLLER_DEFAULTS.maxConcurrentReconciles,
    );
    this.highPriorityWorkers = Math.max(
      0,
      options.highPriorityWorkers ?? CONTROLLER_DEFAULTS.highPriorityWorkers,
    );
    this.reconcileTimeoutMs = options.reconcileTimeoutMs;
    this.recentLimit = options.recentRecords ?? CONTROLLER_DEFAULTS.recentRecords;
    this.metrics = deps.metrics ?? new Metrics();
    this.log = (deps.logger ?? createLogger()).child({ controller: name });
    this.clock = deps.clock ?? systemClock;
    this.tracer = deps.tracer ?? Tracer.off;
    this.history = deps.history;
    this.queue = new WorkQueue({
      name,
      controller: name,
      metrics: this.metrics,
      clock: this.clock,
      ...(options.rateLimiter ? { rateLimiter: options.rateLimiter } : {}),
    });
    // Every series exists (at 0) from the moment the controller does, so dashboards see it before any event.
    this.metrics.initController(name, this.workers + this.highPriorityWorkers);
  }

  /**
   * Starts the sources, waits for their caches, then runs the workers until `signal` aborts; then stops
   * taking keys and resolves once in-flight reconciles have returned. A controller starts once.
   */
  async start(signal: AbortSignal): Promise<void> {
    if (this.started) throw new Error(`controller ${this.name} was already started`);
    this.started = true;
    // Each worker's reconcile listens on this signal once (reconcileSignal), whatever it has in flight:
    // with more workers than node's default of 10 listeners, node would report a leak that is not one.
    setMaxListeners(getMaxListeners(signal) + this.workers + this.highPriorityWorkers, signal);
    const enqueue = (req: Request, event?: HandlerEvent, obj?: KubeObject, priority?: Priority): void => {
      const key = requestKey(req);
      const queued = this.queue.add(key, priority);
      if (this.history && event && obj) this.recordTrigger(key, queued, event, obj, priority);
      if (this.tracer.traces(key)) this.traceEnqueue(key, queued, event, obj, priority);
    };
    const dropped = (event: HandlerEvent, obj: KubeObject): void => {
      const key = keyOf(obj);
      if (key !== undefined && this.tracer.traces(key)) {
        this.tracer.step('filtered', key, { controller: this.name, event, kind: obj.kind });
      }
    };
    for (const source of this.sources)
      source.start(enqueue, signal, this.tracer.enabled ? dropped : undefined);

    this.log.info('Waiting for caches to sync');
    const synced = await Promise.all(this.sources.map((s) => s.waitForSync(signal))).then(
      () => true,
      (err: unknown) => {
        if (!signal.aborted) throw err;
        return false;
      },
    );

    const stopped = aborted(signal);
    if (synced && !signal.aborted) {
      this.log.info('Starting workers', {
        workerCount: this.workers,
        highPriorityWorkerCount: this.highPriorityWorkers,
      });
      const workers = [
        ...Array.from({ length: this.workers }, () => this.runWorker(signal, 'low')),
        ...Array.from({ length: this.highPriorityWorkers }, () => this.runWorker(signal, 'high')),
      ];
      await stopped;
      this.log.info('Stopping: waiting for in-flight reconciles');
      await this.queue.shutDownWithDrain();
      await Promise.all(workers);
    } else {
      this.queue.shutDown();
    }
    this.log.info('All workers finished');
  }

  /** What the debug and live pages show; the queue's keys are capped (its depth says how many there are). */
  stats(): ControllerStats {
    return {
      name: this.name,
      workers: this.workers + this.highPriorityWorkers,
      highPriorityWorkers: this.highPriorityWorkers,
      activeWorkers: this.active,
      queue: this.queue.snapshot(STATS_QUEUE_KEYS),
      recent: [...this.recent],
    };
  }

  private traceEnqueue(
    key: string,
    queued: AddOutcome,
    event: HandlerEvent | undefined,
    obj: KubeObject | undefined,
    priority: Priority | undefined,
  ): void {
    const objKey = keyOf(obj);
    this.tracer.step('enqueue', key, {
      controller: this.name,
      ...(event ? { event } : {}),
      ...(obj?.kind ? { kind: obj.kind } : {}),
      // A child's event wakes its owner: say which object it was.
      ...(objKey !== undefined && objKey !== key ? { object: objKey } : {}),
      queue: queued,
      ...(priority ? { priority } : {}),
      depth: this.queue.length,
    });
  }

  private recordTrigger(
    key: string,
    queued: AddOutcome,
    event: HandlerEvent,
    obj: KubeObject,
    priority: Priority | undefined,
  ): void {
    const objKey = keyOf(obj);
    const resourceVersion = obj.metadata?.resourceVersion;
    this.history?.triggered(key, {
      kind: obj.kind ?? '',
      // A relist's additions arrive as 'add' too: the API server's name for what the cache learnt.
      type: EVENT_TYPES[event],
      ...(resourceVersion ? { resourceVersion } : {}),
      ...(objKey !== undefined && objKey !== key ? { object: objKey } : {}),
      queue: queued,
      ...(priority ? { priority } : {}),
    });
  }

  /** Takes keys of at least priority `atLeast` (any key for 'low') until the queue shuts down. */
  private async runWorker(signal: AbortSignal, atLeast: Priority): Promise<void> {
    for (;;) {
      const key = await this.queue.get(atLeast);
      if (key === undefined) return;
      try {
        // Keys still queued at shutdown are not reconciled: the next leader or run will see them anyway.
        if (!signal.aborted) await this.reconcileKey(key, signal);
      } catch (err) {
        // Only a bug in the runtime itself gets here; the worker carries on regardless.
        this.log.error('Worker failed outside the reconciler', { key, ...errorFields(err) });
      } finally {
        this.queue.done(key);
      }
      // A reconcile that finds nothing to do (a restart's initial list, a resync) reads only the cache and
      // never waits on a socket, so without this the workers would take key after key in microtasks and
      // starve the event loop until the queue is empty: no probe answered (/readyz said ready 1.2 s late at
      // 1000 labs), no scrape, and no watch event read, so a user's edit could not even be queued.
      await nextTurn();
    }
  }

  private async reconcileKey(key: string, stop: AbortSignal): Promise<void> {
    const req = requestFromKey(key);
    const reconcileID = newReconcileID();
    const log = this.log.child({ namespace: req.namespace, name: req.name, reconcileID });
    const logged = this.tracer.forReconcile(key, log);
    const trace = this.history
      ? this.history.begin(
          this.name,
          key,
          reconcileID,
          logged,
          this.queue.waitedMs(key),
          this.queue.numRequeues(key),
        )
      : logged;
    if (trace.enabled) {
      trace.step('dequeue', { waitedMs: this.queue.waitedMs(key), retries: this.queue.numRequeues(key) });
    }
    const { signal, release } = this.reconcileSignal(stop);
    const labels = { controller: this.name };
    const startedAt = this.clock.now();

    let outcome: { result: Result } | { error: unknown };
    this.active++;
    this.metrics.activeWorkers.inc(labels);
    try {
      const ctx = { reconcileID, log, signal, trace };
      const result = await this.tracer.run(trace, () => this.reconciler.reconcile(req, ctx));
      outcome = { result: result ?? {} };
    } catch (error) {
      outcome = { error };
    } finally {
      this.active--;
      this.metrics.activeWorkers.dec(labels);
      release();
    }
    const durationMs = this.clock.now() - startedAt;
    this.metrics.reconcileTime.observe(labels, durationMs / 1000);

    const record: ReconcileRecord = {
      key,
      reconcileID,
      result: 'success',
      startedAt: new Date(startedAt),
      durationMs,
    };
    if ('error' in outcome) {
      this.handleError(key, outcome.error, log, record, trace);
    } else {
      this.handleResult(key, outcome.result, log, record, trace);
    }
    this.metrics.reconcileTotal.inc({ controller: this.name, result: record.result });
    this.history?.end(reconcileID, durationMs);
    this.remember(record);
  }

  private handleResult(
    key: string,
    result: Result,
    log: Logger,
    record: ReconcileRecord,
    trace: ReconcileTrace,
  ): void {
    const after = result.requeueAfterMs;
    const durationMs = record.durationMs;
    if (after !== undefined && after > 0) {
      this.queue.forget(key);
      this.queue.addAfter(key, after);
      this.history?.requeued(key, 'requeue after');
      record.result = 'requeue_after';
      record.requeueAfterMs = after;
      log.debug('Reconcile done, requeue scheduled', { durationMs, requeueAfterMs: after });
      if (trace.enabled)
        trace.step('result', { outcome: 'requeue after', requeueAfterMs: after, durationMs });
    } else if (result.requeue) {
      const backoffMs = this.queue.addRateLimited(key);
      this.history?.requeued(key, 'backoff');
      record.result = 'requeue';
      log.debug('Reconcile done, requeued with backoff', { durationMs });
      if (trace.enabled) trace.step('result', { outcome: 'requeue with backoff', backoffMs, durationMs });
    } else {
      this.queue.forget(key);
      log.debug('Reconcile succeeded', { durationMs });
      if (trace.enabled) trace.step('result', { outcome: 'done', durationMs });
    }
  }

  private handleError(
    key: string,
    err: unknown,
    log: Logger,
    record: ReconcileRecord,
    trace: ReconcileTrace,
  ): void {
    const labels = { controller: this.name };
    const fields = errorFields(err);
    record.result = 'error';
    record.error = fields.error;
    this.metrics.reconcileErrors.inc(labels);
    if (isTerminalError(err)) {
      record.terminal = true;
      this.queue.forget(key);
      this.metrics.terminalReconcileErrors.inc(labels);
      log.error('Reconciler error (terminal, not retried)', { durationMs: record.durationMs, ...fields });
      if (trace.enabled) {
        trace.step('result', {
          outcome: 'error, not retried',
          durationMs: record.durationMs,
          error: fields.error,
        });
      }
    } else {
      const backoffMs = this.queue.addRateLimited(key);
      this.history?.requeued(key, 'backoff');
      if (trace.enabled) {
        trace.step('result', {
          outcome: 'retry with backoff',
          backoffMs,
          durationMs: record.durationMs,
          error: fields.error,
        });
      }
      log.error('Reconciler error', {
        durationMs: record.durationMs,
        retries: this.queue.numRequeues(key),
        ...fields,
      });
    }
  }

  /**
   * The reconcile's own signal: aborted when `stop` is, or when the reconcile timeout (if configured)
   * passes. The requests a reconcile has in flight listen on this one, not on `stop`, so the stop
   * signal has one listener per worker however many requests each reconcile sends at once.
   */
  private reconcileSignal(stop: AbortSignal): { signal: AbortSignal; release: () => void } {
    const ctl = new AbortController();
    const onStop = (): void => ctl.abort(stop.reason);
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
    const timer =
      this.reconcileTimeoutMs === undefined
        ? undefined
        : this.clock.setTimer(
            () => ctl.abort(new Error(`reconcile timed out after ${this.reconcileTimeoutMs} ms`)),
            this.reconcileTimeoutMs,
          );
    return {
      signal: ctl.signal,
      release: () => {
        timer?.cancel();
        stop.removeEventListener('abort', onStop);
      },
    };
  }

  private remember(record: ReconcileRecord): void {
    this.recent.push(record);
    if (this.recent.length > this.recentLimit) this.recent.shift();
  }
}

/** The key of the object behind an event, if it has a name to make one of. */
function keyOf(obj: KubeObject | undefined): string | undefined {
  return obj?.metadata?.name ? objectKey(obj) : undefined;
}

/** A short random id, unique enough to find one call's lines in the logs. */
function newReconcileID(): string {
  return randomBytes(4).toString('hex');
}
