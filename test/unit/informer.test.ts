/**
 * The informer's pure parts (backoff math, jitter, transform) and its state
 * machine, driven by a scripted list/watch source so each transition can be
 * asserted exactly. The real API server is in test/integration/informer.test.ts.
 */
import { Writable } from 'node:stream';
import { expect } from 'chai';
import {
  ApiError,
  type ListOptions,
  type ListResult,
  type WatchEvent,
  type WatchOptions,
} from '../../src/runtime/client.js';
import { FakeClock, type Clock } from '../../src/runtime/clock.js';
import {
  dropManagedFields,
  Informer,
  InformerFactory,
  type InformerOptions,
} from '../../src/runtime/informer.js';
import { createLogger, type Logger } from '../../src/runtime/logger.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { ConfigMaps, Namespaces, type KubeObject } from '../../src/runtime/resources.js';
import { reflector } from '../../src/runtime/reflector.js';
import { Store } from '../../src/runtime/store.js';
import {
  jitteredWatchTimeout,
  Watcher,
  type ListerWatcher,
  type WatcherOptions,
} from '../../src/runtime/watcher.js';
import { eventually } from '../support/cluster.js';

const until = (check: () => void): Promise<void> =>
  eventually(() => Promise.resolve().then(check), { timeoutMs: 5_000, intervalMs: 5 });

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
  transformed?: boolean;
}

function cm(name: string, rv: string, data: Record<string, string> = {}): ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { namespace: 'ns', name, resourceVersion: rv },
    data,
  };
}

function gone(): ApiError {
  return new ApiError('too old resource version', {
    status: 410,
    reason: 'Expired',
    body: { kind: 'Status', code: 410, reason: 'Expired' },
    method: 'GET',
    path: '/api/v1/configmaps',
  });
}

type WatchScript = (
  emit: (e: WatchEvent<KubeObject>) => Promise<void>,
  opts: WatchOptions,
) => Promise<void> | void;

/**
 * A list/watch source that plays scripted answers in order and records every
 * call. Once a script runs out, a watch stays open until aborted (like a quiet
 * server) and a list never answers.
 */
class ScriptedApi implements ListerWatcher {
  readonly listCalls: ListOptions[] = [];
  readonly watchCalls: WatchOptions[] = [];
  private readonly lists: (ListResult<KubeObject> | Error)[] = [];
  private readonly watches: WatchScript[] = [];

  onList(...answers: (ListResult<KubeObject> | Error)[]): this {
    this.lists.push(...answers);
    return this;
  }

  onWatch(...scripts: WatchScript[]): this {
    this.watches.push(...scripts);
    return this;
  }

  list<T extends KubeObject>(_t: unknown, opts: ListOptions = {}): Promise<ListResult<T>> {
    this.listCalls.push(opts);
    const answer = this.lists.shift();
    if (answer === undefined) return untilAborted(opts.signal);
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer as ListResult<T>);
  }

  async watch<T extends KubeObject>(
    _t: unknown,
    opts: WatchOptions,
    onEvent: (e: WatchEvent<T>) => void | Promise<void>,
  ): Promise<void> {
    this.watchCalls.push(opts);
    const script = this.watches.shift();
    if (script) {
      await script(async (e) => onEvent(e as WatchEvent<T>), opts);
      return;
    }
    await untilAborted(opts.signal);
  }
}

/** Never resolves; rejects with the signal's reason once it aborts (as the real client does). */
function untilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_resolve, reject) => {
    const abort = (): void => reject(signal?.reason as Error);
    if (signal?.aborted) abort();
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** A watch script: emits the events, then ends with `end` (undefined = the server closed the stream). */
function stream(events: WatchEvent<KubeObject>[], end?: Error, opts: { holdMs?: number } = {}): WatchScript {
  return async (emit) => {
    for (const e of events) await emit(e);
    // A stream that ends at once without events counts as a failure; hold it open a little when that matters.
    if (opts.holdMs) await new Promise((r) => setTimeout(r, opts.holdMs));
    if (end) throw end;
  };
}

function recorder(): { calls: string[]; handler: Parameters<Informer['addEventHandler']>[0] } {
  const calls: string[] = [];
  const rv = (o: KubeObject): string => o.metadata?.resourceVersion ?? '';
  return {
    calls,
    handler: {
      onAdd: (o) => calls.push(`add ${o.metadata?.name}@${rv(o)}`),
      onUpdate: (a, b) => calls.push(`update ${b.metadata?.name}@${rv(a)}->${rv(b)}`),
      onDelete: (o) => calls.push(`delete ${o.metadata?.name}@${rv(o)}`),
    },
  };
}

function quietLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', stream }), lines };
}

describe('informer: pure parts', function () {
  describe('jitteredWatchTimeout', function () {
    it('spreads watch timeouts over [base, 2 base)', function () {
      expect(jitteredWatchTimeout(300, () => 0)).to.equal(300);
      expect(jitteredWatchTimeout(300, () => 0.5)).to.equal(450);
      expect(jitteredWatchTimeout(300, () => 0.999999)).to.equal(599);
    });
  });

  describe('dropManagedFields', function () {
    it('drops metadata.managedFields without touching its input', function () {
      const input: ConfigMap = {
        metadata: {
          name: 'a',
          managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
          labels: { x: 'y' },
        },
        data: { k: 'v' },
      };
      const before = structuredClone(input);
      const out = dropManagedFields(input);
      expect(out.metadata).to.deep.equal({ name: 'a', labels: { x: 'y' } });
      expect(out.data).to.deep.equal({ k: 'v' });
      expect(input).to.deep.equal(before);
    });

    it('returns the same object when there is nothing to drop', function () {
      const input = cm('a', '1');
      expect(dropManagedFields(input)).to.equal(input);
    });
  });
});

describe('informer: state machine (scripted list/watch)', function () {
  const stops: AbortController[] = [];
  afterEach(function () {
    for (const s of stops.splice(0)) s.abort();
  });

  function start(
    api: ScriptedApi,
    options: InformerOptions<ConfigMap> = {},
    deps: { metrics?: Metrics; logger?: Logger } = {},
  ): { informer: Informer<ConfigMap>; calls: string[]; stop: AbortController } {
    const informer = new Informer<ConfigMap>(
      api,
      ConfigMaps,
      { backoff: { initialMs: 1, maxMs: 4 }, ...options },
      { logger: deps.logger ?? quietLogger().logger, ...(deps.metrics ? { metrics: deps.metrics } : {}) },
    );
    const { calls, handler } = recorder();
    informer.addEventHandler(handler);
    const stop = new AbortController();
    stops.push(stop);
    informer.start(stop.signal);
    return { informer, calls, stop };
  }

  it('lists every page, reports adds, syncs, then watches from the list resourceVersion with bookmarks', async function () {
    const api = new ScriptedApi().onList(
      { items: [cm('a', '1')], resourceVersion: '10', continue: 'page-2' },
      { items: [cm('b', '2')], resourceVersion: '10' },
    );
    const { informer, calls } = start(api, {
      namespace: 'ns',
      labelSelector: 'app=web',
      fieldSelector: 'metadata.name!=x',
      listPageSize: 1,
      watchTimeoutSeconds: 60,
    });
    await informer.waitForSync();

    expect(calls).to.deep.equal(['add a@1', 'add b@2']);
    expect(api.listCalls.map((c) => c.continue)).to.deep.equal([undefined, 'page-2']);
    // The next page's snapshot is in its continue token, not in a resourceVersion.
    expect(api.listCalls.map((c) => c.resourceVersion)).to.deep.equal(['0', undefined]);
    expect(api.listCalls[0]).to.include({ namespace: 'ns', labelSelector: 'app=web', limit: 1 });
    await until(() => expect(api.watchCalls).to.have.length(1));
    const watch = api.watchCalls[0];
    expect(watch).to.include({
      namespace: 'ns',
      labelSelector: 'app=web',
      fieldSelector: 'metadata.name!=x',
      resourceVersion: '10',
      allowWatchBookmarks: true,
    });
    expect(watch?.timeoutSeconds).to.be.within(60, 119);
    expect(informer.stats()).to.include({
      synced: true,
      state: 'Watching',
      resourceVersion: '10',
      objects: 2,
    });
  });

  it('applies watch events in order; bookmarks move the resourceVersion the next watch starts from', async function () {
    const api = new ScriptedApi().onList({ items: [cm('a', '1')], resourceVersion: '10' }).onWatch(
      stream([
        { type: 'ADDED', object: cm('b', '11') },
        { type: 'MODIFIED', object: cm('a', '12', { v: '2' }) },
        { type: 'DELETED', object: cm('b', '13') },
        { type: 'BOOKMARK', object: { kind: 'ConfigMap', metadata: { resourceVersion: '20' } } },
      ]),
    );
    const { informer, calls } = start(api);

    await until(() => expect(api.watchCalls).to.have.length(2));
    expect(calls).to.deep.equal(['add a@1', 'add b@11', 'update a@1->12', 'delete b@13']);
    expect(api.watchCalls[1]?.resourceVersion).to.equal('20');
    expect(informer.store.keys()).to.deep.equal(['ns/a']);
    expect(informer.store.get('ns/a')?.data).to.deep.equal({ v: '2' });
    expect(informer.stats()).to.include({ watchRestarts: 1, relists: 0, consecutiveFailures: 0 });
  });

  it("marks the first list's adds as the initial list (and a late handler's replay), and no later add", async function () {
    const api = new ScriptedApi()
      .onList({ items: [cm('a', '1')], resourceVersion: '10' })
      .onWatch(stream([{ type: 'ADDED', object: cm('b', '11') }]));
    const { informer } = start(api);
    const flags: string[] = [];
    informer.addEventHandler({ onAdd: (o, initial) => flags.push(`${o.metadata?.name} ${initial}`) });
    await until(() => expect(flags).to.include('b false'));
    const late: string[] = [];
    informer.addEventHandler({ onAdd: (o, initial) => late.push(`${o.metadata?.name} ${initial}`) });
    expect(flags).to.deep.equal(['a true', 'b false']);
    expect(late.sort()).to.deep.equal(['a true', 'b true']);
  });

  it('on 410 Gone relists and reports exactly what changed meanwhile (by resourceVersion)', async function () {
    const metrics = new Metrics();
    const api = new ScriptedApi()
      .onList(
        { items: [cm('keep', '1'), cm('change', '2'), cm('remove', '3')], resourceVersion: '10' },
        { items: [cm('keep', '1'), cm('change', '15'), cm('new', '16')], resourceVersion: '20' },
      )
      .onWatch(stream([{ type: 'MODIFIED', object: cm('keep', '1') }], gone()));
    const { informer, calls } = start(api, {}, { metrics });
    await informer.waitForSync();

    await until(() => expect(api.watchCalls).to.have.length(2));
    expect(calls.slice(3)).to.deep.equal([
      'update keep@1->1',
      'add new@16',
      'update change@2->15',
      'delete remove@3',
    ]);
    expect(api.listCalls).to.have.length(2);
    expect(api.watchCalls[1]?.resourceVersion).to.equal('20');
    expect(informer.store.keys().sort()).to.deep.equal(['ns/change', 'ns/keep', 'ns/new']);
    expect(informer.stats()).to.include({ relists: 1, resourceVersion: '20' });
    const relists = await metrics.informerRelists.get();
    expect(relists.values.find((v) => v.labels.kind === 'ConfigMap')?.value).to.equal(1);
  });

  it('backs off before relisting when the version a fresh list returned is already gone', async function () {
    const { logger, lines } = quietLogger();
    const api = new ScriptedApi()
      .onList({ items: [], resourceVersion: '10' }, { items: [], resourceVersion: '11' })
      .onWatch(stream([], gone()));
    const { informer } = start(api, {}, { logger });

    await until(() => expect(api.listCalls).to.have.length(2));
    expect(lines.some((l) => l.msg === 'List failed; retrying' && l.attempt === 1)).to.equal(true);
    expect(informer.stats().relists).to.equal(1);
  });

  it('on any other watch error backs off and resumes watching from the last resourceVersion, without relisting', async function () {
    const { logger, lines } = quietLogger();
    const api = new ScriptedApi()
      .onList({ items: [], resourceVersion: '10' })
      .onWatch(
        stream([{ type: 'ADDED', object: cm('a', '11') }], new Error('ECONNRESET')),
        stream([], new Error('ECONNREFUSED')),
      );
    const { informer } = start(api, {}, { logger });

    await until(() => expect(api.watchCalls).to.have.length(3));
    expect(api.watchCalls.map((w) => w.resourceVersion)).to.deep.equal(['10', '11', '11']);
    expect(api.listCalls).to.have.length(1);
    const warnings = lines.filter((l) => l.msg === 'Watch failed; reconnecting');
    expect(warnings.map((l) => [l.attempt, l.error])).to.deep.equal([
      [1, 'ECONNRESET'],
      [2, 'ECONNREFUSED'],
    ]);
    expect(informer.stats()).to.include({ consecutiveFailures: 2, lastError: 'ECONNREFUSED' });
  });

  it('retries a failed list forever with backoff, and is not synced until one succeeds', async function () {
    const api = new ScriptedApi().onList(
      new Error('connect ECONNREFUSED'),
      new Error('connect ECONNREFUSED'),
      new Error('503'),
      { items: [cm('a', '1')], resourceVersion: '5' },
    );
    const { informer, calls } = start(api);
    await informer.waitForSync();
    expect(api.listCalls).to.have.length(4);
    expect(calls).to.deep.equal(['add a@1']);
    expect(informer.stats()).to.include({ consecutiveFailures: 3, relists: 3, synced: true });
  });

  it('treats a stream the server closes at once, without events, as a failure (no hot loop)', async function () {
    const api = new ScriptedApi().onList({ items: [], resourceVersion: '1' }).onWatch(stream([]));
    const { informer } = start(api);
    await until(() => expect(api.watchCalls).to.have.length(2));
    expect(informer.stats().consecutiveFailures).to.equal(1);
  });

  it('resumes at once, not as a failure, when a healthy stream ends (server timeout)', async function () {
    const api = new ScriptedApi()
      .onList({ items: [], resourceVersion: '1' })
      .onWatch(stream([], undefined, { holdMs: 1_100 }));
    const { informer } = start(api);
    await until(() => expect(api.watchCalls).to.have.length(2));
    expect(informer.stats()).to.include({ consecutiveFailures: 0, watchRestarts: 1 });
  });

  it('the watchdog aborts a silent watch and opens a new one from the same resourceVersion', async function () {
    const metrics = new Metrics();
    const api = new ScriptedApi().onList({ items: [], resourceVersion: '7' });
    const { informer } = start(api, { silenceTimeoutMs: 30 }, { metrics });
    await until(() => expect(api.watchCalls.length).to.be.at.least(2));
    expect(api.watchCalls[0]?.signal.aborted, 'the silent watch was aborted').to.equal(true);
    expect(api.watchCalls[1]?.resourceVersion).to.equal('7');
    expect(informer.stats().relists).to.equal(0);
    const restarts = await metrics.informerWatchRestarts.get();
    expect(restarts.values.find((v) => v.labels.kind === 'ConfigMap')?.value).to.be.at.least(1);
  });

  it('catches handler errors (thrown or rejected), logs and counts them, and still calls the other handlers', async function () {
    const metrics = new Metrics();
    const { logger, lines } = quietLogger();
    const api = new ScriptedApi()
      .onList({ items: [cm('a', '1')], resourceVersion: '1' })
      .onWatch(stream([{ type: 'ADDED', object: cm('b', '2') }]));
    const informer = new Informer(api, ConfigMaps, {}, { logger, metrics });
    informer.addEventHandler({
      onAdd: () => {
        throw new Error('sync bug');
      },
    });
    informer.addEventHandler({ onAdd: () => Promise.reject(new Error('async bug')) as unknown as void });
    const { calls, handler } = recorder();
    informer.addEventHandler(handler);
    const stop = new AbortController();
    stops.push(stop);
    informer.start(stop.signal);

    await until(() => expect(calls).to.deep.equal(['add a@1', 'add b@2']));
    await until(() =>
      expect(lines.filter((l) => l.msg === 'Informer event handler failed')).to.have.length(4),
    );
    expect(new Set(lines.map((l) => l.error).filter(Boolean))).to.deep.equal(
      new Set(['sync bug', 'async bug']),
    );
    const errors = await metrics.informerHandlerErrors.get();
    expect(errors.values.find((v) => v.labels.kind === 'ConfigMap')?.value).to.equal(4);
    expect(informer.stats().state).to.equal('Watching');
  });

  it('skips (and reports) an object whose transform throws, keeping the rest', async function () {
    const { logger, lines } = quietLogger();
    const api = new ScriptedApi().onList({ items: [cm('good', '1'), cm('bad', '2')], resourceVersion: '3' });
    const { informer } = start(
      api,
      {
        transform: (o) => {
          if (o.metadata?.name === 'bad') throw new Error('cannot transform');
          return { ...o, transformed: true };
        },
      },
      { logger },
    );
    await informer.waitForSync();
    expect(informer.store.keys()).to.deep.equal(['ns/good']);
    expect(informer.store.get('ns/good')?.transformed).to.equal(true);
    expect(
      lines.some((l) => String(l.msg).startsWith('Object could not be cached') && l.name === 'bad'),
    ).to.equal(true);
  });

  it('drops managedFields by default', async function () {
    const withFields = {
      ...cm('a', '1'),
      metadata: { ...cm('a', '1').metadata, managedFields: [{ manager: 'm' }] },
    };
    const api = new ScriptedApi().onList({ items: [withFields], resourceVersion: '1' });
    const { informer } = start(api);
    await informer.waitForSync();
    expect(informer.store.get('ns/a')?.metadata?.managedFields).to.equal(undefined);
  });

  it('gives a late handler an add for every cached object', async function () {
    const api = new ScriptedApi().onList({ items: [cm('a', '1'), cm('b', '2')], resourceVersion: '3' });
    const { informer } = start(api);
    await informer.waitForSync();
    const late = recorder();
    informer.addEventHandler(late.handler);
    expect(late.calls.sort()).to.deep.equal(['add a@1', 'add b@2']);
  });

  it('resyncs: onUpdate(obj, obj) for every cached object each period', async function () {
    const api = new ScriptedApi().onList({ items: [cm('a', '1')], resourceVersion: '1' });
    const { calls } = start(api, { resyncPeriodMs: 20 });
    await until(() => expect(calls.filter((c) => c === 'update a@1->1').length).to.be.at.least(2));
  });

  it('waitForSync rejects when its signal aborts, and when the informer stops before syncing', async function () {
    const api = new ScriptedApi(); // the list never answers
    const { informer, stop } = start(api);
    const waiter = new AbortController();
    const waiting = informer.waitForSync(waiter.signal).catch((e: unknown) => e);
    waiter.abort();
    expect(((await waiting) as Error).name).to.equal('AbortError');

    const second = informer.waitForSync().catch((e: unknown) => e);
    stop.abort();
    expect(((await second) as Error).message).to.match(/stopped before it synced/);
    await until(() => expect(informer.stats().state).to.equal('Stopped'));
    expect(informer.hasSynced()).to.equal(false);
  });

  it('stops watching when its signal aborts', async function () {
    const api = new ScriptedApi().onList({ items: [], resourceVersion: '1' });
    const { informer, stop } = start(api);
    await until(() => expect(api.watchCalls).to.have.length(1));
    stop.abort();
    await until(() => expect(informer.stats().state).to.equal('Stopped'));
    expect(api.watchCalls[0]?.signal.aborted).to.equal(true);
    expect(() => informer.start(new AbortController().signal)).to.throw(/already started/);
  });
});

describe('InformerFactory', function () {
  it('shares one informer per kind, namespace and selectors', function () {
    const factory = new InformerFactory(new ScriptedApi(), { logger: quietLogger().logger });
    const a = factory.informerFor(ConfigMaps, { namespace: 'x' });
    expect(factory.informerFor(ConfigMaps, { namespace: 'x' })).to.equal(a);
    expect(factory.informerFor(ConfigMaps, { namespace: 'y' })).to.not.equal(a);
    expect(factory.informerFor(ConfigMaps, { namespace: 'x', labelSelector: 'a=b' })).to.not.equal(a);
    // A namespace means nothing to a cluster-scoped kind.
    expect(factory.informerFor(Namespaces, { namespace: 'x' })).to.equal(factory.informerFor(Namespaces));
    expect(factory.informers()).to.have.length(4);
  });

  it('starts informers created before and after start(), and waits for all to sync', async function () {
    const api = new ScriptedApi().onList(
      { items: [], resourceVersion: '1' },
      { items: [], resourceVersion: '2' },
    );
    const factory = new InformerFactory(api, { logger: quietLogger().logger });
    const early = factory.informerFor(ConfigMaps);
    const stop = new AbortController();
    factory.start(stop.signal);
    const late = factory.informerFor(Namespaces);
    try {
      await factory.waitForSync();
      expect(early.hasSynced()).to.equal(true);
      expect(late.hasSynced()).to.equal(true);
    } finally {
      stop.abort();
    }
  });
});

describe('watcher alone (no Store, no handlers)', function () {
  const stops: AbortController[] = [];
  afterEach(function () {
    for (const s of stops.splice(0)) s.abort();
  });

  function run(
    api: ScriptedApi,
    options: WatcherOptions = {},
    clock: Clock = new FakeClock(),
  ): { watcher: Watcher<ConfigMap>; events: string[]; done: Promise<void>; stop: AbortController } {
    const watcher = new Watcher<ConfigMap>(api, ConfigMaps, options, { logger: quietLogger().logger, clock });
    const events: string[] = [];
    const stop = new AbortController();
    stops.push(stop);
    const done = watcher.run(stop.signal, (e) => {
      if (e.type === 'restart')
        events.push(`restart@${e.resourceVersion} ${e.objects.map((o) => o.metadata?.name).join(',')}`);
      else if (e.type === 'bookmark') events.push(`bookmark@${e.resourceVersion}`);
      else events.push(`${e.type} ${e.object.metadata?.name}@${e.object.metadata?.resourceVersion}`);
    });
    return { watcher, events, done, stop };
  }

  /** Lets every promise callback already due run, so a step the clock allowed has happened. */
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('yields the list as one restart, then the watch events in order, and resumes from the last bookmark', async function () {
    const api = new ScriptedApi()
      .onList({ items: [cm('a', '1'), cm('b', '2')], resourceVersion: '10' })
      .onWatch(
        stream([
          { type: 'ADDED', object: cm('c', '11') },
          { type: 'MODIFIED', object: cm('a', '12') },
          { type: 'DELETED', object: cm('b', '13') },
          { type: 'BOOKMARK', object: { kind: 'ConfigMap', metadata: { resourceVersion: '20' } } },
        ]),
      );
    const { watcher, events, done, stop } = run(api);

    await until(() => expect(api.watchCalls).to.have.length(2));
    expect(events).to.deep.equal([
      'restart@10 a,b',
      'added c@11',
      'modified a@12',
      'deleted b@13',
      'bookmark@20',
    ]);
    expect(api.watchCalls[1]?.resourceVersion).to.equal('20');
    expect(watcher.status()).to.include({ state: 'Watching', resourceVersion: '20', watchRestarts: 1 });
    stop.abort();
    await done;
    expect(watcher.phase).to.equal('Stopped');
  });

  it('on 410 Gone lists again and yields a second restart with the new list', async function () {
    const api = new ScriptedApi()
      .onList(
        { items: [cm('a', '1')], resourceVersion: '10' },
        { items: [cm('b', '15')], resourceVersion: '20' },
      )
      .onWatch(stream([{ type: 'ADDED', object: cm('x', '11') }], gone()));
    const { events } = run(api);
    await until(() => expect(api.watchCalls).to.have.length(2));
    expect(events).to.deep.equal(['restart@10 a', 'added x@11', 'restart@20 b']);
    expect(api.watchCalls[1]?.resourceVersion).to.equal('20');
    // The first list may come from the watch cache; the relist must not go back before version 11.
    expect(api.listCalls.map((c) => c.resourceVersion)).to.deep.equal(['0', undefined]);
  });

  it('waits out its backoff on the injected clock, not on the wall clock', async function () {
    const clock = new FakeClock();
    const api = new ScriptedApi().onList(new Error('503'), { items: [], resourceVersion: '1' });
    // Jittered into [30, 60) s: 29.999 s is too soon whatever the jitter, 60 s always enough, and far
    // longer than `until` waits, so a watcher sleeping on the wall clock would fail this test.
    const { watcher, events } = run(api, { backoff: { initialMs: 60_000, maxMs: 60_000 } }, clock);

    await until(() => expect(watcher.phase).to.equal('Backoff'));
    clock.advance(29_999);
    await settle();
    expect(api.listCalls, 'no retry before the delay').to.have.length(1);
    clock.advance(30_001);
    await until(() => expect(events).to.deep.equal(['restart@1 ']));
    expect(api.listCalls).to.have.length(2);
    expect(watcher.status()).to.include({ consecutiveFailures: 1, relists: 1 });
  });

  it('the watchdog counts silence on the injected clock from the last event, not from when the watch opened', async function () {
    const clock = new FakeClock();
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const api = new ScriptedApi().onList({ items: [], resourceVersion: '7' }).onWatch(async (emit, opts) => {
      await released;
      await emit({ type: 'ADDED', object: cm('a', '8') });
      await untilAborted(opts.signal);
    });
    const { events } = run(api, { silenceTimeoutMs: 10_000 }, clock);
    await until(() => expect(api.watchCalls).to.have.length(1));

    clock.advance(6_000);
    release();
    await until(() => expect(events).to.include('added a@8'));
    clock.advance(6_000); // 12 s since the watch opened, 6 s since its last event
    await settle();
    expect(api.watchCalls, 'not silent yet').to.have.length(1);
    expect(api.watchCalls[0]?.signal.aborted).to.equal(false);

    clock.advance(4_000);
    await until(() => expect(api.watchCalls).to.have.length(2));
    expect(api.watchCalls[0]?.signal.aborted, 'the silent watch was aborted').to.equal(true);
    expect(api.watchCalls[1]?.resourceVersion).to.equal('8');
  });

  it('a watch the server sends no bookmarks on is called dead only a minute after its own timeout, not after silenceTimeoutMs', async function () {
    const clock = new FakeClock();
    const api = new ScriptedApi().onList({ items: [], resourceVersion: '7' }).onWatch(async (_emit, opts) => {
      await untilAborted(opts.signal);
    });
    run(api, { silenceTimeoutMs: 10_000, watchTimeoutSeconds: 100, serverSendsBookmarks: false }, clock);
    await until(() => expect(api.watchCalls).to.have.length(1));
    const timeoutMs = api.watchCalls[0]!.timeoutSeconds! * 1000;
    clock.advance(timeoutMs + 59_000);
    await settle();
    expect(api.watchCalls, 'quiet, not dead').to.have.length(1);
    expect(api.watchCalls[0]?.signal.aborted).to.equal(false);

    clock.advance(2_000);
    await until(() => expect(api.watchCalls).to.have.length(2));
    expect(api.watchCalls[0]?.signal.aborted, 'the dead watch was aborted').to.equal(true);
    expect(api.watchCalls[1]?.resourceVersion).to.equal('7');
  });

  describe("listMode 'stream' (KEP-3157)", function () {
    const endOfInitialEvents = (rv: string): WatchEvent<KubeObject> => ({
      type: 'BOOKMARK',
      object: {
        kind: 'ConfigMap',
        metadata: { resourceVersion: rv, annotations: { 'k8s.io/initial-events-end': 'true' } },
      },
    });
    const bookmark = (rv: string): WatchEvent<KubeObject> => ({
      type: 'BOOKMARK',
      object: { kind: 'ConfigMap', metadata: { resourceVersion: rv } },
    });
    const apiError = (status: number, reason: string, message: string): ApiError =>
      new ApiError(`GET /api/v1/configmaps (watch): ${status} ${reason}: ${message}`, {
        status,
        reason,
        body: { kind: 'Status', code: status, reason, message },
        method: 'GET',
        path: '/api/v1/configmaps',
      });
    const invalid = (): ApiError =>
      apiError(
        422,
        'Invalid',
        'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
      );

    it('gathers the initial events into one restart at the end bookmark, at its resourceVersion, then hands on what follows on the same stream', async function () {
      let phaseAtEnd = '';
      let phaseAfter = '';
      const api = new ScriptedApi().onWatch(async (emit, opts) => {
        await emit({ type: 'ADDED', object: cm('a', '3') });
        await emit(bookmark('4')); // an ordinary bookmark does not end the initial events
        await emit({ type: 'ADDED', object: cm('b', '5') });
        phaseAtEnd = watcher.phase;
        await emit(endOfInitialEvents('9'));
        phaseAfter = watcher.phase;
        await emit({ type: 'MODIFIED', object: cm('a', '10') });
        await emit({ type: 'ADDED', object: cm('c', '11') });
        await emit(bookmark('12'));
        await untilAborted(opts.signal);
      });
      const { watcher, events } = run(api, { listMode: 'stream' });

      await until(() => expect(events).to.have.length(4));
      expect(events).to.deep.equal(['restart@9 a,b', 'modified a@10', 'added c@11', 'bookmark@12']);
      expect(api.listCalls, 'no list request').to.have.length(0);
      expect(api.watchCalls).to.have.length(1);
      expect(api.watchCalls[0]).to.include({
        resourceVersion: '',
        sendInitialEvents: true,
        resourceVersionMatch: 'NotOlderThan',
        allowWatchBookmarks: true,
      });
      expect([phaseAtEnd, phaseAfter]).to.deep.equal(['Listing', 'Watching']);
      expect(watcher.status()).to.include({ state: 'Watching', resourceVersion: '12', watchRestarts: 0 });
    });

    it('after the stream ends, watches on from the last resourceVersion without initial events; a 410 makes another streaming list', async function () {
      const api = new ScriptedApi().onWatch(
        stream([{ type: 'ADDED', object: cm('a', '3') }, endOfInitialEvents('9'), bookmark('15')]),
        stream([{ type: 'ADDED', object: cm('b', '16') }], gone()),
        stream([{ type: 'ADDED', object: cm('b', '16') }, endOfInitialEvents('20')]),
      );
      const { watcher, events } = run(api, { listMode: 'stream' });

      await until(() => expect(api.watchCalls).to.have.length(4));
      expect(events).to.deep.equal(['restart@9 a', 'bookmark@15', 'added b@16', 'restart@20 b']);
      expect(api.watchCalls[1]).to.include({ resourceVersion: '15' });
      expect(api.watchCalls[1]?.sendInitialEvents).to.equal(undefined);
      expect(api.watchCalls[2]).to.include({ resourceVersion: '', sendInitialEvents: true });
      expect(api.watchCalls[3]).to.include({ resourceVersion: '20' });
      expect(api.listCalls).to.have.length(0);
      // The watches at 15 and at 20 each follow a stream that ended: both are restarts.
      expect(watcher.status()).to.include({ relists: 1, watchRestarts: 2, consecutiveFailures: 0 });
    });

    for (const [what, refusal] of [
      ['a 422 answer', invalid()],
      ['a 403 answer', apiError(403, 'Forbidden', 'watch is forbidden')],
      [
        'an ERROR event naming sendInitialEvents',
        apiError(500, 'InternalError', 'sendInitialEvents: not supported'),
      ],
    ] as const) {
      it(`falls back to pages at once on ${what}, logs it once at info, and stays paginated on later lists`, async function () {
        const { logger, lines } = quietLogger();
        const api = new ScriptedApi()
          .onWatch(
            stream([{ type: 'ADDED', object: cm('a', '3') }], refusal),
            stream([{ type: 'ADDED', object: cm('b', '11') }], gone()),
          )
          .onList(
            { items: [cm('a', '3')], resourceVersion: '10' },
            { items: [cm('a', '3'), cm('b', '11')], resourceVersion: '12' },
          );
        const watcher = new Watcher<ConfigMap>(api, ConfigMaps, { listMode: 'stream' }, { logger });
        const events: string[] = [];
        const stop = new AbortController();
        stops.push(stop);
        void watcher.run(stop.signal, (e) => {
          if (e.type === 'restart') events.push(`restart@${e.resourceVersion} ${e.reason}`);
        });

        await until(() => expect(api.watchCalls).to.have.length(3));
        expect(events).to.deep.equal(['restart@10 initial', 'restart@12 gone']);
        expect(api.listCalls).to.have.length(2);
        expect(api.watchCalls.map((w) => w.sendInitialEvents ?? false)).to.deep.equal([true, false, false]);
        expect(watcher.effectiveListMode).to.equal('paginate');
        // The list that replaced the refused stream is not a relist; the one after the 410 is.
        expect(watcher.status()).to.include({ consecutiveFailures: 0, relists: 1 });
        const fallbacks = lines.filter((l) => String(l.msg).includes('refused a streaming list'));
        expect(fallbacks).to.have.length(1);
        expect(fallbacks[0]).to.include({ level: 'info' });
        expect(String(fallbacks[0]?.error)).to.equal(refusal.message);
      });
    }

    for (const [what, failure] of [
      ['410 Gone', gone()],
      ['429 TooManyRequests', apiError(429, 'TooManyRequests', 'too many requests')],
      ['a 504 ERROR event', apiError(504, 'Timeout', 'Too large resource version')],
      ['a broken connection', new Error('socket hang up')],
      ['the stream ending', undefined],
    ] as const) {
      it(`treats ${what} during the initial events as a failed list: backs off, then streams again`, async function () {
        const clock = new FakeClock();
        const api = new ScriptedApi().onWatch(
          stream([{ type: 'ADDED', object: cm('a', '3') }], failure),
          stream([{ type: 'ADDED', object: cm('b', '4') }, endOfInitialEvents('9')]),
        );
        const { watcher, events } = run(
          api,
          { listMode: 'stream', backoff: { initialMs: 60_000, maxMs: 60_000 } },
          clock,
        );

        await until(() => expect(watcher.phase).to.equal('Backoff'));
        expect(events, 'nothing of the broken stream is handed on').to.deep.equal([]);
        expect(watcher.status()).to.include({ consecutiveFailures: 1 });
        clock.advance(60_000);
        await until(() => expect(events).to.deep.equal(['restart@9 b']));
        expect(api.watchCalls[1]).to.include({ resourceVersion: '', sendInitialEvents: true });
        expect(api.listCalls).to.have.length(0);
        expect(watcher.effectiveListMode).to.equal('stream');
      });
    }

    it('an informer in stream mode is synced by the end bookmark and caches what came before it', async function () {
      const api = new ScriptedApi().onWatch(async (emit, opts) => {
        await emit({ type: 'ADDED', object: cm('a', '3') });
        await emit({ type: 'ADDED', object: cm('b', '4') });
        await emit(endOfInitialEvents('9'));
        await emit({ type: 'DELETED', object: cm('a', '10') });
        await untilAborted(opts.signal);
      });
      const informer = new Informer<ConfigMap>(
        api,
        ConfigMaps,
        { listMode: 'stream' },
        { logger: quietLogger().logger },
      );
      const { calls, handler } = recorder();
      informer.addEventHandler(handler);
      const stop = new AbortController();
      stops.push(stop);
      informer.start(stop.signal);
      await informer.waitForSync(stop.signal);
      await until(() => expect(calls).to.deep.equal(['add a@3', 'add b@4', 'delete a@10']));
      expect(informer.store.keys()).to.deep.equal(['ns/b']);
    });
  });

  it('feeds a Store through a reflector, which reports each change as add, update or delete', async function () {
    const store = new Store<ConfigMap>();
    const changes: string[] = [];
    const reflect = reflector(store, { transform: (o) => ({ ...o, transformed: true }) });
    const api = new ScriptedApi()
      .onList({ items: [cm('a', '1'), cm('b', '2')], resourceVersion: '10' })
      .onWatch(
        stream([
          { type: 'MODIFIED', object: cm('a', '11') },
          { type: 'DELETED', object: cm('b', '12') },
        ]),
      );
    const watcher = new Watcher<ConfigMap>(api, ConfigMaps, {}, { logger: quietLogger().logger });
    const stop = new AbortController();
    stops.push(stop);
    void watcher.run(stop.signal, (event) => {
      for (const c of reflect(event))
        changes.push(
          c.type === 'update' ? `update ${c.newObj.metadata?.name}` : `${c.type} ${c.obj.metadata?.name}`,
        );
    });

    await until(() => expect(changes).to.deep.equal(['add a', 'add b', 'update a', 'delete b']));
    expect(store.keys()).to.deep.equal(['ns/a']);
    expect(store.get('ns/a')).to.include({ transformed: true });
    expect(store.get('ns/a')?.metadata?.resourceVersion).to.equal('11');
  });
});

describe('informer on an injected clock', function () {
  it('resyncs every period of the clock it was given', async function () {
    const clock = new FakeClock();
    const api = new ScriptedApi().onList({ items: [cm('a', '1')], resourceVersion: '1' });
    const informer = new Informer<ConfigMap>(
      api,
      ConfigMaps,
      { resyncPeriodMs: 60_000 },
      { logger: quietLogger().logger, clock },
    );
    const { calls, handler } = recorder();
    informer.addEventHandler(handler);
    const stop = new AbortController();
    informer.start(stop.signal);
    try {
      await informer.waitForSync();
      clock.advance(59_999);
      expect(calls).to.deep.equal(['add a@1']);
      clock.advance(1);
      expect(calls).to.deep.equal(['add a@1', 'update a@1->1']);
      clock.advance(60_000);
      expect(calls).to.deep.equal(['add a@1', 'update a@1->1', 'update a@1->1']);
    } finally {
      stop.abort();
    }
  });
});
