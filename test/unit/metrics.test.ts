import { expect } from 'chai';
import { register as globalRegistry } from 'prom-client';
import { Metrics } from '../../src/runtime/metrics.js';

/** Parses the text exposition into series: name -> label sets (with values). */
async function series(
  metrics: Metrics,
): Promise<{ name: string; labels: Record<string, string>; value: number }[]> {
  const text = await metrics.registry.metrics();
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[pair[1] ?? ''] = pair[2] ?? '';
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return out;
}

function find(
  all: { name: string; labels: Record<string, string>; value: number }[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  return all.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

/** controller-runtime's names and label sets (CLIENT-NODE.md), plus the informer metrics. */
const EXPECTED_LABELS: Record<string, string[]> = {
  controller_runtime_reconcile_total: ['controller', 'result'],
  controller_runtime_reconcile_errors_total: ['controller'],
  controller_runtime_terminal_reconcile_errors_total: ['controller'],
  controller_runtime_reconcile_time_seconds_count: ['controller'],
  controller_runtime_max_concurrent_reconciles: ['controller'],
  controller_runtime_active_workers: ['controller'],
  workqueue_depth: ['controller', 'name', 'priority'],
  workqueue_adds_total: ['controller', 'name'],
  workqueue_queue_duration_seconds_count: ['controller', 'name'],
  workqueue_work_duration_seconds_count: ['controller', 'name'],
  workqueue_unfinished_work_seconds: ['controller', 'name'],
  workqueue_longest_running_processor_seconds: ['controller', 'name'],
  workqueue_retries_total: ['controller', 'name'],
  rest_client_requests_total: ['code', 'host', 'method'],
  rest_client_request_duration_seconds_count: ['host', 'verb'],
  leader_election_master_status: ['name'],
  informer_relists_total: ['kind'],
  informer_watch_restarts_total: ['kind'],
  informer_events_total: ['kind', 'type'],
  informer_handler_errors_total: ['kind'],
};

describe('Metrics', function () {
  it('exposes every controller-runtime name with its label set', async function () {
    const m = new Metrics();
    m.initController('studylab', 2);
    m.initInformer('ConfigMap');
    m.restClientRequests.inc({ code: '200', method: 'GET', host: '127.0.0.1:6443' });
    m.restClientRequestDuration.observe({ verb: 'GET', host: '127.0.0.1:6443' }, 0.01);
    m.leaderElectionMasterStatus.set({ name: 'studylab-operator' }, 1);
    m.informerEvents.inc({ kind: 'ConfigMap', type: 'ADDED' });

    const all = await series(m);
    for (const [name, labels] of Object.entries(EXPECTED_LABELS)) {
      const found = all.filter((s) => s.name === name);
      expect(found, name).to.not.be.empty;
      for (const s of found) expect(Object.keys(s.labels).sort(), name).to.deep.equal(labels);
    }
  });

  it('initController creates every per-controller series at 0 and records the worker count', async function () {
    const m = new Metrics();
    m.initController('lab', 4);
    const all = await series(m);

    for (const result of ['success', 'error', 'requeue', 'requeue_after']) {
      expect(find(all, 'controller_runtime_reconcile_total', { controller: 'lab', result }), result).to.equal(
        0,
      );
    }
    expect(find(all, 'controller_runtime_reconcile_errors_total', { controller: 'lab' })).to.equal(0);
    expect(find(all, 'controller_runtime_terminal_reconcile_errors_total', { controller: 'lab' })).to.equal(
      0,
    );
    expect(find(all, 'controller_runtime_reconcile_time_seconds_count', { controller: 'lab' })).to.equal(0);
    expect(find(all, 'controller_runtime_active_workers', { controller: 'lab' })).to.equal(0);
    expect(find(all, 'controller_runtime_max_concurrent_reconciles', { controller: 'lab' })).to.equal(4);
    const queue = { name: 'lab', controller: 'lab' };
    for (const priority of ['low', 'normal', 'high'])
      expect(find(all, 'workqueue_depth', { ...queue, priority }), priority).to.equal(0);
    for (const name of [
      'workqueue_adds_total',
      'workqueue_retries_total',
      'workqueue_unfinished_work_seconds',
      'workqueue_longest_running_processor_seconds',
      'workqueue_queue_duration_seconds_count',
      'workqueue_work_duration_seconds_count',
    ]) {
      expect(find(all, name, queue), name).to.equal(0);
    }
  });

  it('initController called again keeps the values already recorded', async function () {
    const m = new Metrics();
    m.initController('lab', 1);
    m.reconcileTotal.inc({ controller: 'lab', result: 'success' });
    m.activeWorkers.set({ controller: 'lab' }, 1);
    m.reconcileTime.observe({ controller: 'lab' }, 0.2);
    m.initController('lab', 3);

    const all = await series(m);
    expect(
      find(all, 'controller_runtime_reconcile_total', { controller: 'lab', result: 'success' }),
    ).to.equal(1);
    expect(find(all, 'controller_runtime_active_workers', { controller: 'lab' })).to.equal(1);
    expect(find(all, 'controller_runtime_reconcile_time_seconds_count', { controller: 'lab' })).to.equal(1);
    expect(find(all, 'controller_runtime_max_concurrent_reconciles', { controller: 'lab' })).to.equal(3);
  });

  it('uses a registry of its own: two instances coexist and the global registry stays empty', async function () {
    const a = new Metrics();
    const b = new Metrics();
    a.reconcileErrors.inc({ controller: 'x' });
    expect(find(await series(a), 'controller_runtime_reconcile_errors_total', { controller: 'x' })).to.equal(
      1,
    );
    expect(find(await series(b), 'controller_runtime_reconcile_errors_total', { controller: 'x' })).to.equal(
      undefined,
    );
    expect(globalRegistry.getSingleMetric('controller_runtime_reconcile_total')).to.equal(undefined);
  });

  it('collects Node.js process metrics only when asked', async function () {
    const plain = (await new Metrics().registry.metrics()).includes('process_cpu_user_seconds_total');
    const withDefaults = (await new Metrics({ defaultMetrics: true }).registry.metrics()).includes(
      'process_cpu_user_seconds_total',
    );
    expect(plain).to.equal(false);
    expect(withDefaults).to.equal(true);
  });

  it('rejects labels outside a metric label set (so object names cannot sneak in)', function () {
    const m = new Metrics();
    expect(() =>
      m.reconcileTotal.inc({ controller: 'c', result: 'success', name: 'my-object' } as never),
    ).to.throw(/name/);
  });
});
