import { Writable } from 'node:stream';
import { expect } from 'chai';
import { FakeClock, formatMicroTime } from '../../src/runtime/clock.js';
import type { Client } from '../../src/runtime/client.js';
import {
  aggregationKey,
  EventRecorder,
  observeOccurrence,
  referenceTo,
  truncateUtf8,
  type EventSeries,
  type EventV1,
  type Occurrence,
} from '../../src/runtime/events.js';
import { LruMap } from '../../src/runtime/lru.js';
import { createLogger } from '../../src/runtime/logger.js';
import type { KubeObject } from '../../src/runtime/resources.js';

const MINUTE = 60_000;

const occurrence = (over: Partial<Occurrence> = {}): Occurrence => ({
  regarding: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'cm', uid: 'u1' },
  type: 'Normal',
  reason: 'Synced',
  action: 'Reconcile',
  note: 'all good',
  ...over,
});

describe('event aggregation', () => {
  it('counts the same occurrence within the window into one series', () => {
    const lru = new LruMap<string, EventSeries>(10);
    const first = observeOccurrence(lru, occurrence(), 0, 10 * MINUTE);
    const second = observeOccurrence(lru, occurrence(), 5 * MINUTE, 10 * MINUTE);
    expect(second).to.equal(first);
    expect(second.count).to.equal(2);
    expect(second.firstTime).to.equal(0);
    expect(second.lastObservedTime).to.equal(5 * MINUTE);
  });

  it('measures the window from the last occurrence, and starts a new series after a quiet window', () => {
    const lru = new LruMap<string, EventSeries>(10);
    const window = 10 * MINUTE;
    const a = observeOccurrence(lru, occurrence(), 0, window);
    observeOccurrence(lru, occurrence(), 9 * MINUTE, window);
    expect(
      observeOccurrence(lru, occurrence(), 18 * MINUTE, window),
      'still within 10 min of the last',
    ).to.equal(a);
    const b = observeOccurrence(lru, occurrence(), 28 * MINUTE + 1, window);
    expect(b).not.to.equal(a);
    expect(b.count).to.equal(1);
    expect(b.firstTime).to.equal(28 * MINUTE + 1);
  });

  it('keeps occurrences that differ in object, uid, type, reason, action or note apart', () => {
    const base = aggregationKey(occurrence());
    const variants: Partial<Occurrence>[] = [
      { regarding: { ...occurrence().regarding, name: 'other' } },
      { regarding: { ...occurrence().regarding, uid: 'u2' } },
      { type: 'Warning' },
      { reason: 'Failed' },
      { action: 'Delete' },
      { note: 'all good!' },
    ];
    for (const v of variants) expect(aggregationKey(occurrence(v)), JSON.stringify(v)).not.to.equal(base);
    // The object's resourceVersion is not part of its identity: a status write between two
    // occurrences must not split the series (the legacy client-go aggregator keys the same way).
    const newerVersion = { regarding: { ...occurrence().regarding, resourceVersion: '99' } };
    expect(aggregationKey(occurrence(newerVersion))).to.equal(base);
  });
});

describe('event fields', () => {
  it('truncates notes to 1 KiB of UTF-8 without splitting a character', () => {
    expect(truncateUtf8('short', 1024)).to.equal('short');
    const ascii = 'x'.repeat(2000);
    expect(Buffer.byteLength(truncateUtf8(ascii, 1024))).to.equal(1024);
    // 'é' is two bytes: 1023 of them would end mid-character at byte 1024.
    const accents = 'é'.repeat(1000);
    const cut = truncateUtf8(accents, 1023);
    expect(Buffer.byteLength(cut)).to.equal(1022);
    expect(cut).to.equal('é'.repeat(511));
  });

  it('refers to the object with uid and resourceVersion', () => {
    const cm: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace: 'ns', name: 'cm', uid: 'u1', resourceVersion: '42', labels: { a: 'b' } },
    };
    expect(referenceTo(cm)).to.deep.equal({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'ns',
      name: 'cm',
      uid: 'u1',
      resourceVersion: '42',
    });
  });

  it('formats MicroTime with six fractional digits', () => {
    expect(formatMicroTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).to.equal('2026-01-02T03:04:05.678000Z');
  });
});

/**
 * The recorder's write path against an in-memory stand-in for the two calls it makes (create, merge
 * patch): this proves the coalescing logic; test/integration/events.test.ts proves it against the API.
 */
describe('EventRecorder writes', () => {
  class EventSink {
    events = new Map<string, EventV1>();
    calls: string[] = [];
    gate: Promise<void> = Promise.resolve();
    failCreate = false;

    asClient(): Client {
      return {
        create: async (_t: unknown, ev: EventV1) => {
          await this.gate;
          this.calls.push('create');
          if (this.failCreate) throw new Error('boom');
          this.events.set(ev.metadata?.name as string, structuredClone(ev));
          return ev;
        },
        patch: async (_t: unknown, _ns: string, name: string, patch: Partial<EventV1>) => {
          await this.gate;
          this.calls.push('patch');
          const ev = this.events.get(name) as EventV1;
          Object.assign(ev, patch);
          return ev;
        },
      } as unknown as Client;
    }
  }

  const cm: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { namespace: 'ns', name: 'cm', uid: 'u1' },
  };
  const silent = createLogger({
    level: 'error',
    stream: new Writable({ write: (_chunk, _enc, done) => done() }),
  });

  it('creates one Event, then merges repeats arriving during the write into one series patch', async () => {
    const sink = new EventSink();
    let open!: () => void;
    sink.gate = new Promise((r) => (open = r));
    const clock = new FakeClock();
    const rec = new EventRecorder(
      sink.asClient(),
      { reportingController: 'test.io/c' },
      { clock, logger: silent },
    );
    for (let i = 0; i < 5; i++) {
      rec.event(cm, 'Normal', 'Synced', 'Reconcile', 'all good');
      clock.advance(1000);
    }
    open();
    await rec.flush();
    expect(sink.calls).to.deep.equal(['create', 'patch']);
    const [ev] = [...sink.events.values()];
    expect(ev?.series).to.deep.equal({ count: 5, lastObservedTime: formatMicroTime(clock.now() - 1000) });
    expect(ev?.reportingController).to.equal('test.io/c');
    expect(ev?.regarding.uid).to.equal('u1');
  });

  it('never throws into the caller; a failed create is retried by the next occurrence with the full count', async () => {
    const sink = new EventSink();
    sink.failCreate = true;
    const rec = new EventRecorder(sink.asClient(), { reportingController: 'test.io/c' }, { logger: silent });
    expect(() => rec.event(cm, 'Warning', 'Failed', 'Reconcile', 'x')).not.to.throw();
    expect(() =>
      rec.event(null as unknown as KubeObject, 'Warning', 'Failed', 'Reconcile', 'x'),
    ).not.to.throw();
    await rec.flush();
    sink.failCreate = false;
    rec.event(cm, 'Warning', 'Failed', 'Reconcile', 'x');
    await rec.flush();
    const [ev] = [...sink.events.values()];
    expect(ev?.series?.count).to.equal(2);
  });
});
