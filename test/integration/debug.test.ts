/**
 * /debug/controllers against the real API server: a Manager running the StudyLab controller with leader
 * election, two labs (one converges, one waits for a ConfigMap), and the page fetched over HTTP.
 */
import { Writable } from 'node:stream';
import { request } from 'node:http';
import { expect } from 'chai';
import type { KubeConfig } from '@kubernetes/client-node';
import type { StudyLab } from '../../src/api/v1alpha1/index.js';
import { Client } from '../../src/runtime/client.js';
import type { DebugSnapshot } from '../../src/runtime/debug.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Manager } from '../../src/runtime/manager.js';
import { Deployments } from '../../src/runtime/resources.js';
import { CHILD_CACHE, setupStudyLabController } from '../../src/studylab/controller.js';
import { StudyLabs } from '../../src/studylab/resources.js';
import { cluster, eventually, testNamespace } from '../support/cluster.js';
import { installOperatorPrerequisites } from '../support/install.js';

/** A value that must never appear on the page: it lives only in a lab's spec. */
const SECRET_LOOKING_VALUE = 'do-not-show-this-value-4711';

function httpGet(
  port: number,
  path: string,
  accept?: string,
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: false, headers: accept ? { accept } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('/debug/controllers (integration)', function () {
  this.timeout(180_000);
  let kubeConfig: KubeConfig;
  let client: Client;
  let namespace: string;
  let manager: Manager;
  let port: number;
  const stop = new AbortController();
  let running: Promise<void>;
  const quiet = createLogger({ stream: new Writable({ write: (_c, _e, done) => done() }) });

  const lab = (name: string, env: { name: string; value?: string; valueFrom?: unknown }): StudyLab =>
    ({
      apiVersion: 'studylab.io/v1alpha1',
      kind: 'StudyLab',
      metadata: { namespace, name },
      spec: {
        app: {
          image: 'nginxinc/nginx-unprivileged:1.27',
          ports: [{ name: 'http', containerPort: 8080 }],
          env: [env],
        },
      },
    }) as unknown as StudyLab;

  const snapshot = async (): Promise<DebugSnapshot> => {
    const res = await httpGet(port, '/debug/controllers');
    expect(res.status).to.equal(200);
    expect(res.type).to.equal('application/json');
    return JSON.parse(res.body) as DebugSnapshot;
  };

  before(async function () {
    await installOperatorPrerequisites();
    kubeConfig = (await cluster()).kubeConfig;
    client = new Client(kubeConfig);
    namespace = await testNamespace('debug');
    manager = new Manager({
      kubeConfig,
      namespace,
      logger: quiet,
      // The debug page is on the metrics server; plain HTTP here, secure-serving.test.ts covers its authorization.
      metricsBindAddress: '127.0.0.1:0',
      metricsSecure: false,
      healthProbeBindAddress: '0',
      cacheByType: CHILD_CACHE,
      leaderElection: {
        namespace,
        name: 'debug-test',
        identity: 'debug-test-1',
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 1_000,
      },
    });
    setupStudyLabController(manager, { maxConcurrentReconciles: 2, highPriorityWorkers: 1 });
    running = manager.start(stop.signal);
    await eventually(() => Promise.resolve(expect(manager.isLeader()).to.equal(true)), { timeoutMs: 60_000 });
    port = manager.metricsAddress?.port as number;
  });

  after(async function () {
    stop.abort();
    await running;
  });

  it('shows synced informers, the queue, the workers and the leader before any lab exists', async function () {
    const s = await eventually(async () => {
      const got = await snapshot();
      expect(got.leader).to.include({ leader: 'debug-test-1' });
      return got;
    });
    expect(s.ready).to.equal(true);
    expect(s.leader).to.deep.equal({
      enabled: true,
      isLeader: true,
      lease: `${namespace}/debug-test`,
      identity: 'debug-test-1',
      leader: 'debug-test-1',
    });
    expect(s.informers.map((i) => i.kind).sort()).to.deep.equal([
      'Deployment',
      'Event',
      'NetworkPolicy',
      'PersistentVolumeClaim',
      'Pod',
      'Service',
      'StudyLab',
    ]);
    for (const i of s.informers) {
      expect(i, i.kind).to.include({ synced: true, state: 'Watching', namespace, relists: 0, objects: 0 });
      expect(Number(i.resourceVersion), `${i.kind} resourceVersion`).to.be.above(0);
      if (i.kind === 'Event')
        expect(i.fieldSelector).to.equal('involvedObject.kind=PersistentVolumeClaim,type=Warning');
      else if (i.kind !== 'StudyLab')
        expect(i.labelSelector).to.equal('app.kubernetes.io/managed-by=studylab-operator');
    }
    expect(s.controllers).to.have.length(1);
    expect(s.controllers[0]).to.deep.include({
      name: 'studylab',
      workers: 3,
      highPriorityWorkers: 1,
      activeWorkers: 0,
      queue: {
        depth: 0,
        depthByPriority: { low: 0, normal: 0, high: 0 },
        ready: [],
        processing: [],
        waiting: [],
      },
      recent: [],
    });
  });

  it('after two labs: their reconciles, one key waiting for its recheck, last event times, and no object contents', async function () {
    const createdFrom = Date.now();
    await client.create(StudyLabs, lab('web', { name: 'TOKEN', value: SECRET_LOOKING_VALUE }));
    await client.create(
      StudyLabs,
      lab('waits', { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'not-there', key: 'k' } } }),
    );
    // What the page says is checked against the API server: the lab it reports reconciled has children.
    await eventually(async () => {
      const d = await client.get(Deployments, namespace, 'web');
      if (!d) throw new Error('no Deployment yet');
    });

    const s = await eventually(async () => {
      const got = await snapshot();
      const c = got.controllers[0]!;
      expect(c.recent.some((r) => r.key === `${namespace}/web` && r.result === 'success')).to.equal(true);
      expect(c.recent.some((r) => r.key === `${namespace}/waits` && r.result === 'requeue_after')).to.equal(
        true,
      );
      expect(c.queue.waiting.map((w) => w.key)).to.include(`${namespace}/waits`);
      return got;
    });
    const c = s.controllers[0]!;
    const waiting = c.queue.waiting.find((w) => w.key === `${namespace}/waits`)!;
    expect(waiting.retries, 'a requeueAfter is not a failure').to.equal(0);
    const requeued = c.recent.find((r) => r.key === `${namespace}/waits`)!;
    expect(requeued.requeueAfterMs).to.equal(15_000);
    // Counted down from the requeueAfter the reconcile asked for, never beyond it.
    expect(waiting.readyInMs).to.be.within(0, requeued.requeueAfterMs!);
    expect(requeued.reconcileID).to.match(/^[0-9a-f]{8}$/);
    // Records are kept as reconciles finish; with 2 workers a later start can finish first, so compare ends
    // (the pods' events make overlapping reconciles of one lab's neighbours common). 1 ms for rounding.
    const endOf = (r: { startedAt: Date | string; durationMs: number }) =>
      new Date(r.startedAt).getTime() + r.durationMs;
    expect(endOf(c.recent[0]!), 'most recent first').to.be.at.least(
      endOf(c.recent[c.recent.length - 1]!) - 1,
    );
    const labs = s.informers.find((i) => i.kind === 'StudyLab')!;
    expect(labs.objects).to.equal(2);
    expect(Date.parse(String(labs.lastEventAt)), 'the last event is one of these labs').to.be.at.least(
      createdFrom,
    );
    expect(s.informers.find((i) => i.kind === 'Deployment')!.objects).to.equal(1);

    const json = await httpGet(port, '/debug/controllers?recent=100');
    const html = await httpGet(port, '/debug/controllers', 'text/html,application/xhtml+xml');
    for (const body of [json.body, html.body]) {
      expect(body).to.contain(`${namespace}/web`);
      expect(body, 'keys and states only').not.to.contain(SECRET_LOOKING_VALUE);
      expect(body).not.to.contain('nginx-unprivileged');
    }
  });

  it('serves a small HTML page to a browser, JSON when asked for, and ?recent=N', async function () {
    const html = await httpGet(port, '/debug/controllers', 'text/html');
    expect(html.status).to.equal(200);
    expect(html.type).to.equal('text/html; charset=utf-8');
    expect(html.body).to.match(/^<!doctype html>/);
    expect(html.body).to.contain('<h2>controller studylab</h2>');
    expect(html.body).to.contain(`leading on Lease ${namespace}/debug-test`);
    expect(html.body).to.match(/<td>StudyLab<\/td><td>[^<]+<\/td><td><\/td><td>true<\/td><td>Watching<\/td>/);

    const forced = await httpGet(port, '/debug/controllers?format=json', 'text/html');
    expect(forced.type).to.equal('application/json');
    const one = JSON.parse((await httpGet(port, '/debug/controllers?recent=1')).body) as DebugSnapshot;
    expect(one.controllers[0]!.recent).to.have.length(1);
  });
});
