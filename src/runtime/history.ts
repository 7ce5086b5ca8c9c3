/**
 * The history: each key's recent reconciles, as the story of why each one ran and what it did.
 *
 * It keeps the same steps as `--trace` (trace.ts), grouped by reconcileID, whether or not anything is
 * traced: what woke the key (the watch events the controller's enqueue saw, and whether the queue
 * merged them), how long the key waited, what the cache held, each diff's decision and reason, each
 * API request with its code and duration, the status change and the outcome.
 *
 * Bounded, so that it costs the same with 10 labs or 10,000: at most `maxKeys` keys (the least
 * recently reconciled is forgotten first), `perKey` reconciles a key, `maxSteps` steps and
 * `maxTriggers` triggers a reconcile, `maxFields` fields a step, strings cut at `maxString`
 * characters and `maxEntryChars` in all an entry, lists at `maxList` items. Only the steps' small
 * fields are kept (kinds, codes, reasons, field paths), never an object's contents. The hot path
 * adds one Map lookup per enqueue and one small object per step. bench/history-overhead.ts measures
 * both (see bench/README.md): about 10 us a reconcile; 6 MiB with typical entries at the bound,
 * and at most about 30 MiB when every entry is full.
 */
import type { Priority } from './priority.js';
import type { AddOutcome } from './workqueue.js';
import type { ReconcileTrace, TraceFields, TraceStep } from './trace.js';

export const HISTORY_DEFAULTS = {
  maxKeys: 256,
  perKey: 8,
  maxSteps: 32,
  maxTriggers: 8,
  /** Fields kept a step (trace steps have at most six). */
  maxFields: 8,
  maxString: 200,
  maxList: 10,
  /** Characters of strings kept an entry, over all its steps: a bound on its size whatever the fields hold. */
  maxEntryChars: 2000,
} as const;

export type HistoryOptions = Partial<Record<keyof typeof HISTORY_DEFAULTS, number>>;

/** A watch event type, as the API server names it; or the queue's own reason to hand the key out again. */
export type TriggerType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'requeue after' | 'backoff';

/** One reason a key was (re)queued. */
export interface Trigger {
  /** The kind of the object whose event it was ('' for the queue's own requeues). */
  kind: string;
  type: TriggerType;
  resourceVersion?: string;
  /** The object, when it is not the key itself: which child woke its owner. */
  object?: string;
  /** What the queue did: `merged` means one reconcile serves this and an earlier trigger. */
  queue: AddOutcome | 'scheduled';
  /** The priority the handler asked for (absent for the queue's own requeues). */
  priority?: Priority;
  /** Milliseconds since the epoch. */
  at: number;
}

export interface HistoryStep {
  step: TraceStep;
  /** Milliseconds since the reconcile started. */
  atMs: number;
  fields: TraceFields;
}

export interface HistoryEntry {
  controller: string;
  key: string;
  reconcileID: string;
  /** Milliseconds since the epoch. */
  startedAt: number;
  triggers: Trigger[];
  /** Triggers beyond maxTriggers: counted, not kept. */
  moreTriggers: number;
  waitedMs: number;
  retries: number;
  steps: HistoryStep[];
  /** Steps beyond maxSteps: counted, not kept. */
  moreSteps: number;
  /** Characters of strings kept so far (against maxEntryChars). */
  chars: number;
  /** The `result` step's outcome ('done', 'requeue after', 'retry with backoff', ...); absent while running. */
  outcome?: string;
  durationMs?: number;
}

/** The last event each kind's informer delivered to a controller. */
export interface LastEvent {
  kind: string;
  type: TriggerType;
  key: string;
  resourceVersion?: string;
  at: number;
}

export interface HistorySnapshot {
  /** Keys with a history, most recently reconciled first. */
  keys: string[];
  /** Reconciles running now. */
  running: { controller: string; key: string; reconcileID: string; step?: TraceStep; atMs: number }[];
  lastEvents: LastEvent[];
  /** API requests made by reconciles, by "VERB code" (e.g. "APPLY 201"). */
  api: Record<string, number>;
}

export class ReconcileHistory {
  private readonly limits: Record<keyof typeof HISTORY_DEFAULTS, number>;
  /** Insertion order is recency: a key is deleted and set again when it is reconciled. */
  private readonly byKey = new Map<string, HistoryEntry[]>();
  private readonly pending = new Map<string, Trigger[]>();
  private readonly pendingMore = new Map<string, number>();
  private readonly running = new Map<string, HistoryEntry>();
  private readonly lastEvents = new Map<string, LastEvent>();
  private readonly api = new Map<string, number>();
  /** Who follows a key's reconciles as they happen (the live page's streams), by key. */
  private readonly followers = new Map<string, Set<(entry: HistoryEntry) => void>>();

  constructor(
    options: HistoryOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...HISTORY_DEFAULTS, ...options };
  }

  /**
   * Calls `listener` with each reconcile of `key` whenever it begins, records a step or ends, until
   * the returned function is called. The ring keeps only `perKey` reconciles, and a rollout can run
   * more than that between two polls of it: a follower sees every one.
   */
  follow(key: string, listener: (entry: HistoryEntry) => void): () => void {
    let set = this.followers.get(key);
    if (!set) this.followers.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.followers.get(key) === set) this.followers.delete(key);
    };
  }

  /** The controller queued `key` because of `trigger` (called on the enqueue path: keep it cheap). */
  triggered(key: string, trigger: Omit<Trigger, 'at'>): void {
    const t: Trigger = { ...trigger, at: this.now() };
    if (t.kind) {
      this.lastEvents.set(t.kind, {
        kind: t.kind,
        type: t.type,
        key: t.object ?? key,
        ...(t.resourceVersion ? { resourceVersion: t.resourceVersion } : {}),
        at: t.at,
      });
    }
    let list = this.pending.get(key);
    if (!list) {
      // Keys that are queued but never taken (a controller that stopped) must not grow this forever.
      if (this.pending.size >= this.limits.maxKeys) this.dropOldestPending();
      list = [];
      this.pending.set(key, list);
    }
    if (list.length < this.limits.maxTriggers) list.push(t);
    else this.pendingMore.set(key, (this.pendingMore.get(key) ?? 0) + 1);
  }

  /**
   * A worker took `key`: starts its entry with the triggers gathered since the last one, and returns
   * the trace that records its steps, also sending them to `inner` (the --trace log) when it is on.
   */
  begin(
    controller: string,
    key: string,
    reconcileID: string,
    inner: ReconcileTrace,
    waitedMs: number | undefined,
    retries: number,
  ): ReconcileTrace {
    const entry: HistoryEntry = {
      controller,
      key,
      reconcileID,
      startedAt: this.now(),
      triggers: this.pending.get(key) ?? [],
      moreTriggers: this.pendingMore.get(key) ?? 0,
      waitedMs: Math.round(waitedMs ?? 0),
      retries,
      steps: [],
      moreSteps: 0,
      chars: 0,
    };
    this.pending.delete(key);
    this.pendingMore.delete(key);
    this.running.set(reconcileID, entry);
    let ring = this.byKey.get(key);
    if (ring) this.byKey.delete(key);
    else ring = [];
    this.byKey.set(key, ring);
    ring.push(entry);
    if (ring.length > this.limits.perKey) ring.shift();
    if (this.byKey.size > this.limits.maxKeys) {
      const oldest = this.byKey.keys().next().value;
      if (oldest !== undefined) this.byKey.delete(oldest);
    }
    this.tell(entry);
    const record = (step: TraceStep, fields: TraceFields = {}): void => {
      if (inner.enabled) inner.step(step, fields);
      this.record(entry, step, fields);
      this.tell(entry);
    };
    return { enabled: true, step: record };
  }

  /** The queue will hand `key` out again by itself (after a delay or a backoff). */
  requeued(key: string, type: 'requeue after' | 'backoff'): void {
    this.triggered(key, { kind: '', type, queue: 'scheduled' });
  }

  /** The reconcile ended (its result step is already recorded); it stops counting as running. */
  end(reconcileID: string, durationMs: number): void {
    const entry = this.running.get(reconcileID);
    if (!entry) return;
    entry.durationMs = Math.round(durationMs);
    this.running.delete(reconcileID);
    this.tell(entry);
  }

  /** The last `last` reconciles of `key`, most recent first (copies: callers may keep them). */
  entries(key: string, last: number = this.limits.perKey): HistoryEntry[] {
    const ring = this.byKey.get(key) ?? [];
    return ring
      .slice(-Math.max(0, last))
      .reverse()
      .map((e) => ({ ...e, triggers: [...e.triggers], steps: [...e.steps] }));
  }

  snapshot(): HistorySnapshot {
    const now = this.now();
    return {
      keys: [...this.byKey.keys()].reverse(),
      running: [...this.running.values()].map((e) => {
        const last = e.steps[e.steps.length - 1];
        return {
          controller: e.controller,
          key: e.key,
          reconcileID: e.reconcileID,
          ...(last ? { step: last.step } : {}),
          atMs: now - e.startedAt,
        };
      }),
      lastEvents: [...this.lastEvents.values()],
      api: Object.fromEntries(this.api),
    };
  }

  private record(entry: HistoryEntry, step: TraceStep, fields: TraceFields): void {
    if (step === 'api') {
      const name = `${String(fields.verb)} ${String(fields.code)}`;
      this.api.set(name, (this.api.get(name) ?? 0) + 1);
    }
    if (step === 'result' && typeof fields.outcome === 'string') entry.outcome = fields.outcome;
    if (entry.steps.length >= this.limits.maxSteps) {
      entry.moreSteps++;
      return;
    }
    entry.steps.push({ step, atMs: this.now() - entry.startedAt, fields: this.bounded(entry, fields) });
  }

  /** A copy of the fields with long strings cut and long lists shortened, so no entry grows unbounded. */
  private bounded(entry: HistoryEntry, fields: TraceFields): TraceFields {
    const out: TraceFields = {};
    let n = 0;
    for (const name in fields) {
      if (++n > this.limits.maxFields) break;
      out[name] = this.boundedValue(entry, fields[name]);
    }
    return out;
  }

  private boundedValue(entry: HistoryEntry, value: unknown): unknown {
    if (typeof value === 'string') {
      const room = Math.min(this.limits.maxString, this.limits.maxEntryChars - entry.chars);
      const kept = value.length > room ? `${value.slice(0, Math.max(0, room))}…` : value;
      entry.chars += Math.min(value.length, Math.max(0, room));
      return kept;
    }
    if (Array.isArray(value))
      return value.slice(0, this.limits.maxList).map((v) => this.boundedValue(entry, v));
    if (value === null || typeof value !== 'object') return value;
    // Trace fields are flat; anything nested is summarised rather than kept.
    return '[object]';
  }

  /** One Map lookup when nobody follows: the hot path pays nothing more. */
  private tell(entry: HistoryEntry): void {
    const set = this.followers.get(entry.key);
    if (set) for (const listener of set) listener(entry);
  }

  private dropOldestPending(): void {
    const oldest = this.pending.keys().next().value;
    if (oldest === undefined) return;
    this.pending.delete(oldest);
    this.pendingMore.delete(oldest);
  }
}
