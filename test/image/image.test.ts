/**
 * The operator image, built from the Dockerfile and run as a container against the local plane, the
 * way deploy/ runs it: non-root (65532), read-only root filesystem, no capabilities, no privilege
 * escalation, node as PID 1, the shipped ServiceAccount's token in a kubeconfig mounted read-only.
 *
 * `make test-image` prepares what this needs (a Docker engine, base images, the build) and passes the
 * image's tag in STUDYLAB_IMAGE. The containers use --network=host so that they reach the plane on
 * 127.0.0.1; no traffic leaves the machine.
 */
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api, CustomObjectsApi, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { freePorts, kubectl, OPERATOR_NAMESPACE, REPO_ROOT } from '../../src/testenv/index.js';
import { cluster, eventually, readLab, testNamespace, type Cluster } from '../support/cluster.js';
import {
  docker,
  dockerUnavailable,
  IMAGE,
  imageFiles,
  runOperator,
  writableBy,
  type Container,
  type TarEntry,
} from '../support/docker.js';
import { installOperatorPrerequisites } from '../support/install.js';

const deployment = parse(readFileSync(`${REPO_ROOT}/deploy/base/deployment.yaml`, 'utf8')) as {
  spec: {
    template: { spec: { terminationGracePeriodSeconds: number; containers: { args?: string[] }[] } };
  };
};
/** What Kubernetes gives the pod between SIGTERM and SIGKILL; `docker stop` gets the same. */
const GRACE_SECONDS = deployment.spec.template.spec.terminationGracePeriodSeconds;
/**
 * The Deployment's container args, which replace the image's CMD as `docker run IMAGE args...` does,
 * minus the listen addresses: with the host's network, each container needs ports of its own.
 */
const DEPLOYMENT_ARGS = (deployment.spec.template.spec.containers[0]!.args ?? []).filter(
  (a) => !/^--(metrics|health-probe)-bind-address(=|$)/.test(a),
);

/** The leader-election timings deploy/ runs with: the flags' defaults (main.ts), set explicitly here. */
const LEASE_SECONDS = 15;
const RENEW_DEADLINE_SECONDS = 10;
const RETRY_SECONDS = 2;
/** A candidate waits retryPeriod * [1, 2.2) between attempts (client-go's jitter, leader-election.ts). */
const MAX_RETRY_WAIT_SECONDS = RETRY_SECONDS * 2.2;

const RUN_ID = `${process.pid}-${randomBytes(2).toString('hex')}`;
let containerCounter = 0;

describe('the operator image, as a container against the local plane (image)', function () {
  this.timeout(300_000);
  let c: Cluster;
  let configDir: string;
  let leases: CoordinationV1Api;
  const containers: Container[] = [];

  before(async function () {
    const why = dockerUnavailable();
    if (why) throw new Error(`cannot test the image: ${why}`);
    c = await cluster();
    const { kubeconfig } = await installOperatorPrerequisites();
    configDir = containerKubeconfigDir(kubeconfig);
    leases = c.kubeConfig.makeApiClient(CoordinationV1Api);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const k of containers) console.error(`--- docker logs ${k.name} ---\n${k.logs()}`);
    }
  });

  after(function () {
    for (const k of containers.splice(0)) k.remove();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  /** Starts the image with the args a Deployment replica gets, on a probe port of its own. */
  async function start(
    leaseId: string,
    extra: string[] = [],
  ): Promise<Container & { probes: string; metrics: string }> {
    const [port, metricsPort] = (await freePorts(2)) as [number, number];
    const name = `studylab-image-test-${RUN_ID}-${++containerCounter}`;
    const container = runOperator({
      name,
      configDir,
      env: { POD_NAME: name },
      args: [
        ...DEPLOYMENT_ARGS,
        '--kubeconfig=/etc/studylab/kubeconfig',
        `--health-probe-bind-address=127.0.0.1:${port}`,
        // The secure server as deployed (HTTPS, self-signed, TokenReview), on a port of its own.
        `--metrics-bind-address=127.0.0.1:${metricsPort}`,
        // A Lease of its own per test, so no other suite's operator competes for it.
        `--leader-election-id=${leaseId}`,
        `--lease-duration=${LEASE_SECONDS}`,
        `--renew-deadline=${RENEW_DEADLINE_SECONDS}`,
        `--retry-period=${RETRY_SECONDS}`,
        ...extra,
      ],
    });
    containers.push(container);
    return Object.assign(container, {
      probes: `http://127.0.0.1:${port}`,
      metrics: `https://127.0.0.1:${metricsPort}/metrics`,
    });
  }

  async function waitReady(k: Container & { probes: string }, timeoutMs = 90_000): Promise<void> {
    let exited: number | undefined;
    await eventually(
      async () => {
        exited ??= k.exitCode();
        if (exited !== undefined) return; // it will not become ready: fail now, below
        const res = await fetch(`${k.probes}/readyz`);
        if (res.status !== 200) throw new Error(`readyz ${res.status}`);
      },
      { timeoutMs, intervalMs: 250 },
    );
    if (exited !== undefined) throw new Error(`${k.name} exited with ${exited}:\n${k.logs()}`);
  }

  /** The Lease's holder, '' when released; throws when there is no Lease. */
  async function holder(leaseId: string): Promise<string> {
    const lease: V1Lease = await leases.readNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: leaseId });
    return lease.spec?.holderIdentity ?? '';
  }

  /** Resolves once the Lease names `k` (identity = POD_NAME + '_' + random, see main.ts). */
  async function waitLeading(leaseId: string, k: Container, timeoutMs: number): Promise<void> {
    await eventually(
      async () => {
        const h = await holder(leaseId);
        if (!h.startsWith(`${k.name}_`)) throw new Error(`the Lease is held by '${h}', not ${k.name}`);
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  describe('inside the image', function () {
    let files: TarEntry[];
    before(function () {
      files = imageFiles();
    });

    it('records its size', function () {
      const bytes = Number(docker(['image', 'inspect', '--format', '{{.Size}}', IMAGE]).trim());
      console.log(`      image ${IMAGE}: ${(bytes / 1e6).toFixed(1)} MB`);
      expect(bytes).to.be.greaterThan(0);
    });

    it('runs main.mjs with node as the entrypoint, as 65532, and passes its args to main.mjs', function () {
      const config = JSON.parse(docker(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])) as {
        User: string;
        Entrypoint: string[] | null;
        Cmd: string[] | null;
      };
      expect(config.User).to.equal('65532:65532');
      expect(config.Entrypoint).to.deep.equal([config.Entrypoint![0], '--max-semi-space-size=1', 'main.mjs']);
      expect(config.Entrypoint![0]).to.match(/\/node$/);
      // Args replace the CMD (the Deployment's `args:` too): they must be the operator's flags.
      const help = docker(['run', '--rm', '--network=none', IMAGE, '--help']);
      expect(help).to.match(/^usage: studylab-operator/);
      expect(help).to.contain('--leader-elect');
    });

    it('holds the operator as one bundled file: no node_modules, no sources, no test environment', function () {
      const app = files.filter((f) => f.path.startsWith('app/')).map((f) => f.path);
      expect(app).to.deep.equal(['app/main.mjs']);
      expect(files.filter((f) => f.path.includes('node_modules/')).map((f) => f.path)).to.deep.equal([]);
      // The plane's code would name its binaries; the bundle reaches none of src/testenv.
      const bundle = nodeInImage(
        `process.stdout.write(require('node:fs').readFileSync('/app/main.mjs', 'utf8'))`,
      );
      expect(bundle).to.contain('studylab-operator');
      expect(bundle).to.not.contain('LocalControlPlane');
      expect(bundle).to.not.contain('kube-apiserver --');
    });

    it('has no shell and no package manager', function () {
      const tools = /(^|\/)(sh|bash|dash|ash|busybox|apt|apt-get|dpkg|npm|npx)$/;
      // node_modules may carry scripts named like tools (e.g. a .bin shim); they cannot run without a shell.
      const found = files.filter((f) => tools.test(f.path) && !f.path.includes('node_modules/'));
      expect(found.map((f) => f.path)).to.deep.equal([]);
      const run = (): string =>
        docker(['run', '--rm', '--network=none', '--entrypoint', '/bin/sh', IMAGE, '-c', 'true']);
      expect(run).to.throw(/no such file or directory/);
    });

    it('lets the running user write no file: only /tmp and its home, which --read-only closes too', function () {
      const writable = files.filter((f) => writableBy(f, 65532, 65532)).map((f) => f.path);
      expect(writable.filter((p) => !/^(tmp|home\/nonroot)$/.test(p))).to.deep.equal([]);
      expect(files.filter((f) => f.path.startsWith('app') && f.uid === 65532)).to.deep.equal([]);
      // The same, asked of the kernel: no --read-only here, so only file permissions stand in the way.
      const out = nodeInImage(
        `const fs = require('node:fs');
         for (const p of ['/app/main.mjs', '/app/x']) {
           try { fs.writeFileSync(p, 'x'); console.log(p + ' written'); } catch (e) { console.log(p + ' ' + e.code); }
         }`,
      );
      expect(out.trim().split('\n')).to.deep.equal(['/app/main.mjs EACCES', '/app/x EACCES']);
    });
  });

  describe('one replica, run as deploy/ runs it', function () {
    const leaseId = `image-one-${RUN_ID}`;
    let ns: string;
    let first: Container & { probes: string; metrics: string };

    before(async function () {
      ns = await testNamespace('image');
    });

    it('becomes ready with node as PID 1, leads, and makes samples/01-clusterip.yaml Ready', async function () {
      first = await start(leaseId, [`--namespace=${ns}`]);
      await waitReady(first);
      const pid = docker(['inspect', '--format', '{{.State.Pid}}', first.name]).trim();
      // State.Pid is the container's PID 1 as the host sees it.
      expect(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()).to.equal('node');
      await waitLeading(leaseId, first, 30_000);
      // The secure metrics server runs on a read-only root as 65532: its certificate is made in
      // memory, and a request without a token is refused.
      expect(await httpsStatus(first.metrics)).to.equal(401);

      kubectl(c, ['apply', '-n', ns, '-f', `${REPO_ROOT}/samples/01-clusterip.yaml`]);
      const custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
      const lab = await eventually(
        async () => {
          const l = await readLab(custom, ns, 'clusterip');
          if (l.status?.phase !== 'Ready') throw new Error(`phase ${l.status?.phase}`);
          return l;
        },
        { timeoutMs: 120_000, intervalMs: 250 },
      );
      expect(lab.status?.readyReplicas).to.equal(1);
      expect(kubectl(c, ['get', 'service', 'clusterip', '-n', ns, '-o', 'name']).trim()).to.equal(
        'service/clusterip',
      );
    });

    it(`stops on docker stop within terminationGracePeriodSeconds (${GRACE_SECONDS} s), exit 0, the Lease released`, async function () {
      expect(first, 'the previous test started the container').to.not.equal(undefined);
      expect(first.exitCode()).to.equal(undefined);
      const t0 = performance.now();
      const code = await first.stop(GRACE_SECONDS);
      const seconds = (performance.now() - t0) / 1000;
      console.log(`      docker stop took ${seconds.toFixed(2)} s (grace ${GRACE_SECONDS} s)`);
      // docker stop sends SIGKILL at the end of the grace period: the exit code would then be 137.
      expect(code, first.logs()).to.equal(0);
      expect(seconds).to.be.lessThan(GRACE_SECONDS);
      expect(first.logs(200)).to.contain('Released leader lease');
      expect(await holder(leaseId)).to.equal('');
    });

    it('a new replica takes the released Lease at once, not after the lease duration', async function () {
      expect(await holder(leaseId), 'the previous test released the Lease').to.equal('');
      const t0 = performance.now();
      const next = await start(leaseId, [`--namespace=${ns}`]);
      // Had the Lease been left held, a newcomer would first wait LEASE_SECONDS from its first read.
      await waitLeading(leaseId, next, LEASE_SECONDS * 1000);
      const seconds = (performance.now() - t0) / 1000;
      console.log(`      a new container led ${seconds.toFixed(2)} s after docker run`);
      expect(seconds).to.be.lessThan(LEASE_SECONDS);
      expect(await next.stop(GRACE_SECONDS)).to.equal(0);
    });
  });

  describe('two replicas with --leader-elect', function () {
    const leaseId = `image-two-${RUN_ID}`;
    let ns: string;

    before(async function () {
      ns = await testNamespace('image-two');
    });

    it('one leads; docker kill of the leader hands the Lease to the other within the lease duration', async function () {
      const a = await start(leaseId, [`--namespace=${ns}`]);
      const b = await start(leaseId, [`--namespace=${ns}`]);
      await Promise.all([waitReady(a), waitReady(b)]);
      const leaderName = await eventually(
        async () => {
          const h = await holder(leaseId);
          const k = [a, b].find((x) => h.startsWith(`${x.name}_`));
          if (!k) throw new Error(`the Lease is held by '${h}'`);
          return k.name;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const [leader, standby] = leaderName === a.name ? [a, b] : [b, a];
      // Both stay up while one leads: the standby is ready (caches synced) but does not act.
      expect(standby.exitCode()).to.equal(undefined);

      const t0 = performance.now();
      await leader.kill();
      // The standby counts the lease duration from when it last saw the record change, which lags the
      // leader's last renew by up to one of its retry waits; it then takes over at its next attempt.
      // So the worst case is the lease duration plus two retry waits, and a few seconds for a busy host.
      const bound = LEASE_SECONDS + 2 * MAX_RETRY_WAIT_SECONDS + 5;
      await waitLeading(leaseId, standby, bound * 1000);
      const seconds = (performance.now() - t0) / 1000;
      console.log(`      handover after docker kill: ${seconds.toFixed(2)} s (lease ${LEASE_SECONDS} s)`);
      expect(seconds).to.be.lessThan(bound);
      // Not before the lease could have expired: a kill releases nothing, so the standby had to wait.
      expect(seconds).to.be.greaterThan(LEASE_SECONDS - MAX_RETRY_WAIT_SECONDS);
      expect(leader.exitCode()).to.equal(137);
      expect(await standby.stop(GRACE_SECONDS)).to.equal(0);
    });
  });
});

/** The status of a GET to a server with a self-signed certificate. */
function httpsStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

/** node, as the image's entrypoint names it. */
/** Runs `script` with the image's node, as its user, without a network; returns what it printed. */
function nodeInImage(script: string): string {
  return docker(['run', '--rm', '--network=none', '--entrypoint', nodePath(), IMAGE, '-e', script]);
}

function nodePath(): string {
  return (
    JSON.parse(docker(['image', 'inspect', '--format', '{{json .Config.Entrypoint}}', IMAGE])) as string[]
  )[0]!;
}

/**
 * A directory holding a kubeconfig for the operator's ServiceAccount that works inside the container:
 * the CA inline (the plane's CA file is not mounted), readable by uid 65532.
 */
function containerKubeconfigDir(serviceAccountKubeconfig: string): string {
  const kc = new KubeConfig();
  kc.loadFromFile(serviceAccountKubeconfig);
  const clusterEntry = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  const ca = clusterEntry.caData ?? readFileSync(clusterEntry.caFile!).toString('base64');
  const dir = mkdtempSync(join(tmpdir(), 'studylab-image-'));
  // The container runs as 65532, not as the user running the tests; the token is a short-lived one
  // for a throwaway plane.
  chmodSync(dir, 0o755);
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'plane', cluster: { server: clusterEntry.server, 'certificate-authority-data': ca } },
      ],
      users: [{ name: 'operator', user: { token: user.token } }],
      contexts: [{ name: 'operator', context: { cluster: 'plane', user: 'operator' } }],
      'current-context': 'operator',
    }),
  );
  chmodSync(path, 0o644);
  return dir;
}
