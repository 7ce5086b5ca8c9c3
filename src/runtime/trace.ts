/**
 * The tracer: the watch -> queue -> reconcile -> apply -> status loop made visible, one log line a step.
 *
 * Off unless asked for (`--trace` for every key, `--trace=namespace/name` for one). When off, every
 * call site pays one boolean check (`tracer.traces(key)`, `trace.enabled`) before it builds any field.
 *
 * How the lines of one loop tie together:
 *
 *   watch   (kind, key, type, resourceVersion)          the informer saw an event for key K
 *   enqueue (why, queued, depth) / filtered (why)       a handler mapped it to K (or a predicate dropped it)
 *   dequeue (reconcileID R, waitedMs)                   a worker took K; every later line of R carries R
 *   cache   (kind, found, resourceVersion)              R read the cache
 *   diff    (kind, apply, reason, drifted)              R compared desired with live for one child
 *   api     (verb, kind, code, durationMs)              R talked to the API server
 *   status  (changed, phase, conditions)                R wrote (or skipped) the status
 *   result  (outcome, requeueAfterMs / backoffMs)       what the queue does with K next
 *
 * Steps of a reconcile are found without threading a parameter through every call: the controller
 * runs a traced reconcile inside an AsyncLocalStorage context, and the client and the cache look it up.
 * Nothing is stored in that context unless the reconcile is traced. Work a traced reconcile starts
 * without awaiting it (an Event write) keeps its reconcileID, even if it ends after the result line;
 * long-lived loops (an informer started lazily from a reconcile) leave the context with `untraced`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger.js';

/** The steps of the loop, in the order one event travels through them. */
export type TraceStep =
  | 'list'
  | 'watch'
  | 'bookmark'
  | 'enqueue'
  | 'filtered'
  | 'dequeue'
  | 'cache'
  | 'diff'
  | 'api'
  | 'status'
  | 'result';

/** The message of each step's line (the `trace` field says the step for machines). */
const STEP_MESSAGES: Record<TraceStep, string> = {
  list: 'listed',
  watch: 'watch event received',
  bookmark: 'watch bookmark received',
  enqueue: 'enqueued',
  filtered: 'event dropped by a predicate',
  dequeue: 'dequeued',
  cache: 'cache read',
  diff: 'desired vs live',
  api: 'API request',
  status: 'status',
  result: 'result',
};

/** What to trace: every key, or only these ('namespace/name', or 'name' for cluster-scoped objects). */
export type TraceFilter = { readonly all: true } | { readonly keys: ReadonlySet<string> };

export type TraceFields = Record<string, unknown>;

/**
 * Parses the value of `--trace`: '' is off, '*' or 'all' is every key, otherwise a comma-separated
 * list of 'namespace/name' keys. Throws a RangeError for a malformed key.
 */
export function parseTraceFilter(value: string): TraceFilter | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  if (v === '*' || v === 'all') return { all: true };
  const keys = v.split(',').map((k) => k.trim());
  for (const key of keys) {
    if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(key))
      throw new RangeError(`--trace: "${key}" is not namespace/name (or * for everything)`);
  }
  return { keys: new Set(keys) };
}

/** The steps of one reconcile call: the key and reconcileID are already attached. */
export interface ReconcileTrace {
  /** False when this reconcile is not traced: check it before building fields. */
  readonly enabled: boolean;
  step(step: TraceStep, fields?: TraceFields): void;
}

/** The trace of a reconcile nobody asked to see. */
export const NO_TRACE: ReconcileTrace = Object.freeze({ enabled: false, step: () => undefined });

const current = new AsyncLocalStorage<ReconcileTrace>();

/** The trace of the reconcile this code runs in, if that reconcile is traced. */
export function currentTrace(): ReconcileTrace | undefined {
  return current.getStore();
}

/** Runs `fn` outside any reconcile's trace: for loops that outlive the call that started them. */
export function untraced<T>(fn: () => T): T {
  return current.exit(fn);
}

export class Tracer {
  /** A tracer that traces nothing. */
  static readonly off = new Tracer();

  /** True when anything at all is traced. */
  readonly enabled: boolean;
  private readonly all: boolean;
  private readonly keys: ReadonlySet<string>;
  private readonly log: Logger | undefined;

  constructor(logger?: Logger, filter?: TraceFilter) {
    this.log = logger;
    this.enabled = Boolean(logger && filter);
    this.all = this.enabled && filter !== undefined && 'all' in filter;
    this.keys = filter && 'keys' in filter ? filter.keys : new Set();
  }

  /** True when steps about `key` are traced. Without a key (a list, a bookmark): only when tracing everything. */
  traces(key?: string): boolean {
    if (!this.enabled) return false;
    return this.all || (key !== undefined && this.keys.has(key));
  }

  /** Logs one step about `key`. Callers check traces(key) first. */
  step(step: TraceStep, key: string | undefined, fields: TraceFields = {}): void {
    this.log?.info(STEP_MESSAGES[step], { trace: step, ...(key === undefined ? {} : { key }), ...fields });
  }

  /** The trace of one reconcile of `key`, logging through the reconcile's own logger (which has its reconcileID). */
  forReconcile(key: string, log: Logger): ReconcileTrace {
    if (!this.traces(key)) return NO_TRACE;
    return {
      enabled: true,
      step: (step, fields = {}) => log.info(STEP_MESSAGES[step], { trace: step, key, ...fields }),
    };
  }

  /** Runs `fn` with `trace` as the current trace, so the client and the cache add their steps to it. */
  run<T>(trace: ReconcileTrace, fn: () => T): T {
    return trace.enabled ? current.run(trace, fn) : fn();
  }
}
