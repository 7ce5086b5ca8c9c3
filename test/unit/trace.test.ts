import { Writable } from 'node:stream';
import { expect } from 'chai';
import { Controller } from '../../src/runtime/controller.js';
import type { Source } from '../../src/runtime/sources.js';
import type { HandlerEvent } from '../../src/runtime/handlers.js';
import type { WatchEvent } from '../../src/runtime/client.js';
import { Informer } from '../../src/runtime/informer.js';
import { createLogger, type LoggerOptions } from '../../src/runtime/logger.js';
import type { Reconciler, Request } from '../../src/runtime/reconcile.js';
import { ConfigMaps, type KubeObject } from '../../src/runtime/resources.js';
import { Store } from '../../src/runtime/store.js';
import {
  currentTrace,
  parseTraceFilter,
  Tracer,
  untraced,
  type TraceFilter,
} from '../../src/runtime/trace.js';
import type { ListerWatcher } from '../../src/runtime/watcher.js';
import { exponentialFailureRateLimiter } from '../../src/runtime/rate-limiter.js';

/** A logger writing into an array of raw lines. */
function capture(options: Omit<LoggerOptions, 'stream'> = {}): {
  logger: ReturnType<typeof createLogger>;
  lines: string[];
} {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ ...options, stream }), lines };
}

/** A Source the test drives by hand, passing the event and object like an informer source does. */
class ManualSource implements Source {
  enqueue: ((req: Request, event?: HandlerEvent, obj?: KubeObject) => void) | undefined;
  dropped: ((event: HandlerEvent, obj: KubeObject) => void) | undefined;
  start(
    enqueue: (req: Request, event?: HandlerEvent, obj?: KubeObject) => void,
    _signal: AbortSignal,
    dropped?: (event: HandlerEvent, obj: KubeObject) => void,
  ): void {
    this.enqueue = enqueue;
    this.dropped = dropped;
  }
  waitForSync(): Promise<void> {
    return Promise.resolve();
  }
}

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

const lab = (name: string): KubeObject => ({
  apiVersion: 'studylab.io/v1alpha1',
  kind: 'StudyLab',
  metadata: { namespace: 'ns', name, resourceVersion: '7' },
});

/** A controller whose reconciler reads a Store and fails the first call for 'ns/flaky'. */
function tracedController(filter: TraceFilter | undefined): {
  source: ManualSource;
  entries: () => Record<string, unknown>[];
  calls: string[];
  stop: () => Promise<void>;
} {
  const { logger, lines } = capture();
  const tracer = filter ? new Tracer(logger, filter) : Tracer.off;
  const store = new Store<KubeObject>({}, { kind: 'StudyLab' });
  store.upsert(lab('web'));
  const calls: string[] = [];
  let failed = false;
  const reconciler: Reconciler = {
    reconcile(req, ctx) {
      calls.push(req.name);
      store.getByName(req.namespace, req.name);
      if (ctx.trace?.enabled) ctx.trace.step('diff', { kind: 'Deployment', apply: false, reason: 'in-sync' });
      if (req.name === 'flaky' && !failed) {
        failed = true;
        return Promise.reject(new Error('boom'));
      }
      return Promise.resolve(req.name === 'later' ? { requeueAfterMs: 60_000 } : {});
    },
  };
  const source = new ManualSource();
  const controller = new Controller(
    'test',
    reconciler,
    [source],
    { rateLimiter: exponentialFailureRateLimiter(5, 1000) },
    { logger, tracer },
  );
  const stop = new AbortController();
  const running = controller.start(stop.signal);
  return {
    source,
    calls,
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: async () => {
      stop.abort();
      await running;
    },
  };
}

describe('trace', function () {
  describe('parseTraceFilter', function () {
    it('is off for an empty value, everything for * or all, else a set of keys', function () {
      expect(parseTraceFilter('')).to.equal(undefined);
      expect(parseTraceFilter('*')).to.deep.equal({ all: true });
      expect(parseTraceFilter('all')).to.deep.equal({ all: true });
      expect(parseTraceFilter('team-a/web, team-b/db')).to.deep.equal({
        keys: new Set(['team-a/web', 'team-b/db']),
      });
    });

    it('refuses what is not namespace/name', function () {
      expect(() => parseTraceFilter('team-a/')).to.throw(RangeError, /namespace\/name/);
      expect(() => parseTraceFilter('a/b/c')).to.throw(RangeError);
      expect(() => parseTraceFilter('Team/Web')).to.throw(RangeError);
    });
  });

  describe('Tracer', function () {
    it('traces only the keys asked for; the off tracer traces nothing', function () {
      const { logger } = capture();
      const one = new Tracer(logger, { keys: new Set(['ns/web']) });
      expect(one.traces('ns/web')).to.equal(true);
      expect(one.traces('ns/db')).to.equal(false);
      expect(one.traces(), 'key-less steps (lists, bookmarks) only when tracing everything').to.equal(false);
      const all = new Tracer(logger, { all: true });
      expect(all.traces('ns/db') && all.traces()).to.equal(true);
      expect(Tracer.off.enabled || Tracer.off.traces('ns/web') || Tracer.off.traces()).to.equal(false);
    });

    it('makes a traced reconcile the current trace for the code it calls, and only inside it', async function () {
      const { logger } = capture();
      const tracer = new Tracer(logger, { all: true });
      const trace = tracer.forReconcile('ns/web', logger);
      const seen = await tracer.run(trace, async () => {
        await new Promise((r) => setImmediate(r));
        return currentTrace();
      });
      expect(seen).to.equal(trace);
      expect(currentTrace()).to.equal(undefined);
      const escaped = tracer.run(trace, () => untraced(() => currentTrace()));
      expect(escaped, 'untraced leaves the context').to.equal(undefined);
      const other = new Tracer(logger, { keys: new Set(['ns/other']) }).forReconcile('ns/web', logger);
      expect(other.enabled).to.equal(false);
    });
  });

  describe('through a controller', function () {
    it('logs enqueue, dequeue, cache read, diff and result of one loop under one reconcileID', async function () {
      const h = tracedController({ keys: new Set(['ns/web']) });
      h.source.enqueue?.({ namespace: 'ns', name: 'web' }, 'add', lab('web'));
      h.source.enqueue?.({ namespace: 'ns', name: 'db' }, 'add', lab('db'));
      await until(() => h.calls.length === 2, 'both reconciled');
      await until(() => h.entries().some((e) => e.trace === 'result'), 'result traced');
      await h.stop();

      const steps = h.entries().filter((e) => e.trace !== undefined);
      expect(steps.map((e) => e.trace)).to.deep.equal(['enqueue', 'dequeue', 'cache', 'diff', 'result']);
      expect(
        steps.every((e) => e.key === 'ns/web' && e.level === 'info'),
        'ns/db is not traced',
      ).to.equal(true);
      const [enqueue, dequeue, cache, , result] = steps;
      expect(enqueue).to.include({ event: 'add', kind: 'StudyLab', queue: 'added', controller: 'test' });
      expect(enqueue?.reconcileID, 'enqueued before any reconcile').to.equal(undefined);
      const id = dequeue?.reconcileID;
      expect(id).to.be.a('string').with.length(8);
      expect(steps.slice(1).every((e) => e.reconcileID === id)).to.equal(true);
      expect(dequeue?.waitedMs).to.be.a('number');
      expect(cache).to.include({ kind: 'StudyLab', object: 'ns/web', found: true, resourceVersion: '7' });
      expect(result).to.include({ outcome: 'done' });
    });

    it('says when a reconcile is retried with backoff, and when it is requeued after a delay', async function () {
      const h = tracedController({ all: true });
      h.source.enqueue?.({ namespace: 'ns', name: 'flaky' }, 'update', lab('flaky'));
      h.source.enqueue?.({ namespace: 'ns', name: 'later' }, 'update', lab('later'));
      await until(() => h.calls.filter((c) => c === 'flaky').length === 2, 'flaky retried');
      await until(() => h.entries().filter((e) => e.trace === 'result').length === 3, 'three results');
      await h.stop();

      const results = h.entries().filter((e) => e.trace === 'result');
      const flaky = results.filter((e) => e.key === 'ns/flaky');
      expect(flaky[0]).to.include({ outcome: 'retry with backoff', backoffMs: 5, error: 'boom' });
      expect(flaky[1]).to.include({ outcome: 'done' });
      expect(results.find((e) => e.key === 'ns/later')).to.include({
        outcome: 'requeue after',
        requeueAfterMs: 60_000,
      });
      const dequeues = h.entries().filter((e) => e.trace === 'dequeue' && e.key === 'ns/flaky');
      expect(
        dequeues.map((e) => e.retries),
        'the retry knows it is one',
      ).to.deep.equal([0, 1]);
    });

    it('shows events a predicate dropped', async function () {
      const h = tracedController({ all: true });
      h.source.dropped?.('update', lab('web'));
      h.source.enqueue?.({ namespace: 'ns', name: 'web' }, 'update', lab('web'));
      await until(() => h.entries().some((e) => e.trace === 'result'), 'reconciled');
      await h.stop();
      const steps = h.entries().filter((e) => e.trace !== undefined);
      expect(steps[0]).to.include({ trace: 'filtered', key: 'ns/web', event: 'update', kind: 'StudyLab' });
      expect(steps.map((e) => e.trace)).to.deep.equal([
        'filtered',
        'enqueue',
        'dequeue',
        'cache',
        'diff',
        'result',
      ]);
    });

    it('logs nothing and gives reconciles a disabled trace when off', async function () {
      const h = tracedController(undefined);
      h.source.enqueue?.({ namespace: 'ns', name: 'web' }, 'add', lab('web'));
      await until(() => h.calls.length === 1, 'reconciled');
      await h.stop();
      expect(h.entries().filter((e) => e.trace !== undefined)).to.deep.equal([]);
      expect(h.source.dropped, 'no predicate callback is even installed').to.equal(undefined);
    });
  });

  describe('through an informer', function () {
    /** Lists one object, then one watch with the given events, then stays quiet until stopped. */
    const api = (events: WatchEvent<KubeObject>[]): ListerWatcher => {
      let watches = 0;
      return {
        list: <T extends KubeObject>() =>
          Promise.resolve({
            items: [{ metadata: { namespace: 'ns', name: 'a', resourceVersion: '1' } } as T],
            resourceVersion: '10',
          }),
        watch: async <T extends KubeObject>(
          _t: unknown,
          opts: { signal: AbortSignal },
          onEvent: (e: WatchEvent<T>) => void | Promise<void>,
        ) => {
          if (watches++ === 0) {
            for (const e of events) await onEvent(e as WatchEvent<T>);
            await new Promise((r) => setTimeout(r, 1100));
          }
          await new Promise((_r, reject) =>
            opts.signal.addEventListener('abort', () => reject(opts.signal.reason as Error)),
          );
        },
      };
    };
    const cm = (name: string, rv: string): KubeObject => ({
      kind: 'ConfigMap',
      metadata: { namespace: 'ns', name, resourceVersion: rv },
    });
    const events: WatchEvent<KubeObject>[] = [
      { type: 'ADDED', object: cm('b', '11') },
      { type: 'MODIFIED', object: cm('a', '12') },
      { type: 'BOOKMARK', object: { kind: 'ConfigMap', metadata: { resourceVersion: '20' } } },
    ];

    async function traced(filter: TraceFilter): Promise<Record<string, unknown>[]> {
      const { logger, lines } = capture();
      const informer = new Informer(
        api(events),
        ConfigMaps,
        {},
        { logger, tracer: new Tracer(logger, filter) },
      );
      const stop = new AbortController();
      informer.start(stop.signal);
      await until(() => informer.stats().resourceVersion === '20', 'bookmark applied');
      stop.abort();
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.trace !== undefined);
    }

    it('traces the list, every watch event and bookmarks when tracing everything', async function () {
      const steps = await traced({ all: true });
      expect(steps.map((e) => [e.trace, e.key, e.type, e.resourceVersion])).to.deep.equal([
        ['list', undefined, undefined, '10'],
        ['watch', 'ns/b', 'ADDED', '11'],
        ['watch', 'ns/a', 'MODIFIED', '12'],
        ['bookmark', undefined, undefined, '20'],
      ]);
      expect(steps[0]).to.include({ kind: 'ConfigMap', reason: 'initial', objects: 1 });
    });

    it('traces only the events of the keys asked for', async function () {
      const steps = await traced({ keys: new Set(['ns/a']) });
      expect(steps.map((e) => [e.trace, e.key, e.type])).to.deep.equal([['watch', 'ns/a', 'MODIFIED']]);
    });
  });

  describe('pretty format', function () {
    it('renders a step as one aligned line: step, key, reconcileID, then the fields', function () {
      const { logger, lines } = capture({ format: 'pretty' });
      const log = logger.child({
        controller: 'studylab',
        namespace: 'team-a',
        name: 'web',
        reconcileID: '7f3a9c01',
      });
      new Tracer(logger, { all: true }).forReconcile('team-a/web', log).step('api', {
        verb: 'APPLY',
        kind: 'Deployment',
        code: '201',
        durationMs: 12,
      });
      new Tracer(logger, { all: true }).step('watch', 'team-a/web', { kind: 'StudyLab', type: 'ADDED' });
      expect(lines[0]).to.match(
        /^\S+Z TRACE api {6}team-a\/web {10}7f3a9c01 {2}verb=APPLY {2}kind=Deployment {2}code=201 {2}durationMs=12$/,
      );
      expect(lines[1]).to.match(/^\S+Z TRACE watch {4}team-a\/web {10}- {9}kind=StudyLab {2}type=ADDED$/);
    });
  });
});
