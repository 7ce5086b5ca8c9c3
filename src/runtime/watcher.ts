/** The watcher: list, then watch, telling its caller what the API server says as typed events; it keeps no cache. */
import { backoffDelay, jitter } from './backoff.js';
import { abortReason, ApiError, isGone, type Client, type ListResult, type WatchEvent } from './client.js';
import { sleep, systemClock, type Clock, type Timer } from './clock.js';
import { createLogger, errorFields, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { objectKey } from './keys.js';
import type { KubeObject, ResourceType } from './resources.js';
import { Tracer } from './trace.js';

/**
 * Where the list/watch loop is. The loop is `state = await step(state)` until
 * Stopped; each line below is one step (kube-rs's watcher documents its loop the same way).
 *
 * ```text
 *   Pending  ── run() ────────────────────────────────────▶ Listing(initial)
 *   Listing  ── paginate: all pages listed, handed on as
 *               one 'restart' event ──────────────────────▶ Watching(the list's resourceVersion)
 *            ── stream: the initial events up to the end
 *               bookmark, handed on as one 'restart' ─────▶ Watching(the bookmark's resourceVersion),
 *               on the same stream: no second request        ending as a watch does (below)
 *            ── list failed (stream: 410, 429, 5xx, a
 *               broken or ended stream before the end) ───▶ Backoff(next: list)
 *            ── stream refused (any other 4xx) ───────────▶ Listing(same reason), paginated from then on
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
 *
 * A streaming list (listMode 'stream', KEP-3157) is one watch with sendInitialEvents: the Listing
 * step gathers its ADDED events, hands them on at the end bookmark, becomes Watching and reads the
 * same stream on, as client-go's reflector does after a watch-list.
 */
export type WatcherState =
  | { readonly phase: 'Pending' }
  | {
      readonly phase: 'Listing';
      /** Why: the first list, a 410 on the watch, or a retry after a failed list. */
      readonly reason: ListReason;
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

/** Why a list was made: the first one, a 410 on the watch, or a retry after a failed list. */
export type ListReason = 'initial' | 'gone' | 'retry';

/**
 * What the watcher tells its caller, in the order the API server said it. A 'restart' carries every
 * object a list returned: whatever the caller knew before is replaced by it (kube-rs's Event::Init..InitDone
 * in one piece). The objects are as the server sent them: no transform has run.
 */
export type WatcherEvent<T extends KubeObject = KubeObject> =
  | {
      readonly type: 'restart';
      readonly objects: readonly T[];
      readonly resourceVersion: string;
      readonly reason: ListReason;
    }
  | { readonly type: 'added' | 'modified' | 'deleted'; readonly object: T }
  | { readonly type: 'bookmark'; readonly resourceVersion: string };

export interface WatcherOptions {
  /** Watch one namespace only. @default all namespaces (and always all for cluster-scoped kinds) */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
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
  /**
   * False for a kind the API server serves without its watch cache (core Events): such a watch
   * gets no bookmarks, so a quiet one is not a sign of a dead connection. Its watchdog waits for
   * the watch's own server-side timeout and a minute more instead of silenceTimeoutMs.
   * @default true
   */
  readonly serverSendsBookmarks?: boolean;
  /** Reconnect backoff: jittered exponential, forever; reset after `resetAfterMs` without failures. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number; readonly resetAfterMs?: number };
  /** Page size of lists. @default 500 */
  readonly listPageSize?: number;
  /**
   * How a list is made: 'paginate', pages of listPageSize; 'stream', one watch with
   * sendInitialEvents=true (KEP-3157), whose objects come one by one instead of in one large body.
   * A server that refuses the stream (a 4xx other than 410 and 429) gets paginated lists from then on.
   * @default 'paginate'
   */
  readonly listMode?: ListMode;
}

export type ListMode = 'paginate' | 'stream';

/** The annotation of the bookmark that ends a streaming list's initial events. */
export const INITIAL_EVENTS_END_ANNOTATION = 'k8s.io/initial-events-end';

export const WATCHER_DEFAULTS = {
  watchTimeoutSeconds: 300,
  silenceTimeoutMs: 150_000,
  // client-go's reflector backoff: 800 ms doubling to 30 s, reset after 2 minutes without failure.
  backoff: { initialMs: 800, maxMs: 30_000, resetAfterMs: 120_000 },
  listPageSize: 500,
  listMode: 'paginate' as ListMode,
} as const;

/** A stream that closed sooner than this without one event is treated as a failure, not a timeout. */
const MIN_HEALTHY_WATCH_MS = 1_000;

export interface WatcherDeps {
  /** Used as given: pass a child logger that names what is watched. @default a logger tagged with the kind */
  readonly logger?: Logger;
  /** Counts events, relists and watch restarts (the informer_* series). */
  readonly metrics?: Metrics;
  /** Traces watch events and bookmarks. @default Tracer.off */
  readonly tracer?: Tracer;
  /** Backoff delays, the watchdog and the failure clock run on it. @default systemClock */
  readonly clock?: Clock;
}

/** Where the watcher is and how it has fared, for stats pages. */
export interface WatcherStatus {
  state: WatcherState['phase'];
  /** The last resourceVersion handed on: the watcher's position in the API server's history. */
  resourceVersion: string;
  lastEventAt?: Date;
  /** List attempts after the first one (after a 410, or retrying a failed list). */
  relists: number;
  /** Watches opened other than the first after each list. */
  watchRestarts: number;
  consecutiveFailures: number;
  lastError?: Error;
}

/** What the watcher needs from a Client (a narrower type keeps unit tests honest about it). */
export type ListerWatcher = Pick<Client, 'list' | 'watch'>;

/** A watch timeout in [base, 2 base), so a fleet of watches does not reconnect in lockstep. */
/** How long after its own timeout a watch without bookmarks may stay open before the watchdog calls it dead. */
const SERVER_CLOSE_GRACE_MS = 60_000;

export function jitteredWatchTimeout(baseSeconds: number, random: () => number = Math.random): number {
  return Math.floor(jitter(baseSeconds, 1, random));
}

/**
 * Lists one kind (in one namespace, matching the selectors), then watches it
 * from the list's resourceVersion, and hands every answer to `onEvent`.
 *
 * Guarantees: `onEvent` is called synchronously and in the server's order; after
 * a 'restart' it sees every change since that list, or another 'restart'. The
 * loop never ends on its own: every failure is logged, counted and retried with
 * backoff, until the signal aborts.
 * Assumptions: `onEvent` is quick and does not throw. If it throws on a
 * 'restart', the list counts as failed and is retried; on a watch event, the
 * watch counts as failed and is reopened from the last resourceVersion handed on,
 * so that event comes again.
 */
export class Watcher<T extends KubeObject = KubeObject> {
  readonly type: ResourceType;

  private readonly client: ListerWatcher;
  private readonly options: WatcherOptions;
  private readonly backoffOptions: { initialMs: number; maxMs: number; resetAfterMs: number };
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly tracer: Tracer;
  private readonly clock: Clock;
  private onEvent: (event: WatcherEvent<T>) => void = () => undefined;

  private state: WatcherState = { phase: 'Pending' };
  private resourceVersion = '';
  private lastEventAt: Date | undefined;
  private lastFailureAt = 0;
  private failures = 0;
  private lastError: Error | undefined;
  private relists = 0;
  private watchRestarts = 0;
  private listAttempts = 0;
  private watchesSinceList = 0;
  /** Starts as options.listMode; a server that refuses a streaming list turns it to 'paginate' for good. */
  private listMode: ListMode;
  /** The list about to be made replaces a refused streaming list: the same list, not a relist. */
  private replacesRefusedStream = false;

  constructor(
    client: ListerWatcher,
    type: ResourceType,
    options: WatcherOptions = {},
    deps: WatcherDeps = {},
  ) {
    this.client = client;
    this.type = type;
    this.options = { ...options };
    this.backoffOptions = { ...WATCHER_DEFAULTS.backoff, ...options.backoff };
    this.listMode = options.listMode ?? WATCHER_DEFAULTS.listMode;
    this.metrics = deps.metrics;
    this.tracer = deps.tracer ?? Tracer.off;
    this.clock = deps.clock ?? systemClock;
    this.log =
      deps.logger ??
      createLogger().child({ watcher: type.kind, ...(this.namespace ? { namespace: this.namespace } : {}) });
  }

  /** The namespace this watcher is restricted to, if any. */
  get namespace(): string | undefined {
    return this.type.namespaced ? this.options.namespace : undefined;
  }

  /** Where the loop is; Pending until run() is called. */
  get phase(): WatcherState['phase'] {
    return this.state.phase;
  }

  /** Runs the list/watch loop, handing every event to `onEvent`, until `signal` aborts. Runs once. */
  async run(signal: AbortSignal, onEvent: (event: WatcherEvent<T>) => void): Promise<void> {
    if (this.state.phase !== 'Pending') throw new Error(`watcher ${this.type.kind}: already started`);
    this.onEvent = onEvent;
    this.state = { phase: 'Listing', reason: 'initial' };
    while (this.state.phase !== 'Stopped') {
      if (signal.aborted) {
        this.state = { phase: 'Stopped' };
        break;
      }
      try {
        this.state = await this.step(this.state, signal);
      } catch (err) {
        // step() handles every expected failure itself; what lands here (a throwing onEvent on a
        // restart, or a bug) must not end the loop.
        this.state = this.fail(asError(err), 'list');
      }
    }
  }

  status(): WatcherStatus {
    const status: WatcherStatus = {
      state: this.state.phase,
      resourceVersion: this.resourceVersion,
      relists: this.relists,
      watchRestarts: this.watchRestarts,
      consecutiveFailures: this.failures,
    };
    if (this.lastEventAt) status.lastEventAt = this.lastEventAt;
    if (this.lastError) status.lastError = this.lastError;
    return status;
  }

  private step(state: WatcherState, signal: AbortSignal): Promise<WatcherState> {
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

  /** How lists are made now: the option, until a server refuses a streaming list. */
  get effectiveListMode(): ListMode {
    return this.listMode;
  }

  /** Lists (every page, or one streaming list) and hands the whole list on as one 'restart'. */
  private async list(reason: ListReason, signal: AbortSignal): Promise<WatcherState> {
    if (this.replacesRefusedStream) this.replacesRefusedStream = false;
    else if (this.listAttempts++ > 0) {
      this.relists++;
      this.metrics?.informerRelists.inc({ kind: this.type.kind });
    }
    if (this.listMode === 'stream') return this.watch('', signal, reason);
    let items: T[];
    let resourceVersion: string;
    try {
      ({ items, resourceVersion } = await this.listAllPages(signal));
    } catch (err) {
      if (signal.aborted) return { phase: 'Stopped' };
      return this.fail(asError(err), 'list');
    }
    this.watchesSinceList = 0;
    this.onEvent({ type: 'restart', objects: items, resourceVersion, reason });
    this.resourceVersion = resourceVersion;
    return { phase: 'Watching', resourceVersion };
  }

  /**
   * Pages with limit/continue. All pages come from one snapshot (the first
   * page's resourceVersion); if the continue token expires midway, the whole
   * list fails and is retried from the start.
   */
  private async listAllPages(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    // Before any list succeeded there is nothing to go back in time from: resourceVersion 0 lets the API
    // server answer from its watch cache at once, as client-go's reflector does, where a consistent list
    // first waits until that cache has caught up with etcd (0.3 s of a restart onto 1000 labs on the
    // local plane). The watch from the list's resourceVersion brings whatever the cache had not seen yet.
    // A relist (the watch expired, a list failed midway) is a consistent read, so the cache never moves
    // back to an older state than the one it held.
    const first = this.resourceVersion === '' ? { resourceVersion: '0' } : {};
    let page: ListResult<T> | undefined;
    do {
      page = await this.client.list<T>(this.type, {
        ...this.selectors(),
        limit: this.options.listPageSize ?? WATCHER_DEFAULTS.listPageSize,
        ...(page?.continue ? { continue: page.continue } : first),
        signal,
      });
      items.push(...page.items);
    } while (page.continue);
    return { items, resourceVersion: page.resourceVersion };
  }

  /**
   * One watch, from `resourceVersion` until the stream ends, fails, goes silent or is stopped.
   * With `listing`, it is a streaming list made for that reason: it starts at the newest state
   * (`from` is ''), and its first part, up to the end bookmark, is a list (see streamed()).
   */
  private async watch(from: string, signal: AbortSignal, listing?: ListReason): Promise<WatcherState> {
    if (listing === undefined && this.watchesSinceList++ > 0) {
      this.watchRestarts++;
      this.metrics?.informerWatchRestarts.inc({ kind: this.type.kind });
    }
    const initial = listing === undefined ? undefined : new InitialEvents<T>(listing);
    const timeoutSeconds = jitteredWatchTimeout(
      this.options.watchTimeoutSeconds ?? WATCHER_DEFAULTS.watchTimeoutSeconds,
    );
    const silenceMs =
      this.options.serverSendsBookmarks === false
        ? timeoutSeconds * 1000 + SERVER_CLOSE_GRACE_MS
        : (this.options.silenceTimeoutMs ?? WATCHER_DEFAULTS.silenceTimeoutMs);
    const watchAbort = new AbortController();
    const onStop = (): void => watchAbort.abort(abortReason(signal));
    signal.addEventListener('abort', onStop, { once: true });
    const watchdog = new Watchdog(this.clock, silenceMs, () =>
      watchAbort.abort(new Error(`watch silent for ${silenceMs} ms`)),
    );

    // A streaming list starts from nothing; until its end, the position is still the last one handed on.
    if (!initial) this.resourceVersion = from;
    const openedAt = this.clock.now();
    let events = 0;
    try {
      this.log.debug('Watching', { resourceVersion: from, timeoutSeconds });
      await this.client.watch<T>(
        this.type,
        {
          ...this.selectors(),
          resourceVersion: from,
          allowWatchBookmarks: true,
          ...(initial ? { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan' as const } : {}),
          timeoutSeconds,
          signal: watchAbort.signal,
        },
        (event) => {
          watchdog.heard();
          events++;
          if (initial && !initial.done) this.streamed(initial, event);
          else this.receive(event);
        },
      );
    } catch (err) {
      if (signal.aborted) return { phase: 'Stopped' };
      if (initial && !initial.done) return this.streamFailed(initial.reason, asError(err), watchdog.fired);
      if (watchdog.fired) {
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
      watchdog.cancel();
      signal.removeEventListener('abort', onStop);
    }

    if (initial && !initial.done) {
      return this.fail(
        new Error(`streaming list ended after ${initial.objects.size} objects, before the end bookmark`),
        'list',
      );
    }
    if (events === 0 && this.clock.now() - openedAt < MIN_HEALTHY_WATCH_MS) {
      return this.fail(new Error('watch closed by the server immediately, without events'), 'watch');
    }
    this.log.debug('Watch ended; resuming', { resourceVersion: this.resourceVersion, events });
    return { phase: 'Watching', resourceVersion: this.resourceVersion };
  }

  /**
   * One event of a streaming list before its end: gathered, not handed on. At the end bookmark the
   * whole list goes on as one 'restart', and the watcher is Watching from then on (same stream).
   */
  private streamed(initial: InitialEvents<T>, event: WatchEvent<T>): void {
    const metadata = event.object.metadata;
    switch (event.type) {
      // Only ADDED is expected before the end; the others are applied so the list is right anyway.
      case 'ADDED':
      case 'MODIFIED':
        initial.objects.set(objectKey(event.object), event.object);
        return;
      case 'DELETED':
        initial.objects.delete(objectKey(event.object));
        return;
      case 'ERROR':
        return;
      case 'BOOKMARK':
        if (metadata?.annotations?.[INITIAL_EVENTS_END_ANNOTATION] !== 'true' || !metadata.resourceVersion)
          return;
    }
    const resourceVersion = metadata.resourceVersion;
    // The restart first: if onEvent throws, the list counts as failed (done stays false).
    this.onEvent({
      type: 'restart',
      objects: [...initial.objects.values()],
      resourceVersion,
      reason: initial.reason,
    });
    initial.done = true;
    initial.objects.clear();
    this.lastEventAt = new Date(this.clock.now());
    this.resourceVersion = resourceVersion;
    // This stream is the first watch after the list: a later one counts as a watch restart.
    this.watchesSinceList = 1;
    this.state = { phase: 'Watching', resourceVersion };
  }

  /**
   * A streaming list that failed before its end. A refusal (a 4xx other than 410 and 429: the server
   * does not know or allow sendInitialEvents) will not change, so lists are paginated from now on,
   * at once; anything else is a failed list, retried (as a stream) after a backoff.
   */
  private streamFailed(reason: ListReason, err: Error, silent: boolean): WatcherState {
    if (!silent && refusesStreaming(err)) {
      this.listMode = 'paginate';
      this.replacesRefusedStream = true;
      this.log.info('The API server refused a streaming list; listing in pages from now on', {
        ...errorFields(err),
      });
      return { phase: 'Listing', reason };
    }
    return this.fail(silent ? new Error('streaming list went silent before its end bookmark') : err, 'list');
  }

  /** Hands one watch event on, then moves the resourceVersion to it. */
  private receive(event: WatchEvent<T>): void {
    this.lastEventAt = new Date(this.clock.now());
    this.metrics?.informerEvents.inc({ kind: this.type.kind, type: event.type });
    if (this.tracer.enabled) this.traceEvent(event);
    // BOOKMARK carries only a resourceVersion: where to resume, even if nothing we watch changed.
    const resourceVersion = event.object.metadata?.resourceVersion;
    switch (event.type) {
      case 'ADDED':
        this.onEvent({ type: 'added', object: event.object });
        break;
      case 'MODIFIED':
        this.onEvent({ type: 'modified', object: event.object });
        break;
      case 'DELETED':
        this.onEvent({ type: 'deleted', object: event.object });
        break;
      case 'BOOKMARK':
        if (resourceVersion) this.onEvent({ type: 'bookmark', resourceVersion });
        break;
      case 'ERROR':
        // The client turns an ERROR event into the error the watch ends with; none gets here.
        break;
    }
    if (resourceVersion) this.resourceVersion = resourceVersion;
  }

  /** Before the event is handed on, so a trace reads in the order things happen: event, then what it caused. */
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

  /** Records a failure and picks the backoff before the next attempt. */
  private fail(error: Error, next: 'list' | 'watch'): WatcherState {
    const now = this.clock.now();
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
    state: Extract<WatcherState, { phase: 'Backoff' }>,
    signal: AbortSignal,
  ): Promise<WatcherState> {
    await sleep(this.clock, state.delayMs, signal);
    if (signal.aborted) return { phase: 'Stopped' };
    return state.next === 'list'
      ? { phase: 'Listing', reason: 'retry' }
      : { phase: 'Watching', resourceVersion: this.resourceVersion };
  }

  private selectors(): { namespace?: string; labelSelector?: string; fieldSelector?: string } {
    const s: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {};
    if (this.namespace) s.namespace = this.namespace;
    if (this.options.labelSelector) s.labelSelector = this.options.labelSelector;
    if (this.options.fieldSelector) s.fieldSelector = this.options.fieldSelector;
    return s;
  }
}

/**
 * Calls `onSilence` once nothing was heard for `silenceMs`. One timer per period, not one per event:
 * when it falls due early (something was heard meanwhile) it is set again for the time still left.
 */
class Watchdog {
  fired = false;
  private lastHeard: number;
  private timer: Timer;

  constructor(
    private readonly clock: Clock,
    private readonly silenceMs: number,
    private readonly onSilence: () => void,
  ) {
    this.lastHeard = clock.now();
    this.timer = clock.setTimer(() => this.check(), silenceMs);
  }

  heard(): void {
    this.lastHeard = this.clock.now();
  }

  cancel(): void {
    this.timer.cancel();
  }

  private check(): void {
    const quietFor = this.clock.now() - this.lastHeard;
    if (quietFor < this.silenceMs) {
      this.timer = this.clock.setTimer(() => this.check(), this.silenceMs - quietFor);
      return;
    }
    this.fired = true;
    this.onSilence();
  }
}

/** A streaming list in progress: what came so far, by key, and whether the end bookmark came. */
class InitialEvents<T extends KubeObject> {
  readonly objects = new Map<string, T>();
  done = false;
  constructor(readonly reason: ListReason) {}
}

/**
 * The server will not stream a list, whatever we retry: a 4xx other than 410 (our resourceVersion
 * is old: relist) and 429 (busy: back off), whether as the answer or as an ERROR event, or an
 * ERROR event that names sendInitialEvents. client-go falls back to a list on any error of a
 * watch-list (and tries the stream again on its next list); a refusal is the only error that says
 * the next attempt will fail the same way.
 */
function refusesStreaming(err: unknown): boolean {
  if (!(err instanceof ApiError) || err.status === 410 || err.status === 429 || isGone(err)) return false;
  return (err.status >= 400 && err.status < 500) || /sendInitialEvents/.test(err.message);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
