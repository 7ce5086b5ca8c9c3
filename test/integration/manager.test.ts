import { Writable } from 'node:stream';
import { expect } from 'chai';
import { request } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { Client } from '../../src/runtime/client.js';
import { formatMicroTime } from '../../src/runtime/clock.js';
import { ControllerBuilder } from '../../src/runtime/builder.js';
import { Controller } from '../../src/runtime/controller.js';
import { LeaderElectionLostError } from '../../src/runtime/leader-election.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Manager, type ManagerOptions } from '../../src/runtime/manager.js';
import { matching } from '../../src/runtime/predicates.js';
import type { Reconciler } from '../../src/runtime/reconcile.js';
import {
  ConfigMaps,
  EventsV1,
  Leases,
  type KubeObject,
  type ResourceType,
} from '../../src/runtime/resources.js';
import { cluster, eventually, testNamespace } from '../support/cluster.js';

/** eventually() for a synchronous check. */
const until = (check: () => void, opts?: { timeoutMs?: number; intervalMs?: number }): Promise<void> =>
  eventually(() => Promise.resolve().then(check), opts);

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** Every controller-runtime metric name a dashboard may query (CLIENT-NODE.md). */
const CONTROLLER_RUNTIME_METRICS = [
  'controller_runtime_reconcile_total',
  'controller_runtime_reconcile_errors_total',
  'controller_runtime_terminal_reconcile_errors_total',
  'controller_runtime_reconcile_time_seconds',
  'controller_runtime_max_concurrent_reconciles',
  'controller_runtime_active_workers',
  'workqueue_depth',
  'workqueue_adds_total',
  'workqueue_queue_duration_seconds',
  'workqueue_work_duration_seconds',
  'workqueue_unfinished_work_seconds',
  'workqueue_longest_running_processor_seconds',
  'workqueue_retries_total',
  'rest_client_requests_total',
  'rest_client_request_duration_seconds',
  'leader_election_master_status',
];

const WATCHED = { 'manager-test/watch': 'yes' };

/**
 * The smallest useful controller: for every labelled ConfigMap, write a "<name>-seen" ConfigMap that
 * records what the cache held. Reads come from the cache; the side effect goes to the API server.
 */
function mirrorController(mgr: Manager, name: string): void {
  const reconciler: Reconciler = {
    async reconcile(req) {
      const source = mgr.getStore<ConfigMap>(ConfigMaps).getByName(req.namespace, req.name);
      if (!source) return {};
      const mirror: ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { namespace: req.namespace, name: `${req.name}-seen` },
        data: { value: source.data?.value ?? '', by: name },
      };
      await mgr.client.apply(ConfigMaps, mirror, { fieldManager: 'manager-test', force: true });
      return {};
    },
  };
  new ControllerBuilder(mgr, name)
    .for(ConfigMaps, { predicates: [matching((o) => o.metadata?.labels?.['manager-test/watch'] === 'yes')] })
    .complete(reconciler);
}

/** How a promise settled: 'resolved', or what it rejected with. */
function settled(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => 'resolved',
    (err: unknown) => err,
  );
}

/** Requests this manager's client has sent, by rest_client_requests_total. */
async function requestCount(mgr: Manager): Promise<number> {
  const { values } = await mgr.metrics.restClientRequests.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

function httpGet(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line of the exposition format, e.g. `x_total{a="b"} 3`. */
function sample(body: string, metric: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = body.split('\n').find((l) => l.startsWith(`${metric}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('Manager (integration)', function () {
  this.timeout(120_000);
  let kubeConfig: KubeConfig;
  let client: Client;
  let namespace: string;
  const quiet = createLogger({ stream: new Writable({ write: (_chunk, _enc, done) => done() }) });
  const running: { stop: AbortController; done: Promise<unknown> }[] = [];

  before(async () => {
    kubeConfig = (await cluster()).kubeConfig;
    client = new Client(kubeConfig);
    namespace = await testNamespace('manager');
  });

  afterEach(async () => {
    for (const r of running.splice(0)) {
      r.stop.abort();
      await r.done.catch(() => undefined);
    }
  });

  function newManager(options: Partial<ManagerOptions> = {}): Manager {
    return new Manager({
      kubeConfig,
      namespace,
      logger: quiet,
      metricsBindAddress: ':0',
      // Plain HTTP: this suite is about what is served; secure-serving.test.ts about who may read it.
      metricsSecure: false,
      healthProbeBindAddress: ':0',
      ...options,
    });
  }

  /** A manager that campaigns for Lease `name` as `identity`, with timings short enough for a test. */
  function leadingManager(name: string, identity: string): Manager {
    return newManager({
      metricsBindAddress: '0',
      healthProbeBindAddress: '0',
      leaderElection: {
        namespace,
        name,
        identity,
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 500,
      },
    });
  }

  /** Someone else takes Lease `name` for an hour, as a replica that won it would. */
  async function stealLease(name: string, holder: string): Promise<void> {
    const lease = await client.get<KubeObject & { spec?: Record<string, unknown> }>(Leases, namespace, name);
    await client.replace(Leases, {
      ...lease,
      spec: {
        ...lease?.spec,
        holderIdentity: holder,
        leaseDurationSeconds: 3600,
        renewTime: formatMicroTime(Date.now()),
      },
    });
  }

  function startRunning(mgr: Manager): { stop: AbortController; done: Promise<void> } {
    const stop = new AbortController();
    const done = mgr.start(stop.signal);
    running.push({ stop, done });
    return { stop, done };
  }

  it('serves probes and metrics on free ports, exposes every controller-runtime metric at zero, reconciles, and shuts down', async () => {
    const fresh = newManager();
    mirrorController(fresh, 'mirror');
    const run = startRunning(fresh);
    await until(() => expect(fresh.ready).to.equal(true));
    const probes = fresh.healthProbeAddress?.port as number;
    const metricsPort = fresh.metricsAddress?.port as number;
    expect(probes).to.be.above(0);
    expect(metricsPort).to.be.above(0).and.not.equal(probes);

    expect(await httpGet(probes, '/healthz')).to.include({ status: 200, body: 'ok' });
    expect(await httpGet(probes, '/readyz')).to.include({ status: 200, body: 'ok' });
    expect((await httpGet(probes, '/readyz?verbose')).body).to.contain('[+]informer-sync ok');
    expect((await httpGet(probes, '/nope')).status).to.equal(404);

    const scrape = await httpGet(metricsPort, '/metrics');
    expect(scrape.status).to.equal(200);
    expect(scrape.type).to.equal(fresh.metrics.registry.contentType);
    for (const name of CONTROLLER_RUNTIME_METRICS)
      expect(scrape.body, name).to.match(new RegExp(`^# TYPE ${name} `, 'm'));
    for (const result of ['success', 'error', 'requeue', 'requeue_after']) {
      expect(
        sample(scrape.body, 'controller_runtime_reconcile_total', { controller: 'mirror', result }),
        result,
      ).to.equal(0);
    }
    expect(
      sample(scrape.body, 'controller_runtime_reconcile_errors_total', { controller: 'mirror' }),
    ).to.equal(0);
    expect(
      sample(scrape.body, 'controller_runtime_terminal_reconcile_errors_total', { controller: 'mirror' }),
    ).to.equal(0);
    expect(sample(scrape.body, 'controller_runtime_active_workers', { controller: 'mirror' })).to.equal(0);
    expect(
      sample(scrape.body, 'controller_runtime_max_concurrent_reconciles', { controller: 'mirror' }),
    ).to.equal(1);
    expect(sample(scrape.body, 'workqueue_depth', { name: 'mirror', controller: 'mirror' })).to.equal(0);
    expect(sample(scrape.body, 'workqueue_retries_total', { name: 'mirror', controller: 'mirror' })).to.equal(
      0,
    );

    await client.create<ConfigMap>(ConfigMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace, name: 'source', labels: WATCHED },
      data: { value: 'v1' },
    });
    const seen = await eventually(async () => {
      const cm = await client.get<ConfigMap>(ConfigMaps, namespace, 'source-seen');
      if (cm?.data?.value !== 'v1') throw new Error(`mirror not written yet: ${JSON.stringify(cm?.data)}`);
      return cm;
    });
    expect(seen.data).to.deep.equal({ value: 'v1', by: 'mirror' });

    // An update flows through the same path.
    await client.patch(ConfigMaps, namespace, 'source', { data: { value: 'v2' } }, { type: 'merge' });
    await eventually(async () =>
      expect((await client.get<ConfigMap>(ConfigMaps, namespace, 'source-seen'))?.data?.value).to.equal('v2'),
    );

    const after = await httpGet(metricsPort, '/metrics');
    expect(
      sample(after.body, 'controller_runtime_reconcile_total', { controller: 'mirror', result: 'success' }),
    ).to.be.at.least(2);
    expect(
      sample(after.body, 'workqueue_adds_total', { name: 'mirror', controller: 'mirror' }),
    ).to.be.at.least(2);
    expect(sample(after.body, 'rest_client_requests_total', { method: 'PATCH' }) ?? 0).to.be.at.least(1);

    run.stop.abort();
    await run.done;
    expect(fresh.ready).to.equal(false);
    await httpGet(probes, '/healthz').then(
      () => expect.fail('the probe server should be closed'),
      (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ECONNREFUSED'),
    );
  });

  it('caches a kind through its cacheByType selector and transform: only labelled objects, as transformed', async () => {
    const label = 'manager-test/cached';
    const mgr = newManager({
      metricsBindAddress: '0',
      cacheByType: [
        {
          type: ConfigMaps,
          labelSelector: `${label}=yes`,
          // Keep the keys of data, not the values: what a cache for "which keys exist" would hold.
          transform: (o) => {
            const cm = o as ConfigMap;
            return { ...cm, data: Object.fromEntries(Object.keys(cm.data ?? {}).map((k) => [k, ''])) };
          },
        },
      ],
    });
    await client.create<ConfigMap>(ConfigMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cached', namespace, labels: { [label]: 'yes' } },
      data: { greeting: 'hello' },
    });
    await client.create<ConfigMap>(ConfigMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'not-cached', namespace },
      data: { greeting: 'hello' },
    });
    const store = mgr.getStore<ConfigMap>(ConfigMaps);
    new ControllerBuilder(mgr, 'transform')
      .for(ConfigMaps)
      .complete({ reconcile: () => Promise.resolve({}) });
    startRunning(mgr);
    await until(() => expect(store.getByName(namespace, 'cached')?.data).to.deep.equal({ greeting: '' }));
    expect(store.getByName(namespace, 'not-cached')).to.equal(undefined);
    // A watch event goes through the same transform as the list.
    await client.apply<ConfigMap>(
      ConfigMaps,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'cached', namespace, labels: { [label]: 'yes' } },
        data: { greeting: 'hello', farewell: 'bye' },
      },
      { fieldManager: 'manager-test', force: true },
    );
    await until(() =>
      expect(store.getByName(namespace, 'cached')?.data).to.deep.equal({ greeting: '', farewell: '' }),
    );
  });

  it('answers /healthz but not /readyz while a cache cannot sync', async () => {
    const missing: ResourceType = {
      group: 'example.invalid',
      version: 'v1',
      kind: 'Missing',
      plural: 'missings',
      namespaced: true,
    };
    const mgr = newManager({ metricsBindAddress: '0' });
    new ControllerBuilder(mgr, 'never-synced')
      .for(missing)
      .complete({ reconcile: () => Promise.resolve({}) });
    startRunning(mgr);
    await until(() => expect(mgr.healthProbeAddress?.port, 'listening').to.be.a('number'));
    const port = mgr.healthProbeAddress?.port as number;
    expect(mgr.metricsAddress, "'0' disables the metrics server").to.equal(undefined);
    expect(await httpGet(port, '/healthz')).to.include({ status: 200 });
    const ready = await httpGet(port, '/readyz');
    expect(ready.status).to.equal(500);
    expect(ready.body).to.contain('[-]informer-sync failed: caches not synced yet');
  });

  it('with leader election, runs controllers only while leading, and rejects start() when leadership is lost', async () => {
    const leaseName = 'manager-lease';
    const mgr = leadingManager(leaseName, 'manager-a');
    mirrorController(mgr, 'leader-mirror');
    const { done } = startRunning(mgr);
    await until(() => expect(mgr.isLeader()).to.equal(true));
    await client.create<ConfigMap>(ConfigMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace, name: 'led', labels: WATCHED },
      data: { value: 'x' },
    });
    await eventually(async () =>
      expect((await client.get<ConfigMap>(ConfigMaps, namespace, 'led-seen'))?.data?.by).to.equal(
        'leader-mirror',
      ),
    );

    // Someone else takes the Lease: the manager must stop its controllers and fail.
    await stealLease(leaseName, 'manager-b');
    const outcome = await settled(done);
    expect(outcome).to.be.instanceOf(LeaderElectionLostError);
    expect(mgr.isLeader()).to.equal(false);

    // Its controller stopped for good: queue shut down, no worker busy, master status 0.
    const [controller] = mgr.registeredControllers;
    expect(controller?.queue.shuttingDown).to.equal(true);
    expect(controller?.stats().activeWorkers).to.equal(0);
    const { values } = await mgr.metrics.leaderElectionMasterStatus.get();
    expect(values.find((v) => v.labels.name === leaseName)?.value).to.equal(0);
  });

  it('on a lost Lease, aborts the reconcile in flight and rejects at once, without waiting for it; then sends nothing', async () => {
    const leaseName = 'manager-lost';
    const mgr = leadingManager(leaseName, 'losing');
    let inFlight!: (signal: AbortSignal) => void;
    const started = new Promise<AbortSignal>((r) => (inFlight = r));
    let finish!: () => void;
    const gate = new Promise<void>((r) => (finish = r));
    new ControllerBuilder(mgr, 'stubborn')
      .for(ConfigMaps, { predicates: [matching((o) => o.metadata?.name === 'stubborn')] })
      .complete({
        // Ignores its signal on purpose: losing the Lease must not wait for it.
        async reconcile(_req, ctx) {
          inFlight(ctx.signal);
          await gate;
          return {};
        },
      });
    const { done } = startRunning(mgr);
    try {
      await until(() => expect(mgr.isLeader()).to.equal(true));
      await client.create<ConfigMap>(ConfigMaps, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { namespace, name: 'stubborn' },
      });
      const signal = await started;

      await stealLease(leaseName, 'thief');
      const outcome = await settled(done);
      expect(outcome, 'start() while the reconcile still runs').to.be.instanceOf(LeaderElectionLostError);
      expect(signal.aborted, "the reconcile's signal").to.equal(true);

      // The fence: this manager's client refuses every request from now on, without sending it.
      const before = await requestCount(mgr);
      const refused = await mgr.client.get(ConfigMaps, namespace, 'stubborn').then(
        () => 'sent',
        (err: unknown) => err,
      );
      expect(refused).to.be.instanceOf(LeaderElectionLostError);
      expect(await requestCount(mgr), 'requests counted after the loss').to.equal(before);
      const holder = (
        await client.get<KubeObject & { spec?: { holderIdentity?: string } }>(Leases, namespace, leaseName)
      )?.spec?.holderIdentity;
      expect(holder, 'the Lease is not released by a leader that lost it').to.equal('thief');
    } finally {
      finish();
    }
  });

  it('a controller that fails while leading ends start() with its error and releases the Lease', async () => {
    const leaseName = 'manager-failing';
    const mgr = leadingManager(leaseName, 'failing');
    const broken = new Error('this source can never sync');
    mgr.add(
      new Controller(
        'broken',
        { reconcile: () => Promise.resolve({}) },
        [{ start: () => undefined, waitForSync: () => Promise.reject(broken) }],
        {},
        { logger: quiet, metrics: mgr.metrics },
      ),
    );
    const { done } = startRunning(mgr);
    const outcome = await settled(done);
    expect(outcome).to.equal(broken);
    const lease = await client.get<KubeObject & { spec?: { holderIdentity?: string } }>(
      Leases,
      namespace,
      leaseName,
    );
    expect(lease?.spec?.holderIdentity ?? '', 'released for the standby').to.equal('');
  });

  it('on graceful shutdown, drains in-flight reconciles first and only then releases the Lease', async () => {
    const leaseName = 'manager-release';
    type LeaseObject = KubeObject & { spec?: { holderIdentity?: string; leaseDurationSeconds?: number } };
    const mgr = leadingManager(leaseName, 'releasing');
    let inFlight!: () => void;
    const started = new Promise<void>((r) => (inFlight = r));
    let finish!: () => void;
    const gate = new Promise<void>((r) => (finish = r));
    new ControllerBuilder(mgr, 'gated')
      .for(ConfigMaps, { predicates: [matching((o) => o.metadata?.name === 'gated')] })
      .complete({
        async reconcile() {
          inFlight();
          await gate;
          return {};
        },
      });
    const { stop, done } = startRunning(mgr);
    await until(() => expect(mgr.isLeader()).to.equal(true));
    await client.create<ConfigMap>(ConfigMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace, name: 'gated' },
    });
    await started;

    stop.abort();
    // The reconcile is still running, so the Lease must still be ours (a successor would overlap with it).
    const during = await client.get<LeaseObject>(Leases, namespace, leaseName);
    expect(during?.spec?.holderIdentity).to.equal('releasing');

    finish();
    await done;
    const after = await client.get<LeaseObject>(Leases, namespace, leaseName);
    expect(after?.spec?.holderIdentity ?? '').to.equal('');
    expect(after?.spec?.leaseDurationSeconds).to.equal(1);
  });

  it('on graceful shutdown, writes the Events of the last reconciles before it releases the Lease', async () => {
    const leaseName = 'manager-release-events';
    const mgr = leadingManager(leaseName, 'recording');
    const recorder = mgr.eventRecorder('manager-test/events');
    let shutDown = (): void => undefined;
    new ControllerBuilder(mgr, 'recording')
      .for(ConfigMaps, { predicates: [matching((o) => o.metadata?.name === 'recording')] })
      .complete({
        reconcile() {
          // One Event per object, each its own write, all in flight when the reconcile returns and shutdown begins.
          for (let i = 0; i < 30; i++) {
            const regarding = {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { namespace, name: `cm-${i}`, uid: `uid-${i}` },
            };
            recorder.event(regarding, 'Normal', 'Seen', 'Reconcile', `last words ${i}`);
          }
          shutDown();
          return Promise.resolve({});
        },
      });
    const { stop, done } = startRunning(mgr);
    shutDown = () => stop.abort();
    await until(() => expect(mgr.isLeader()).to.equal(true));
    await client.create<ConfigMap>(ConfigMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace, name: 'recording' },
    });
    await done;

    type LeaseObject = KubeObject & { spec?: { holderIdentity?: string } };
    const lease = await client.get<LeaseObject>(Leases, namespace, leaseName);
    expect(lease?.spec?.holderIdentity ?? '').to.equal('');
    const events = await client.list(EventsV1, { namespace });
    const ours = events.items.filter((e) => (e as { reason?: string }).reason === 'Seen');
    expect(ours).to.have.length(30);
    // resourceVersions are etcd revisions on a single etcd: comparable here, in a test, to order the writes.
    const released = Number(lease?.metadata?.resourceVersion);
    const late = ours.filter((e) => Number(e.metadata?.resourceVersion) > released);
    expect(late.length, 'Events written after the Lease was released').to.equal(0);
  });
});
