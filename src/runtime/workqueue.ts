/**
 * The work queue between event handlers and workers, with client-go's semantics.
 *
 * Guarantees:
 * - It holds keys ('namespace/name'), never objects: a reconcile reads current state from the cache.
 * - A key added many times before a worker takes it is processed once (the `dirty` set).
 * - A key is never handed to two workers at once (the `processing` set); a key added while it is
 *   processed is handed out again after `done()`, so no change is lost.
 * - Delayed adds (`addAfter`, `addRateLimited`) wait in one min-heap served by one timer, however
 *   many keys wait; a key waiting twice keeps its earlier deadline.
 *
 * - Priorities: a key is added as `low`, `normal` (the default) or `high`, and the ready key of the
 *   highest priority goes first, the oldest first within one priority. A key added again with a
 *   higher priority while it waits moves up; never down. So a user's edit (high) is not stuck behind
 *   thousands of keys from an initial list (low).
 * - No key starves: once a key below the top priority has waited `agingMs`, one hand-out in every
 *   `AGED_TURN` goes to the longest-waiting such key, however many higher ones keep coming. This is
 *   the deadline I/O scheduler's `writes_starved` rule, not aging by rank: a key aged into a higher
 *   rank would be older than any fresh edit there, and a storm of work longer than `agingMs` would
 *   put every edit behind all of it (a create storm of 1000 labs held edits 10 to 50 s that way).
 *   A high key waits for at most the high keys ahead of it and one aged key in every `AGED_TURN`.
 * - Reserved workers: `get('high')` hands out only high keys, and a high key goes to such a getter
 *   before one that takes any key. A priority decides only which key a free worker takes next; it
 *   cannot free a worker. When every worker is busy with a storm's keys, an edit still waits for one
 *   of them to finish, and in a create storm each takes a quarter of a second. A few workers kept for
 *   high keys alone are free for an edit whatever the storm, as the API server's priority levels keep
 *   seats of their own (API Priority and Fairness), so that one level's flood does not take another's.
 *
 * Caveats: after `shutDown()`, `add` is ignored but keys already in the ready queue are still handed
 * out; `get()` returns undefined once the ready queue is empty.
 */
import { systemClock, type Clock, type Timer } from './clock.js';
import type { Metrics } from './metrics.js';
import { PRIORITIES, RANK, type Priority } from './priority.js';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.js';

export const WORKQUEUE_DEFAULTS = {
  /** A key below the top priority that has waited this long takes one hand-out in every AGED_TURN. */
  agingMs: 10_000,
} as const;

/** One hand-out in this many goes to an aged key below the top priority, when there is one. */
export const AGED_TURN = 4;

export interface WorkQueueOptions {
  /** The `name` label of the workqueue_* metrics. */
  readonly name: string;
  /** @default defaultControllerRateLimiter() */
  readonly rateLimiter?: RateLimiter;
  readonly metrics?: Metrics;
  /** The `controller` label of the workqueue_* metrics. @default name */
  readonly controller?: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default WORKQUEUE_DEFAULTS.agingMs */
  readonly agingMs?: number;
}

export interface WorkQueueSnapshot {
  /** Keys ready and waiting for a worker. */
  depth: number;
  /** Those keys, by priority. */
  depthByPriority: Record<Priority, number>;
  /** Those keys, next first (the first `limit` of them, when snapshot() was given one). */
  ready: string[];
  /** Keys a worker holds right now. */
  processing: string[];
  /** Keys waiting for a delay to pass, soonest first, with their failures so far (0: a requeueAfter). */
  waiting: { key: string; readyInMs: number; retries: number }[];
}

/**
 * What add() did with a key: `added` (now ready for a worker), `merged` (it was already waiting: one
 * reconcile serves both adds), `deferred` (a worker holds it: it is handed out again once that one is
 * done), `ignored` (shutting down).
 */
export type AddOutcome = 'added' | 'merged' | 'deferred' | 'ignored';

/** How often the in-flight gauges (unfinished work, longest running processor) are refreshed, as in client-go. */
const UNFINISHED_WORK_UPDATE_MS = 500;

export class WorkQueue {
  readonly name: string;
  private readonly rateLimiter: RateLimiter;
  private readonly clock: Clock;
  private readonly metrics: QueueMetrics | undefined;

  /** Keys ready for a worker, by priority. Every key in it is also in `dirty`. */
  private readonly ready: ReadyQueue;
  /** The highest priority asked for a key added while a worker held it (it is ready again at done()). */
  private readonly deferredPriority = new Map<string, Priority>();
  /** Keys that need processing: in `ready`, or added again while being processed. */
  private readonly dirty = new Set<string>();
  /** Keys a worker holds, with the time it took them. */
  private readonly processing = new Map<string, number>();
  /** When each dirty key was first added since it was last handed out. */
  private readonly addedAt = new Map<string, number>();
  /** How long each key a worker holds had waited to be handed out. */
  private readonly waited = new Map<string, number>();
  /** Workers blocked in get(), oldest first, with the lowest priority each takes. */
  private readonly getters: Getter[] = [];
  private readonly delayed: DelayHeap;
  private delayTimer: { timer: Timer; at: number } | undefined;
  private metricsTimer: Timer | undefined;
  private drained: (() => void)[] = [];
  private stopping = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter(this.clock);
    this.delayed = new DelayHeap();
    this.ready = new ReadyQueue(options.agingMs ?? WORKQUEUE_DEFAULTS.agingMs);
    if (options.metrics) {
      this.metrics = new QueueMetrics(options.metrics, options.name, options.controller ?? options.name);
      this.scheduleMetricsUpdate();
    }
  }

  /**
   * Marks `key` as needing processing, at `priority`. If it already does, it keeps one place, at the
   * higher of the two priorities. Ignored once shutting down.
   */
  add(key: string, priority: Priority = 'normal'): AddOutcome {
    if (this.stopping) return 'ignored';
    const now = this.clock.now();
    if (this.dirty.has(key)) {
      if (this.processing.has(key))
        this.deferredPriority.set(key, higher(this.deferredPriority.get(key), priority));
      else if (this.ready.raise(key, priority, now)) this.metrics?.depth(this.ready.counts);
      return 'merged';
    }
    this.dirty.add(key);
    this.addedAt.set(key, now);
    this.metrics?.added(key, now);
    // A key being processed goes back to `ready` in done(), never to a second worker now.
    if (this.processing.has(key)) {
      this.deferredPriority.set(key, priority);
      return 'deferred';
    }
    this.ready.push(key, priority, now);
    this.metrics?.depth(this.ready.counts);
    this.handOut();
    return 'added';
  }

  /** Adds `key` once `ms` has passed (at once if ms <= 0). Counted in workqueue_retries_total, as client-go does. */
  addAfter(key: string, ms: number): void {
    if (this.stopping) return;
    this.metrics?.retried();
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    this.delayed.push(key, this.clock.now() + ms);
    this.armDelayTimer();
  }

  /** Adds `key` after the rate limiter's delay; each call counts as one more failure of `key`. Returns the delay. */
  addRateLimited(key: string): number {
    const delayMs = this.rateLimiter.when(key);
    this.addAfter(key, delayMs);
    return delayMs;
  }

  /** Resets `key`'s backoff (after a success, or when retrying is pointless). */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.rateLimiter.retries(key);
  }

  /** For a key a worker holds: how long it waited between its (first) add and being handed out. */
  waitedMs(key: string): number | undefined {
    return this.waited.get(key);
  }

  /**
   * The next key to process of at least priority `atLeast` (any key by default); waits while none is
   * ready. The caller owns the key until it calls `done(key)`. Resolves undefined once the queue is
   * shut down and no such key is ready.
   */
  get(atLeast: Priority = 'low'): Promise<string | undefined> {
    if (this.ready.has(atLeast)) return Promise.resolve(this.take(atLeast));
    if (this.stopping) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push({ atLeast, resolve }));
  }

  /** Releases `key`; if it was added again meanwhile, it is ready again now. */
  done(key: string): void {
    const startedAt = this.processing.get(key);
    if (startedAt === undefined) return;
    this.processing.delete(key);
    this.waited.delete(key);
    this.metrics?.finished(this.clock.now() - startedAt);
    if (this.dirty.has(key)) {
      this.ready.push(key, this.deferredPriority.get(key) ?? 'normal', this.clock.now());
      this.deferredPriority.delete(key);
      this.metrics?.depth(this.ready.counts);
      this.handOut();
    }
    if (this.processing.size === 0) this.notifyDrained();
  }

  /** Keys ready for a worker (not those waiting for a delay, nor those being processed). */
  get length(): number {
    return this.ready.length;
  }

  get shuttingDown(): boolean {
    return this.stopping;
  }

  /** Stops accepting keys and wakes every blocked get() with undefined. Delayed keys are dropped. */
  shutDown(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.delayTimer?.timer.cancel();
    this.delayTimer = undefined;
    this.delayed.clear();
    this.metricsTimer?.cancel();
    for (const getter of this.getters.splice(0)) getter.resolve(undefined);
    if (this.processing.size === 0) this.notifyDrained();
  }

  /** shutDown(), then resolves once every key handed out has been released with done(). */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** What the queue holds now; `limit` caps the keys listed (ready and waiting), `depth` counts them all. */
  snapshot(limit = Infinity): WorkQueueSnapshot {
    const now = this.clock.now();
    return {
      depth: this.ready.length,
      depthByPriority: { ...this.ready.counts },
      ready: this.ready.order(now, limit),
      processing: [...this.processing.keys()],
      waiting: this.delayed
        .entries()
        .slice(0, limit)
        .map(({ key, at }) => ({
          key,
          readyInMs: Math.max(0, at - now),
          retries: this.rateLimiter.retries(key),
        })),
    };
  }

  /** Moves the next ready key of at least `atLeast` to `processing`. Only called when there is one. */
  private take(atLeast: Priority): string {
    const now = this.clock.now();
    const key = this.ready.shift(now, atLeast) as string;
    this.dirty.delete(key);
    this.processing.set(key, now);
    this.waited.set(key, now - (this.addedAt.get(key) ?? now));
    this.addedAt.delete(key);
    this.metrics?.taken(key, now, this.ready.counts);
    return key;
  }

  private handOut(): void {
    for (let i = this.nextGetter(); i >= 0; i = this.nextGetter()) {
      const [getter] = this.getters.splice(i, 1) as [Getter];
      getter.resolve(this.take(getter.atLeast));
    }
  }

  /**
   * The blocked getter to serve next, -1 for none: a reserved one (that takes only keys of a higher
   * priority) when such a key is ready, so the others stay free for the rest; else the oldest that
   * takes any key.
   */
  private nextGetter(): number {
    if (this.ready.length === 0) return -1;
    let any = -1;
    for (const [i, getter] of this.getters.entries()) {
      if (getter.atLeast !== 'low') {
        if (this.ready.has(getter.atLeast)) return i;
      } else if (any < 0) any = i;
    }
    return any;
  }

  /** One timer for the whole heap, always set for its earliest deadline. */
  private armDelayTimer(): void {
    const next = this.delayed.peekTime();
    if (next === undefined || (this.delayTimer && this.delayTimer.at <= next)) return;
    this.delayTimer?.timer.cancel();
    const timer = this.clock.setTimer(() => this.releaseDueKeys(), next - this.clock.now());
    this.delayTimer = { timer, at: next };
  }

  private releaseDueKeys(): void {
    this.delayTimer = undefined;
    const now = this.clock.now();
    for (const key of this.delayed.popDue(now)) this.add(key);
    this.armDelayTimer();
  }

  private scheduleMetricsUpdate(): void {
    this.metricsTimer = this.clock.setTimer(
      () => {
        this.metrics?.inFlight([...this.processing.values()], this.clock.now());
        if (!this.stopping) this.scheduleMetricsUpdate();
      },
      UNFINISHED_WORK_UPDATE_MS,
      { background: true },
    );
  }

  private notifyDrained(): void {
    for (const resolve of this.drained.splice(0)) resolve();
  }
}

interface Getter {
  atLeast: Priority;
  resolve: (key: string | undefined) => void;
}

function higher(a: Priority | undefined, b: Priority): Priority {
  return a !== undefined && RANK[a] >= RANK[b] ? a : b;
}

interface ReadyEntry {
  key: string;
  priority: Priority;
  /** When it entered its priority's line (aging counts from here). */
  since: number;
}

/**
 * The ready keys: one first-in first-out line per priority. The next key is the head of one of the
 * three lines (the oldest of each), so choosing costs three comparisons whatever the depth. A key
 * moved up to a higher line leaves its old entry behind, skipped when reached (lazy deletion, as in
 * DelayHeap); each line drops consumed entries in chunks, so shift() is O(1) amortised.
 */
class ReadyQueue {
  private readonly lines: Record<Priority, { entries: ReadyEntry[]; head: number }> = {
    low: { entries: [], head: 0 },
    normal: { entries: [], head: 0 },
    high: { entries: [], head: 0 },
  };
  /** The live entry of each ready key. */
  private readonly live = new Map<string, ReadyEntry>();
  private readonly byPriority: Record<Priority, number> = { low: 0, normal: 0, high: 0 };
  /** Hand-outs since an aged key last had its turn. */
  private sinceAgedTurn = 0;

  constructor(private readonly agingMs: number) {}

  get length(): number {
    return this.live.size;
  }

  /** Whether a key of at least `priority` is ready. */
  has(priority: Priority): boolean {
    return PRIORITIES.some((p) => RANK[p] >= RANK[priority] && this.byPriority[p] > 0);
  }

  push(key: string, priority: Priority, now: number): void {
    const entry = { key, priority, since: now };
    const replaced = this.live.get(key);
    if (replaced) this.byPriority[replaced.priority]--;
    this.live.set(key, entry);
    this.byPriority[priority]++;
    this.lines[priority].entries.push(entry);
  }

  /** Moves a ready key to a higher priority's line; false if it is already there or higher. */
  raise(key: string, priority: Priority, now: number): boolean {
    const entry = this.live.get(key);
    if (!entry || RANK[entry.priority] >= RANK[priority]) return false;
    this.push(key, priority, now);
    return true;
  }

  /**
   * Takes the next key: the top priority's oldest, or on an aged turn the longest-waiting aged key
   * below it. For a reserved getter (`atLeast` above low), the top priority's oldest of at least
   * `atLeast`: aged turns are the other getters' to give, and its hand-outs do not count towards them.
   */
  shift(now: number, atLeast: Priority = 'low'): string | undefined {
    const heads = PRIORITIES.map((p) => (RANK[p] >= RANK[atLeast] ? this.head(p) : undefined));
    const reserved = atLeast !== 'low';
    const next = this.pick(heads, now, reserved ? 0 : this.sinceAgedTurn);
    if (!next) return undefined;
    if (!reserved) this.sinceAgedTurn = next.aged ? 0 : this.sinceAgedTurn + 1;
    this.consume(next.entry.priority);
    this.live.delete(next.entry.key);
    this.byPriority[next.entry.priority]--;
    return next.entry.key;
  }

  /** The depth by priority as it is now, not a copy: for the metrics, read at once on every add and take. */
  get counts(): Readonly<Record<Priority, number>> {
    return this.byPriority;
  }

  /**
   * The first `limit` ready keys in the order shift() would hand them out now (for the debug pages).
   * Each line is already in that order (oldest first), so this merges the three lines as shift()
   * would pick from them, aged turns included, and stops at `limit`: a page asking for 50 keys costs
   * 50 steps, not a sort of every ready key.
   */
  order(now: number, limit = Infinity): string[] {
    const at = PRIORITIES.map((p) => this.lines[p].head);
    const liveFrom = (i: number): ReadyEntry | undefined => {
      const { entries } = this.lines[PRIORITIES[i]!];
      for (; at[i]! < entries.length; at[i]!++) {
        const entry = entries[at[i]!]!;
        if (this.live.get(entry.key) === entry) return entry;
      }
      return undefined;
    };
    const keys: string[] = [];
    let sinceAgedTurn = this.sinceAgedTurn;
    while (keys.length < limit) {
      const heads = PRIORITIES.map((_, i) => liveFrom(i));
      const next = this.pick(heads, now, sinceAgedTurn);
      if (!next) break;
      sinceAgedTurn = next.aged ? 0 : sinceAgedTurn + 1;
      keys.push(next.entry.key);
      at[heads.indexOf(next.entry)]!++;
    }
    return keys;
  }

  /**
   * Of the lines' heads (lowest priority first), the top priority's, unless it is an aged turn
   * (`sinceAgedTurn` hand-outs have gone by since the last) and a head below the top has waited
   * `agingMs`: then the one of those waiting longest. Each head is its line's oldest key, so aged
   * keys are served oldest first, and each is reached after finitely many turns.
   */
  private pick(
    heads: readonly (ReadyEntry | undefined)[],
    now: number,
    sinceAgedTurn: number,
  ): { entry: ReadyEntry; aged: boolean } | undefined {
    const top = heads.findLast((h) => h !== undefined);
    if (!top || sinceAgedTurn < AGED_TURN - 1) return top && { entry: top, aged: false };
    let aged: ReadyEntry | undefined;
    for (const head of heads) {
      if (head && head !== top && now - head.since >= this.agingMs && (!aged || head.since < aged.since))
        aged = head;
    }
    return aged ? { entry: aged, aged: true } : { entry: top, aged: false };
  }

  /** The oldest live entry of a line, dropping stale ones (keys moved up, or already taken) on the way. */
  private head(priority: Priority): ReadyEntry | undefined {
    const line = this.lines[priority];
    while (line.head < line.entries.length) {
      const entry = line.entries[line.head]!;
      if (this.live.get(entry.key) === entry) return entry;
      this.consume(priority);
    }
    return undefined;
  }

  private consume(priority: Priority): void {
    const line = this.lines[priority];
    line.head++;
    if (line.head === line.entries.length) {
      line.entries = [];
      line.head = 0;
    } else if (line.head >= 1024 && line.head * 2 >= line.entries.length) {
      line.entries = line.entries.slice(line.head);
      line.head = 0;
    }
  }
}

/**
 * A min-heap of (key, deadline). A key pushed again with an earlier deadline moves up; with a later one
 * it is ignored. Superseded heap entries are left in place and skipped when popped (lazy deletion),
 * which keeps the heap itself a textbook one.
 */
class DelayHeap {
  private heap: { key: string; at: number }[] = [];
  /** The one live deadline per key. */
  private deadlines = new Map<string, number>();

  push(key: string, at: number): void {
    const existing = this.deadlines.get(key);
    if (existing !== undefined && existing <= at) return;
    this.deadlines.set(key, at);
    this.heap.push({ key, at });
    this.siftUp(this.heap.length - 1);
  }

  peekTime(): number | undefined {
    this.dropSuperseded();
    return this.heap[0]?.at;
  }

  popDue(now: number): string[] {
    const due: string[] = [];
    for (;;) {
      this.dropSuperseded();
      const top = this.heap[0];
      if (!top || top.at > now) return due;
      this.popTop();
      this.deadlines.delete(top.key);
      due.push(top.key);
    }
  }

  entries(): { key: string; at: number }[] {
    return [...this.deadlines].map(([key, at]) => ({ key, at })).sort((a, b) => a.at - b.at);
  }

  clear(): void {
    this.heap = [];
    this.deadlines.clear();
  }

  private dropSuperseded(): void {
    while (this.heap[0] && this.deadlines.get(this.heap[0].key) !== this.heap[0].at) this.popTop();
  }

  private popTop(): void {
    const last = this.heap.pop();
    if (last && this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.at(parent) <= this.at(i)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.heap.length && this.at(left) < this.at(smallest)) smallest = left;
      if (right < this.heap.length && this.at(right) < this.at(smallest)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private at(i: number): number {
    return (this.heap[i] as { at: number }).at;
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i] as { key: string; at: number };
    this.heap[i] = this.heap[j] as { key: string; at: number };
    this.heap[j] = a;
  }
}

/** The workqueue_* series of one queue; durations in seconds, as Prometheus wants. */
class QueueMetrics {
  private readonly labels: { name: string; controller: string };
  private readonly depthLabels: Record<Priority, { name: string; controller: string; priority: Priority }>;
  /** The depth last set for each priority: an add or a take changes one line, and only that one is set. */
  private readonly lastDepth: Record<Priority, number> = { low: 0, normal: 0, high: 0 };
  /** When each queued key entered the ready queue (for queue_duration). */
  private readonly addedAt = new Map<string, number>();

  constructor(
    private readonly m: Metrics,
    name: string,
    controller: string,
  ) {
    this.labels = { name, controller };
    this.depthLabels = {
      low: { name, controller, priority: 'low' },
      normal: { name, controller, priority: 'normal' },
      high: { name, controller, priority: 'high' },
    };
    for (const priority of PRIORITIES) m.workqueueDepth.set(this.depthLabels[priority], 0);
    m.workqueueAdds.inc(this.labels, 0);
    m.workqueueRetries.inc(this.labels, 0);
    m.workqueueUnfinishedWork.set(this.labels, 0);
    m.workqueueLongestRunning.set(this.labels, 0);
  }

  added(key: string, now: number): void {
    this.m.workqueueAdds.inc(this.labels);
    if (!this.addedAt.has(key)) this.addedAt.set(key, now);
  }

  depth(byPriority: Readonly<Record<Priority, number>>): void {
    for (const priority of PRIORITIES) {
      const depth = byPriority[priority];
      if (depth === this.lastDepth[priority]) continue;
      this.lastDepth[priority] = depth;
      this.m.workqueueDepth.set(this.depthLabels[priority], depth);
    }
  }

  taken(key: string, now: number, depth: Readonly<Record<Priority, number>>): void {
    this.depth(depth);
    const since = this.addedAt.get(key);
    if (since !== undefined) this.m.workqueueQueueDuration.observe(this.labels, (now - since) / 1000);
    this.addedAt.delete(key);
  }

  finished(ms: number): void {
    this.m.workqueueWorkDuration.observe(this.labels, ms / 1000);
  }

  retried(): void {
    this.m.workqueueRetries.inc(this.labels);
  }

  inFlight(startTimes: number[], now: number): void {
    const ages = startTimes.map((t) => (now - t) / 1000);
    this.m.workqueueUnfinishedWork.set(
      this.labels,
      ages.reduce((a, b) => a + b, 0),
    );
    this.m.workqueueLongestRunning.set(this.labels, Math.max(0, ...ages));
  }
}
