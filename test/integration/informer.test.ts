/** The informer against a real API server: a cache that matches the server through bursts, 410s, silence and restarts. */
import { Writable } from 'node:stream';
import { expect } from 'chai';
import type { KubeConfig } from '@kubernetes/client-node';
import { Client, isGone, type WatchOptions } from '../../src/runtime/client.js';
import { Informer, type InformerOptions } from '../../src/runtime/informer.js';
import { createLogger, type Logger } from '../../src/runtime/logger.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { ConfigMaps, Namespaces, type KubeObject } from '../../src/runtime/resources.js';
import type { ListerWatcher } from '../../src/runtime/watcher.js';
import { LocalControlPlane } from '../../src/testenv/index.js';
import { cluster, eventually, testNamespace } from '../support/cluster.js';
import { TcpProxy, viaProxy } from '../support/tcp-proxy.js';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** eventually() for a synchronous check. */
const until = (check: () => void, timeoutMs = 30_000): Promise<void> =>
  eventually(() => Promise.resolve().then(check), { timeoutMs });

function configMap(
  namespace: string,
  name: string,
  data: Record<string, string> = {},
  labels?: Record<string, string>,
) {
  return { metadata: { namespace, name, ...(labels ? { labels } : {}) }, data };
}

/** A logger whose JSON lines the test can read. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', stream }), lines };
}

/**
 * What the handlers were told, replayed into a map (name -> resourceVersion):
 * if it equals the server, no add, update or delete was lost.
 */
class HandlerMirror {
  readonly state = new Map<string, string>();
  readonly log: string[] = [];
  readonly handler = {
    onAdd: (obj: KubeObject) => {
      this.log.push(`add ${name(obj)}`);
      this.state.set(name(obj), rv(obj));
    },
    onUpdate: (oldObj: KubeObject, newObj: KubeObject) => {
      this.log.push(`update ${name(newObj)} ${rv(oldObj)}->${rv(newObj)}`);
      this.state.set(name(newObj), rv(newObj));
    },
    onDelete: (obj: KubeObject) => {
      this.log.push(`delete ${name(obj)}`);
      this.state.delete(name(obj));
    },
  };
}

const name = (o: KubeObject): string => o.metadata?.name ?? '';
const rv = (o: KubeObject): string => o.metadata?.resourceVersion ?? '';

/** The server's state, fetched now: name -> resourceVersion. */
async function serverState(
  client: Client,
  namespace: string,
  labelSelector?: string,
): Promise<Map<string, string>> {
  const list = await client.list(ConfigMaps, { namespace, ...(labelSelector ? { labelSelector } : {}) });
  return new Map(list.items.map((o) => [name(o), rv(o)]));
}

function cacheState(informer: Informer): Map<string, string> {
  return new Map(informer.store.list().map((o) => [name(o), rv(o)]));
}

/** Waits until both the cache and what the handlers saw equal a fresh list from the server. */
async function expectConverged(
  client: Client,
  informer: Informer,
  mirror: HandlerMirror,
  namespace: string,
  timeoutMs = 30_000,
): Promise<void> {
  await eventually(
    async () => {
      const server = await serverState(client, namespace);
      expect(cacheState(informer), 'cache vs server').to.deep.equal(server);
      expect(mirror.state, 'handlers vs server').to.deep.equal(server);
    },
    { timeoutMs },
  );
}

/** The real client, with every list and watch it is asked for written down. */
function recording(client: Client): { counting: ListerWatcher; lists: unknown[]; watches: WatchOptions[] } {
  const lists: unknown[] = [];
  const watches: WatchOptions[] = [];
  const counting: ListerWatcher = {
    list: (t, opts) => {
      lists.push(opts);
      return client.list(t, opts);
    },
    watch: (t, opts, onEvent) => {
      watches.push(opts);
      return client.watch(t, opts, onEvent);
    },
  };
  return { counting, lists, watches };
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

async function counterValue(
  metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('Informer (integration)', function () {
  this.timeout(90_000);
  let client: Client;
  const stops: AbortController[] = [];

  /** A started informer, stopped after the test. */
  function startInformer(
    c: ListerWatcher,
    options: InformerOptions<ConfigMap>,
    deps: { logger?: Logger; metrics?: Metrics } = {},
  ): { informer: Informer<ConfigMap>; mirror: HandlerMirror } {
    const informer = new Informer<ConfigMap>(c, ConfigMaps, options, {
      logger: deps.logger ?? capturingLogger().logger,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
    const mirror = new HandlerMirror();
    informer.addEventHandler(mirror.handler);
    const stop = new AbortController();
    stops.push(stop);
    informer.start(stop.signal);
    return { informer, mirror };
  }

  before(async function () {
    this.timeout(180_000); // the first suite to ask starts the shared plane
    client = new Client((await cluster()).kubeConfig);
  });

  afterEach(function () {
    for (const stop of stops.splice(0)) stop.abort();
  });

  it('keeps the cache equal to the server through a burst of 200 creates, updates and deletes', async function () {
    const ns = await testNamespace('informer-burst');
    const { informer, mirror } = startInformer(client, { namespace: ns });
    await informer.waitForSync();

    const names = Array.from({ length: 100 }, (_, i) => `cm-${i}`);
    await inParallel(names, 10, (n) => client.create(ConfigMaps, configMap(ns, n, { v: '0' })));
    await inParallel(names.slice(0, 60), 10, (n) =>
      client.patch(ConfigMaps, ns, n, { data: { v: '1' } }, { type: 'merge' }),
    );
    await inParallel(names.slice(60), 10, (n) => client.delete(ConfigMaps, ns, n));

    await expectConverged(client, informer, mirror, ns);
    // Besides ours, the namespace holds the kube-root-ca.crt ConfigMap the control plane puts in every namespace.
    expect(informer.store.keys().filter((k) => k.startsWith(`${ns}/cm-`))).to.have.length(60);
    // Every object went through the default transform.
    expect(informer.store.list().every((o) => o.metadata?.managedFields === undefined)).to.equal(true);
    expect(informer.store.getByName(ns, 'cm-0')?.data).to.deep.equal({ v: '1' });
    expect(mirror.log.filter((l) => l.startsWith('delete '))).to.have.length(40);
  });

  it("listMode 'stream': one watch with sendInitialEvents brings every pre-created object, then the changes on the same stream", async function () {
    const ns = await testNamespace('informer-stream');
    const names = Array.from({ length: 50 }, (_, i) => `pre-${i}`);
    await inParallel(names, 10, (n) => client.create(ConfigMaps, configMap(ns, n, { v: '0' })));

    const { counting, lists, watches } = recording(client);
    const initialAdds: string[] = [];
    const { informer, mirror } = startInformer(counting, { namespace: ns, listMode: 'stream' });
    informer.addEventHandler({ onAdd: (o, initial) => initial && initialAdds.push(name(o)) });
    await informer.waitForSync();

    // kube-root-ca.crt is in every namespace, besides ours.
    expect(informer.store.keys().filter((k) => k.startsWith(`${ns}/pre-`))).to.have.length(50);
    await expectConverged(client, informer, mirror, ns);
    expect(initialAdds).to.include.members(names);
    expect(lists, 'no list request').to.deep.equal([]);
    expect(watches).to.have.length(1);
    expect(watches[0]).to.include({ sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan' });

    await client.patch(ConfigMaps, ns, 'pre-0', { data: { v: '1' } }, { type: 'merge' });
    await client.delete(ConfigMaps, ns, 'pre-1');
    await client.create(ConfigMaps, configMap(ns, 'born-after-sync'));
    await expectConverged(client, informer, mirror, ns);
    expect(informer.store.getByName(ns, 'pre-0')?.data).to.deep.equal({ v: '1' });
    expect(mirror.log).to.include.members(['delete pre-1', 'add born-after-sync']);
    expect(mirror.log.some((l) => l.startsWith('update pre-0 '))).to.equal(true);
    expect(watches, 'the changes came on the stream that listed').to.have.length(1);
    expect(informer.stats()).to.include({ state: 'Watching', relists: 0, watchRestarts: 0 });
  });

  it('honours label selectors and watches across namespaces when no namespace is given', async function () {
    const nsA = await testNamespace('informer-sel-a');
    const nsB = await testNamespace('informer-sel-b');
    const label = `informer-test-${Date.now()}`;
    const { informer } = startInformer(client, { labelSelector: `${label}=yes` });
    await informer.waitForSync();

    await client.create(ConfigMaps, configMap(nsA, 'match', {}, { [label]: 'yes' }));
    await client.create(ConfigMaps, configMap(nsB, 'match', {}, { [label]: 'yes' }));
    await client.create(ConfigMaps, configMap(nsA, 'other', {}, { [label]: 'no' }));

    await until(() => expect(informer.store.keys().sort()).to.deep.equal([`${nsA}/match`, `${nsB}/match`]));
    // A label change that leaves the selector arrives as a DELETED event.
    await client.patch(
      ConfigMaps,
      nsB,
      'match',
      { metadata: { labels: { [label]: 'no' } } },
      { type: 'merge' },
    );
    await until(() => expect(informer.store.keys()).to.deep.equal([`${nsA}/match`]));
    expect(
      informer.store
        .list()
        .filter((o) => o.metadata?.namespace === nsA)
        .map(name),
    ).to.deep.equal(['match']);
  });

  it('receives bookmarks, which move the resourceVersion on while nothing it watches changes', async function () {
    const quiet = await testNamespace('informer-quiet');
    const busy = await testNamespace('informer-busy');
    const metrics = new Metrics();
    // The API server sends a bookmark about 2 s before a watch's timeout (and every minute), but only
    // once its cache has moved past where the watch started: ConfigMaps must keep changing elsewhere.
    const { informer } = startInformer(client, { namespace: quiet, watchTimeoutSeconds: 4 }, { metrics });
    await informer.waitForSync();
    const first = await client.create(ConfigMaps, configMap(busy, 'elsewhere-0'));

    let n = 0;
    await eventually(
      async () => {
        await client.create(ConfigMaps, configMap(busy, `elsewhere-${++n}`));
        const bookmarks = await counterValue(metrics.informerEvents, { kind: 'ConfigMap', type: 'BOOKMARK' });
        expect(bookmarks, 'bookmarks received').to.be.greaterThan(0);
        expect(Number(informer.stats().resourceVersion)).to.be.greaterThan(Number(rv(first)));
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(
      informer.store.list().filter((o) => o.metadata?.namespace === busy),
      'nothing from the other namespace is cached',
    ).to.deep.equal([]);
  });

  it('restarts a watch that stays silent longer than silenceTimeoutMs, and keeps following changes', async function () {
    const ns = await testNamespace('informer-silent');
    const metrics = new Metrics();
    const { logger, lines } = capturingLogger();
    const { informer } = startInformer(
      client,
      { namespace: ns, silenceTimeoutMs: 1_500, watchTimeoutSeconds: 300 },
      { logger, metrics },
    );
    await informer.waitForSync();

    await until(() => expect(informer.stats().watchRestarts).to.be.at.least(1), 15_000);
    expect(await counterValue(metrics.informerWatchRestarts, { kind: 'ConfigMap' })).to.be.at.least(1);
    expect(lines.some((l) => l.msg === 'Watch went silent; restarting it')).to.equal(true);

    await client.create(ConfigMaps, configMap(ns, 'after-restart'));
    await until(() => expect(informer.store.getByName(ns, 'after-restart')).to.not.equal(undefined));
    expect(informer.stats().relists, 'a silent watch is resumed, not relisted').to.equal(0);
  });

  it('survives handlers that throw or reject: errors are logged and counted, other handlers still run', async function () {
    const ns = await testNamespace('informer-handlers');
    const metrics = new Metrics();
    const { logger, lines } = capturingLogger();
    const { informer, mirror } = startInformer(
      client,
      { namespace: ns, labelSelector: 'handler-test=yes' },
      { logger, metrics },
    );
    informer.addEventHandler({
      onAdd() {
        throw new Error('handler bug');
      },
    });
    informer.addEventHandler({
      onAdd: () => Promise.reject(new Error('async handler bug')) as unknown as void,
    });
    await informer.waitForSync();

    await client.create(ConfigMaps, configMap(ns, 'one', {}, { 'handler-test': 'yes' }));
    await client.create(ConfigMaps, configMap(ns, 'two', {}, { 'handler-test': 'yes' }));
    await until(() => expect(mirror.log).to.deep.equal(['add one', 'add two']));
    await until(() =>
      expect(lines.filter((l) => l.msg === 'Informer event handler failed')).to.have.length(4),
    );
    expect(lines.map((l) => l.error)).to.include.members(['handler bug', 'async handler bug']);
    expect(await counterValue(metrics.informerHandlerErrors, { kind: 'ConfigMap' })).to.equal(4);
  });

  it('recovers after the API server stops and starts again, losing no change (local plane only)', async function () {
    const { local } = await cluster();
    if (!local) this.skip(); // needs a plane whose API server this test may stop: set only for the local plane
    this.timeout(180_000);
    const ns = await testNamespace('informer-restart');
    const names = Array.from({ length: 10 }, (_, i) => `cm-${i}`);
    await inParallel(names, 5, (n) => client.create(ConfigMaps, configMap(ns, n, { v: '0' })));
    const { informer, mirror } = startInformer(client, {
      namespace: ns,
      backoff: { initialMs: 1_000, maxMs: 4_000 },
    });
    await informer.waitForSync();

    await local.stopApiServer();
    await until(() => expect(informer.stats().consecutiveFailures).to.be.at.least(1), 30_000);
    await local.startApiServer();
    // Changes the informer has not seen: it is still in backoff, or reconnecting.
    await client.delete(ConfigMaps, ns, 'cm-0');
    await client.delete(ConfigMaps, ns, 'cm-1');
    await client.patch(ConfigMaps, ns, 'cm-2', { data: { v: '1' } }, { type: 'merge' });
    await client.create(ConfigMaps, configMap(ns, 'born-after-restart'));

    await expectConverged(client, informer, mirror, ns, 60_000);
    expect(mirror.log).to.include.members(['delete cm-0', 'delete cm-1', 'add born-after-restart']);
    const stats = informer.stats();
    expect(stats.state).to.equal('Watching');
    expect(stats.relists + stats.watchRestarts, 'it reconnected').to.be.at.least(1);
  });

  describe("listMode 'stream' on a server that refuses it (local plane only: a second API server with --feature-gates=WatchList=false)", function () {
    let plane: LocalControlPlane | undefined;

    before(async function () {
      if (!(await cluster()).local) this.skip();
      this.timeout(120_000);
      // v1.34 serves streaming lists by default; an older server, or one with the gate off, answers
      // 422 Invalid "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled".
      plane = await LocalControlPlane.start({
        apiOnly: true,
        apiServerArgs: ['--feature-gates=WatchList=false'],
      });
    });

    after(async function () {
      this.timeout(60_000);
      await plane?.stop();
    });

    it('falls back to the paginated list, says so once at info, and still follows changes', async function () {
      const direct = new Client((plane as LocalControlPlane).kubeConfig);
      const ns = 'refused';
      await direct.create(Namespaces, { metadata: { name: ns } });
      for (const n of ['a', 'b', 'c']) await direct.create(ConfigMaps, configMap(ns, n));
      const { logger, lines } = capturingLogger();
      const { informer, mirror } = startInformer(direct, { namespace: ns, listMode: 'stream' }, { logger });
      await informer.waitForSync();
      await expectConverged(direct, informer, mirror, ns);
      expect(informer.stats()).to.include({ relists: 0, consecutiveFailures: 0 });

      await direct.delete(ConfigMaps, ns, 'a');
      await direct.create(ConfigMaps, configMap(ns, 'd'));
      await expectConverged(direct, informer, mirror, ns);

      const fallbacks = lines.filter((l) => String(l.msg).includes('refused a streaming list'));
      expect(fallbacks).to.have.length(1);
      expect(fallbacks[0]).to.include({ level: 'info' });
      expect(String(fallbacks[0]?.error)).to.match(/422 Invalid: .*WatchList feature gate/);
    });
  });

  describe('410 Gone (local plane only: a second API server without watch cache, so etcd compaction reaches the watch)', function () {
    let plane: LocalControlPlane | undefined;
    let proxy: TcpProxy;
    let direct: Client;
    let ns: string;

    before(async function () {
      if (!(await cluster()).local) {
        // compactEtcd() and a second plane need the locally built etcd and kube-apiserver; a foreign
        // cluster (kind, STUDYLAB_KUBECONFIG) offers neither.
        this.skip();
      }
      this.timeout(120_000);
      // The shared plane's watch cache answers old resourceVersions from memory; only without it does
      // a watch from before a compaction get the 410 an informer must handle.
      plane = await LocalControlPlane.start({ apiOnly: true, apiServerArgs: ['--watch-cache=false'] });
      proxy = await TcpProxy.start(Number(new URL(plane.apiServerUrl).port));
      direct = new Client(plane.kubeConfig);
      ns = 'gone';
      await direct.create(Namespaces, { metadata: { name: ns } });
    });

    after(async function () {
      this.timeout(60_000);
      await proxy?.close();
      await plane?.stop();
    });

    it('the client surfaces a watch from a compacted resourceVersion as an ApiError that isGone()', async function () {
      const listed = await direct.list(ConfigMaps, { namespace: ns });
      await direct.create(ConfigMaps, configMap(ns, 'bump'));
      await direct.delete(ConfigMaps, ns, 'bump');
      await plane?.compactEtcd();

      const err = await direct
        .watch(
          ConfigMaps,
          { namespace: ns, resourceVersion: listed.resourceVersion, signal: AbortSignal.timeout(20_000) },
          () => undefined,
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isGone(err), String(err)).to.equal(true);
    });

    for (const listMode of ['paginate', 'stream'] as const) {
      it(`relists on 410 and tells handlers exactly what changed while it was away (listMode ${listMode})`, async function () {
        const ns = `relist-${listMode}`;
        await direct.create(Namespaces, { metadata: { name: ns } });
        const metrics = new Metrics();
        const { logger, lines } = capturingLogger();
        for (const n of ['keep', 'change', 'remove'])
          await direct.create(ConfigMaps, configMap(ns, n, { v: '0' }));
        const { counting, lists, watches } = recording(
          new Client(viaProxy(plane?.kubeConfig as KubeConfig, proxy.port)),
        );
        const { informer, mirror } = startInformer(
          counting,
          { namespace: ns, listMode, backoff: { initialMs: 200, maxMs: 1_000 } },
          { logger, metrics },
        );
        await informer.waitForSync();
        const changeRv = rv(informer.store.getByName(ns, 'change') as KubeObject);
        mirror.log.length = 0;

        // Cut the informer off, change things behind its back, and compact history away.
        proxy.block();
        await until(() => expect(informer.stats().consecutiveFailures).to.be.at.least(1));
        await direct.delete(ConfigMaps, ns, 'remove');
        const changed = await direct.patch(ConfigMaps, ns, 'change', { data: { v: '1' } }, { type: 'merge' });
        await direct.create(ConfigMaps, configMap(ns, 'new-1'));
        await direct.create(ConfigMaps, configMap(ns, 'new-2'));
        await plane?.compactEtcd();
        proxy.unblock();

        await expectConverged(direct, informer, mirror, ns);
        expect([...mirror.log].sort()).to.deep.equal(
          ['add new-1', 'add new-2', 'delete remove', `update change ${changeRv}->${rv(changed)}`].sort(),
        );
        expect(informer.stats().relists).to.equal(1);
        expect(await counterValue(metrics.informerRelists, { kind: 'ConfigMap' })).to.equal(1);
        expect(lines.some((l) => l.msg === 'Watch resourceVersion expired (410); relisting')).to.equal(true);
        expect(lines.some((l) => String(l.msg).includes('refused a streaming list'))).to.equal(false);
        // Both lists, the first and the one after the 410, were made the way the mode says.
        if (listMode === 'stream') {
          expect(lists).to.deep.equal([]);
          expect(watches.filter((w) => w.sendInitialEvents)).to.have.length(2);
        } else {
          expect(lists).to.have.length(2);
          expect(watches.filter((w) => w.sendInitialEvents)).to.deep.equal([]);
        }
      });
    }
  });
});
