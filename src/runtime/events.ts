/**
 * An events.k8s.io/v1 Event recorder: what `kubectl describe` and `kubectl events` show about an object.
 *
 * Guarantees:
 * - `event()` is synchronous and never throws: writes happen in the background; a failed write is
 *   logged and counted (event_recorder_events_total{result="failed"}), never raised into a reconciler.
 * - Aggregation: the same regarding (apiVersion, kind, namespace, name, uid; not resourceVersion, which
 *   would split a series at every status write) + type + reason + action + note seen again within the window
 *   (default 10 min since it was last seen) updates the existing Event's series {count,
 *   lastObservedTime} instead of creating another Event. Occurrences arriving while a write is in
 *   flight are merged into the next write, so a burst costs two requests, not one per occurrence.
 * - Memory is bounded: the series and per-object rate limiters are kept in LRU maps.
 * - Per object, a token bucket (burst 25, then one every 5 min, as client-go's spam filter) drops the
 *   excess; dropped occurrences are counted (result="rate_limited").
 *
 * Caveats: Events are best effort. A process that exits without `flush()` loses pending writes; the API
 * server deletes Events after its --event-ttl (1 h by default), after which a repeat creates a new one.
 */
import { hostname } from 'node:os';
import { formatMicroTime, systemClock, type Clock } from './clock.js';
import { isNotFound, type Client } from './client.js';
import { createLogger, errorFields, type Logger } from './logger.js';
import { LruMap } from './lru.js';
import type { EventRecorderResult, Metrics } from './metrics.js';
import { apiVersionOf, EventsV1, type KubeObject } from './resources.js';
import { PerKeyTokenBucket } from './token-bucket.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  /** Who reports, as a qualified name (e.g. 'studylab.io/controller'); required by the API. */
  readonly reportingController: string;
  /** Which replica reports. @default `${reportingController}-${hostname}` (at most 128 characters) */
  readonly reportingInstance?: string;
  /** @default 600000 (10 min) */
  readonly aggregationWindowMs?: number;
  /** How many distinct series (and objects, for rate limiting) are remembered. @default 4096 */
  readonly maxTracked?: number;
  /** Events allowed per object in a burst. @default 25 */
  readonly perObjectBurst?: number;
  /** One more event allowed per object every this many ms. @default 300000 (5 min) */
  readonly perObjectRefillMs?: number;
}

export const EVENT_RECORDER_DEFAULTS = {
  aggregationWindowMs: 10 * 60_000,
  maxTracked: 4096,
  perObjectBurst: 25,
  perObjectRefillMs: 5 * 60_000,
} as const;

/** The API's limits (k8s.io/kubernetes/pkg/apis/core/validation). */
export const NOTE_MAX_BYTES = 1024;
const FIELD_MAX_LENGTH = 128;

/** core/v1 ObjectReference, as an Event's `regarding`. */
export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
}

/** The events.k8s.io/v1 Event fields the recorder writes. */
export interface EventV1 extends KubeObject {
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  type: EventType;
  note?: string;
  regarding: ObjectReference;
  series?: { count: number; lastObservedTime: string };
}

/** What a reconciler needs of an EventRecorder: one call, which never throws and never waits. */
export interface EventSink {
  event(regarding: KubeObject, type: EventType, reason: string, action: string, note: string): void;
}

export class EventRecorder implements EventSink {
  private readonly reportingController: string;
  private readonly reportingInstance: string;
  private readonly window: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly series: LruMap<string, EventSeries>;
  private readonly limiter: PerKeyTokenBucket;
  private readonly inFlight = new Set<Promise<void>>();
  private discarded = false;

  constructor(
    private readonly client: Client,
    options: EventRecorderOptions,
    deps: { logger?: Logger; metrics?: Metrics; clock?: Clock } = {},
  ) {
    const d = EVENT_RECORDER_DEFAULTS;
    this.reportingController = options.reportingController;
    this.reportingInstance = (
      options.reportingInstance ?? `${options.reportingController}-${hostname()}`
    ).slice(0, FIELD_MAX_LENGTH);
    this.window = options.aggregationWindowMs ?? d.aggregationWindowMs;
    this.clock = deps.clock ?? systemClock;
    this.log = (deps.logger ?? createLogger()).child({ reportingController: this.reportingController });
    this.metrics = deps.metrics;
    const maxTracked = options.maxTracked ?? d.maxTracked;
    this.series = new LruMap(maxTracked);
    this.limiter = new PerKeyTokenBucket(
      options.perObjectBurst ?? d.perObjectBurst,
      options.perObjectRefillMs ?? d.perObjectRefillMs,
      maxTracked,
    );
    this.metrics?.initEventRecorder(this.reportingController);
  }

  /**
   * Records that `action` on `regarding` happened for `reason`. Returns at once; the write is
   * asynchronous. `note` is a human-readable message, truncated to 1 KiB.
   */
  event(regarding: KubeObject, type: EventType, reason: string, action: string, note: string): void {
    if (this.discarded) return;
    try {
      const now = this.clock.now();
      const ref = referenceTo(regarding);
      if (!this.limiter.take(referenceKey(ref), now)) {
        this.count('rate_limited');
        this.log.debug('Event dropped by the per-object rate limit', { reason, object: referenceKey(ref) });
        return;
      }
      const occurrence: Occurrence = {
        regarding: ref,
        type,
        reason: reason.slice(0, FIELD_MAX_LENGTH),
        action: action.slice(0, FIELD_MAX_LENGTH),
        note: truncateUtf8(note, NOTE_MAX_BYTES),
      };
      const series = observeOccurrence(this.series, occurrence, now, this.window);
      if (!series.writing) this.startWriting(series);
    } catch (err) {
      this.count('failed');
      this.log.error('Failed to record event', { reason, ...errorFields(err) });
    }
  }

  /**
   * From now on records nothing and writes nothing more, not even what is pending: for a leader that
   * lost its Lease, whose writes could land after the next leader's.
   */
  discard(): void {
    this.discarded = true;
  }

  /** Resolves once every write started so far (and the occurrences merged into it) has finished. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private startWriting(series: EventSeries): void {
    const writing = this.writeUntilCurrent(series).finally(() => {
      series.writing = undefined;
      this.inFlight.delete(writing);
    });
    series.writing = writing;
    this.inFlight.add(writing);
  }

  /** Writes until the API server has the latest count; occurrences arriving meanwhile are picked up. */
  private async writeUntilCurrent(series: EventSeries): Promise<void> {
    while (series.written < series.count && !this.discarded) {
      const count = series.count;
      try {
        if (series.eventName) {
          await this.patchSeries(series, count);
          this.count('patched');
        } else {
          await this.create(series, count);
          this.count('created');
        }
        series.written = count;
      } catch (err) {
        if (series.eventName && isNotFound(err)) {
          // Expired by the API server's event TTL: start a new Event carrying the whole count.
          series.eventName = undefined;
          continue;
        }
        this.count('failed');
        this.log.error('Failed to write event', {
          reason: series.occurrence.reason,
          object: referenceKey(series.occurrence.regarding),
          ...errorFields(err),
        });
        // Not retried: the next occurrence tries again with the full count.
        series.written = count;
      }
    }
  }

  private async create(series: EventSeries, count: number): Promise<void> {
    const o = series.occurrence;
    const namespace = o.regarding.namespace || 'default';
    const event: EventV1 = {
      apiVersion: apiVersionOf(EventsV1),
      kind: 'Event',
      metadata: { namespace, name: eventName(o.regarding.name ?? 'object', series.firstTime) },
      eventTime: formatMicroTime(series.firstTime),
      reportingController: this.reportingController,
      reportingInstance: this.reportingInstance,
      action: o.action,
      reason: o.reason,
      type: o.type,
      note: o.note,
      regarding: o.regarding,
      // The API requires count >= 2 in a series; a single occurrence has none.
      ...(count > 1 ? { series: { count, lastObservedTime: formatMicroTime(series.lastObservedTime) } } : {}),
    };
    const created = await this.client.create<EventV1>(EventsV1, event);
    series.eventNamespace = namespace;
    series.eventName = created.metadata?.name ?? event.metadata?.name;
  }

  private async patchSeries(series: EventSeries, count: number): Promise<void> {
    const patch = { series: { count, lastObservedTime: formatMicroTime(series.lastObservedTime) } };
    await this.client.patch(EventsV1, series.eventNamespace, series.eventName as string, patch, {
      type: 'merge',
    });
  }

  private count(result: EventRecorderResult): void {
    this.metrics?.eventRecorderEvents.inc({ controller: this.reportingController, result });
  }
}

/** The fields that make two occurrences "the same event". */
export interface Occurrence {
  regarding: ObjectReference;
  type: EventType;
  reason: string;
  action: string;
  note: string;
}

/** One aggregated Event: how often it happened, and how much of that the API server knows. */
export interface EventSeries {
  occurrence: Occurrence;
  firstTime: number;
  lastObservedTime: number;
  /** Occurrences seen. */
  count: number;
  /** Occurrences the API server's Event reflects. */
  written: number;
  eventNamespace?: string;
  eventName?: string | undefined;
  writing?: Promise<void> | undefined;
}

/**
 * Counts `occurrence` into its series: the remembered one if it was last seen within `windowMs`,
 * otherwise a fresh one (which will create a new Event). Pure apart from updating `seriesByKey`.
 */
export function observeOccurrence(
  seriesByKey: LruMap<string, EventSeries>,
  occurrence: Occurrence,
  now: number,
  windowMs: number,
): EventSeries {
  const key = aggregationKey(occurrence);
  let series = seriesByKey.get(key);
  if (!series || now - series.lastObservedTime > windowMs) {
    series = { occurrence, firstTime: now, lastObservedTime: now, count: 0, written: 0 };
    seriesByKey.set(key, series);
  }
  series.count++;
  series.lastObservedTime = now;
  return series;
}

/** What makes two occurrences "the same": the object's identity (not its resourceVersion) and the event's words. */
export function aggregationKey(o: Occurrence): string {
  const r = o.regarding;
  return JSON.stringify([
    r.apiVersion,
    r.kind,
    r.namespace,
    r.name,
    r.uid,
    o.type,
    o.reason,
    o.action,
    o.note,
  ]);
}

/** An ObjectReference to `obj` (uid and resourceVersion included: they say which incarnation and version). */
export function referenceTo(obj: KubeObject): ObjectReference {
  const m = obj.metadata ?? {};
  const ref: ObjectReference = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    namespace: m.namespace,
    name: m.name,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
  };
  return Object.fromEntries(Object.entries(ref).filter(([, v]) => v !== undefined && v !== ''));
}

function referenceKey(ref: ObjectReference): string {
  return `${ref.kind ?? ''}/${ref.namespace ?? ''}/${ref.name ?? ''}/${ref.uid ?? ''}`;
}

/** At most `maxBytes` of UTF-8, cut at a character boundary. */
export function truncateUtf8(s: string, maxBytes: number): string {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= maxBytes) return s;
  let end = maxBytes;
  // Step back over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** client-go's naming: '<regarding name>.<time in hex>', plus randomness against replicas colliding. */
function eventName(regardingName: string, ms: number): string {
  const suffix = Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  // Leave room in the 253-character limit, and end the kept part on an alphanumeric character.
  const base = regardingName.slice(0, 200).replace(/[^a-z0-9]+$/, '');
  return `${base || 'object'}.${(ms * 1000).toString(16)}${suffix}`;
}
