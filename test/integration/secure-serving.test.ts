/**
 * The secure server against the real API server: the operator's own Manager, as the shipped
 * ServiceAccount, asks the API server about real ServiceAccount tokens (TokenRequest). Who gets what
 * on /metrics, the debug page and the profiles; a 503 while the API server is cut off (and the
 * operator still running); a certificate replaced on disk served to new connections without a restart.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { selfSignedCertificate, type CertificatePair } from '../../src/runtime/certificates.js';
import type { DebugSnapshot } from '../../src/runtime/debug.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Manager } from '../../src/runtime/manager.js';
import { CHILD_CACHE, setupStudyLabController } from '../../src/studylab/controller.js';
import { cluster, eventually, testNamespace, type Cluster } from '../support/cluster.js';
import { get } from '../support/https.js';
import { installOperatorPrerequisites } from '../support/install.js';
import { TcpProxy, viaProxy } from '../support/tcp-proxy.js';
import { bindClusterRole, serviceAccountToken, unbind } from '../support/tokens.js';

/** How soon a replaced certificate must be served (the figure; the watcher polls every 2 s). */
const CERT_RELOAD_DEADLINE_MS = 10_000;

describe('the secure server (integration)', function () {
  this.timeout(120_000);
  const quiet = createLogger({ stream: new Writable({ write: (_c, _e, done) => done() }) });
  let c: Cluster;
  let namespace: string;
  let proxy: TcpProxy | undefined;
  let manager: Manager;
  const stop = new AbortController();
  let running: Promise<void>;
  let settled: 'resolved' | 'rejected' | undefined;
  let certDir: string;
  let secure: string;
  let probes: string;
  const bindings: string[] = [];
  /** Tokens of ServiceAccounts: with no role, with each reader role. */
  const token: Record<'stranger' | 'reader' | 'debugger' | 'profiler', string> = {
    stranger: '',
    reader: '',
    debugger: '',
    profiler: '',
  };
  let first: CertificatePair;

  function writePair(pair: CertificatePair): void {
    // As a Secret volume does it: the new files appear whole, never half-written.
    for (const [file, content] of [
      ['tls.crt', pair.cert],
      ['tls.key', pair.key],
    ] as const) {
      writeFileSync(join(certDir, `.${file}.tmp`), content);
      renameSync(join(certDir, `.${file}.tmp`), join(certDir, file));
    }
  }

  before(async function () {
    c = await cluster();
    const { kubeconfig } = await installOperatorPrerequisites();
    namespace = await testNamespace('secure');
    token.stranger = serviceAccountToken(c, namespace, 'stranger');
    const roles = {
      reader: 'studylab-metrics-reader',
      debugger: 'studylab-debug-reader',
      profiler: 'studylab-profiler',
    } as const;
    for (const [who, role] of Object.entries(roles) as [keyof typeof roles, string][]) {
      token[who] = serviceAccountToken(c, namespace, who);
      bindings.push(bindClusterRole(c, role, namespace, who));
    }

    const operatorKc = new KubeConfig();
    operatorKc.loadFromFile(kubeconfig);
    // Behind a proxy on the local plane, so a test can cut the operator off from the API server.
    if (c.local) proxy = await TcpProxy.start(Number(new URL(c.local.apiServerUrl).port));

    certDir = mkdtempSync(join(tmpdir(), 'studylab-certs-'));
    first = selfSignedCertificate(['localhost', '127.0.0.1']);
    writePair(first);

    manager = new Manager({
      kubeConfig: proxy ? viaProxy(operatorKc, proxy.port) : operatorKc,
      namespace,
      logger: quiet,
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
      metricsCertDir: certDir,
      profiling: true,
      cacheByType: CHILD_CACHE,
    });
    setupStudyLabController(manager, { maxConcurrentReconciles: 2 });
    running = manager.start(stop.signal);
    running.then(
      () => (settled = 'resolved'),
      () => (settled = 'rejected'),
    );
    await eventually(() => Promise.resolve(expect(manager.ready).to.equal(true)), { timeoutMs: 60_000 });
    secure = `https://127.0.0.1:${manager.metricsAddress!.port}`;
    probes = `http://127.0.0.1:${manager.healthProbeAddress!.port}`;
  });

  after(async function () {
    proxy?.unblock();
    stop.abort();
    await running?.catch(() => undefined);
    await proxy?.close();
    for (const b of bindings) unbind(c, b);
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  describe('/metrics', function () {
    it('401 without a token', async function () {
      const res = await get(`${secure}/metrics`);
      expect(res.status).to.equal(401);
      expect(res.headers['www-authenticate']).to.equal('Bearer');
      expect(res.body).to.not.match(/controller_runtime/);
    });

    it('401 with a token the API server does not know', async function () {
      const forged = `${token.reader.slice(0, -8)}AAAAAAAA`;
      expect((await get(`${secure}/metrics`, { token: forged })).status).to.equal(401);
    });

    it('403 with a ServiceAccount token that lacks the role', async function () {
      const res = await get(`${secure}/metrics`, { token: token.stranger });
      expect(res.status).to.equal(403);
      expect(res.body).to.contain(
        `user "system:serviceaccount:${namespace}:stranger" may not get path "/metrics"`,
      );
    });

    it('200 with the metrics-reader role, with the controller-runtime metric names', async function () {
      const res = await get(`${secure}/metrics`, { token: token.reader });
      expect(res.status).to.equal(200);
      expect(res.protocol).to.match(/^TLSv1\.[23]$/);
      for (const name of [
        'controller_runtime_reconcile_total',
        'controller_runtime_reconcile_errors_total',
        'controller_runtime_active_workers',
        'workqueue_depth',
        'rest_client_requests_total',
      ]) {
        expect(res.body, name).to.match(new RegExp(`^# TYPE ${name} `, 'm'));
      }
    });
  });

  describe('/debug/controllers', function () {
    it('401 without a token', async function () {
      expect((await get(`${secure}/debug/controllers`)).status).to.equal(401);
    });

    it('403 for a ServiceAccount without the role, the metrics reader included', async function () {
      expect((await get(`${secure}/debug/controllers`, { token: token.stranger })).status).to.equal(403);
      const reader = await get(`${secure}/debug/controllers`, { token: token.reader });
      expect(reader.status).to.equal(403);
      expect(reader.body).to.contain('may not get path "/debug/controllers"');
    });

    it('the live page, its stream and the history: 401, 403 for the metrics reader, 200 for the debug reader', async function () {
      for (const path of ['/debug/controllers/live', '/debug/controllers/history']) {
        expect((await get(`${secure}${path}`)).status, path).to.equal(401);
        expect((await get(`${secure}${path}`, { token: token.reader })).status, path).to.equal(403);
        const res = await get(`${secure}${path}`, { token: token.debugger });
        expect(res.status, path).to.equal(200);
      }
      expect((await get(`${secure}/debug/controllers/stream`)).status).to.equal(401);
      expect((await get(`${secure}/debug/controllers/stream`, { token: token.reader })).status).to.equal(403);
    });

    it('200 with the debug-reader role: the controllers and informers', async function () {
      const res = await get(`${secure}/debug/controllers`, { token: token.debugger });
      expect(res.status).to.equal(200);
      const page = JSON.parse(res.body) as DebugSnapshot;
      expect(page.controllers.map((x) => x.name)).to.deep.equal(['studylab']);
      expect(page.ready).to.equal(true);
    });
  });

  describe('the probe port', function () {
    it('serves /healthz and /readyz to anyone, and nothing else', async function () {
      expect((await get(`${probes}/healthz`)).status).to.equal(200);
      expect((await get(`${probes}/readyz`)).status).to.equal(200);
      for (const path of ['/debug/controllers', '/metrics', '/debug/pprof/heap']) {
        expect((await get(`${probes}${path}`)).status, path).to.equal(404);
      }
    });
  });

  describe('profiles (--profiling)', function () {
    it('are refused to the debug reader', async function () {
      for (const path of ['/debug/pprof/heap', '/debug/pprof/profile?seconds=1']) {
        expect((await get(`${secure}${path}`, { token: token.debugger })).status, path).to.equal(403);
      }
    });

    it('a CPU profile over ?seconds=1 is a .cpuprofile (nodes, samples, start and end times)', async function () {
      const res = await get(`${secure}/debug/pprof/profile?seconds=1`, { token: token.profiler });
      expect(res.status).to.equal(200);
      expect(res.headers['content-disposition']).to.match(/\.cpuprofile"$/);
      const profile = JSON.parse(res.body) as {
        nodes: unknown[];
        samples: number[];
        startTime: number;
        endTime: number;
      };
      expect(profile.nodes.length).to.be.greaterThan(0);
      expect(profile.samples).to.be.an('array');
      // The profile ran for the second asked (V8's clock is in microseconds).
      expect(profile.endTime - profile.startTime).to.be.at.least(1_000_000);
    });

    it('a heap snapshot is V8 .heapsnapshot JSON', async function () {
      const res = await get(`${secure}/debug/pprof/heap`, { token: token.profiler });
      expect(res.status).to.equal(200);
      expect(res.headers['content-disposition']).to.match(/\.heapsnapshot"$/);
      const snapshot = JSON.parse(res.body) as { snapshot: { meta: object; node_count: number } };
      expect(snapshot.snapshot.meta).to.have.property('node_fields');
      expect(snapshot.snapshot.node_count).to.be.greaterThan(1000);
    });

    it('?seconds out of range is a 400', async function () {
      expect(
        (await get(`${secure}/debug/pprof/profile?seconds=0`, { token: token.profiler })).status,
      ).to.equal(400);
    });
  });

  describe('switches', function () {
    it('--debug-endpoints=false and no --profiling leave /metrics alone; --metrics-secure=false is plain, open HTTP', async function () {
      const local = new Manager({
        kubeConfig: c.kubeConfig,
        namespace,
        logger: quiet,
        metricsBindAddress: '127.0.0.1:0',
        metricsSecure: false,
        debugEndpoints: false,
        healthProbeBindAddress: '0',
        cacheByType: CHILD_CACHE,
      });
      setupStudyLabController(local, { maxConcurrentReconciles: 1 });
      const localStop = new AbortController();
      const done = local.start(localStop.signal);
      try {
        await eventually(() => Promise.resolve(expect(local.ready).to.equal(true)), { timeoutMs: 60_000 });
        const base = `http://127.0.0.1:${local.metricsAddress!.port}`;
        expect((await get(`${base}/metrics`)).status, 'no token needed').to.equal(200);
        for (const path of ['/debug/controllers', '/debug/pprof/heap', '/debug/pprof/profile']) {
          expect((await get(`${base}${path}`)).status, path).to.equal(404);
        }
      } finally {
        localStop.abort();
        await done;
      }
    });
  });

  describe('when the API server cannot be reached', function () {
    it('answers 503, never 200, to a token it has not reviewed yet; keeps running; recovers', async function () {
      if (!proxy) this.skip(); // only the local plane can be cut off
      const late = serviceAccountToken(c, namespace, 'late');
      bindings.push(bindClusterRole(c, 'studylab-metrics-reader', namespace, 'late'));
      proxy.block();
      try {
        const res = await get(`${secure}/metrics`, { token: late });
        expect(res.status).to.equal(503);
        expect(res.body).to.not.match(/controller_runtime/);
        expect((await get(`${secure}/debug/controllers`, { token: late })).status).to.equal(503);
        expect((await get(`${probes}/healthz`)).status, 'the process is alive').to.equal(200);
        expect(settled, 'the manager is still running').to.equal(undefined);
      } finally {
        proxy.unblock();
      }
      // Failures to ask are not cached: the same token works once the API server is back.
      await eventually(
        async () => expect((await get(`${secure}/metrics`, { token: late })).status).to.equal(200),
        {
          timeoutMs: 30_000,
        },
      );
    });
  });

  describe('certificate rotation', function () {
    it(`serves the replaced certificate to a new connection within ${CERT_RELOAD_DEADLINE_MS / 1000} s, without a restart`, async function () {
      const before = await get(`${secure}/metrics`, { token: token.reader });
      expect(before.fingerprint256).to.equal(new X509Certificate(first.cert).fingerprint256);
      const port = manager.metricsAddress!.port;

      const second = selfSignedCertificate(['localhost', '127.0.0.1']);
      const wanted = new X509Certificate(second.cert).fingerprint256;
      const replacedAt = Date.now();
      writePair(second);
      await eventually(
        async () =>
          expect((await get(`${secure}/metrics`, { token: token.reader })).fingerprint256).to.equal(wanted),
        { timeoutMs: CERT_RELOAD_DEADLINE_MS, intervalMs: 200 },
      );
      console.log(`      new certificate served ${Date.now() - replacedAt} ms after the files were replaced`);
      // Verified against the new certificate as its CA, on the same listening port: no restart.
      const verified = await get(`${secure}/metrics`, { token: token.reader, ca: second.cert });
      expect(verified.status).to.equal(200);
      expect(manager.metricsAddress!.port).to.equal(port);
      expect(settled).to.equal(undefined);
    });
  });
});
