/**
 * A real Kubernetes control plane as local processes: etcd, kube-apiserver
 * (RBAC on), kube-controller-manager, kube-scheduler and kwok (fake nodes
 * that make Pods Running and Ready). What envtest is to controller-runtime,
 * plus the controllers that make Deployments, garbage collection and PVC
 * binding real.
 *
 * Guarantees: `start()` returns only when every component answers its health
 * check, the fake nodes are Ready and the `default` ServiceAccount exists;
 * `stop()` leaves no process and no directory behind. If the owning process
 * dies without stopping (a crash, SIGKILL), a detached reaper notices within a
 * second and does the same.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, type V1Node, type V1PersistentVolume } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { Component } from './process.js';
import { createPki, readPem, type CertPair, type ClientIdentity, type Pki } from './pki.js';
import { REPO_ROOT, requireBinaries, type Binaries } from './versions.js';

export interface LocalControlPlaneOptions {
  /** Fake kwok nodes to create. Default 3. */
  nodes?: number;
  /** Extra kube-apiserver flags, e.g. `--watch-cache=false`. */
  apiServerArgs?: string[];
  /** Extra kube-controller-manager flags, e.g. `--kube-api-qps=500` (its default of 20 throttles a benchmark). */
  controllerManagerArgs?: string[];
  /** Start only etcd and kube-apiserver (no controllers, scheduler or nodes): faster, for API-only tests. */
  apiOnly?: boolean;
  /**
   * Audit every write (create, update, patch, delete) by a member of these groups, request and
   * response, as JSON lines in `auditLogPath`: the server's own record of who wrote what, at which
   * resourceVersion. Default: no audit log.
   */
  auditWritesOf?: string[];
  /** Audit every request of anyone at the Metadata level (who, verb, resource; no bodies) instead. */
  auditAllRequests?: boolean;
  /** Progress messages (default: silent). */
  log?: (msg: string) => void;
}

/** The StorageClass every plane has, marked default; kube-controller-manager's test hostPath provisioner serves it. */
export const DEFAULT_STORAGE_CLASS = 'standard';
export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
/** kwok's pod stages: its defaults, plus images that fail to pull or crash in a loop, as a kubelet would show them. */
export const KWOK_STAGES_FILE = join(REPO_ROOT, 'hack', 'testenv', 'kwok-stages.yaml');
/** On the local plane, a pod with this image cannot pull it (ImagePullBackOff), as under a real kubelet. */
export const KWOK_PULL_FAILS_IMAGE = 'studylab.invalid/pull-fails:1';
/** On the local plane, a pod with this image crashes in a loop (CrashLoopBackOff, last exit code 1). */
export const KWOK_CRASHES_IMAGE = 'studylab.invalid/crashes:1';
/** On the local plane, a pod with this image runs but never becomes ready (a readiness probe that keeps failing). */
export const KWOK_NEVER_READY_IMAGE = 'studylab.invalid/never-ready:1';
const SERVICE_CIDR = '10.96.0.0/16';
const SERVICE_IP = '10.96.0.1';
const POD_CIDR = '10.244.0.1/16';

const CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'deployment-controller',
  'replicaset-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'endpointslice-controller',
  'endpoints-controller',
  'disruption-controller',
  // Removes the not-ready taint that admission puts on new Nodes once kwok reports them Ready.
  'node-lifecycle-controller',
  'persistentvolume-binder-controller',
  'persistentvolume-expander-controller',
  'persistentvolume-protection-controller',
  'persistentvolumeclaim-protection-controller',
];

export class LocalControlPlane {
  readonly apiServerUrl: string;
  /** Admin kubeconfig (group system:masters). */
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
  /** Where kube-apiserver writes its audit events (see auditWritesOf); undefined without. */
  readonly auditLogPath: string | undefined;
  private readonly components: Component[] = [];
  private reaperPid: number | undefined;
  private stopped = false;
  private readonly exitHandler = (): void => this.killNow();

  private constructor(
    readonly dir: string,
    private readonly pki: Pki,
    private readonly ports: Ports,
    private readonly options: LocalControlPlaneOptions,
    private readonly etcd: Component,
    private readonly apiServer: Component,
  ) {
    this.apiServerUrl = `https://127.0.0.1:${ports.apiServer}`;
    this.kubeconfigPath = this.writeKubeconfig('admin');
    this.kubeConfig = new KubeConfig();
    this.kubeConfig.loadFromFile(this.kubeconfigPath);
    this.auditLogPath = options.auditWritesOf || options.auditAllRequests ? join(dir, AUDIT_LOG) : undefined;
  }

  static async start(options: LocalControlPlaneOptions = {}): Promise<LocalControlPlane> {
    const log = options.log ?? (() => {});
    const bin = requireBinaries();
    const dir = mkdtempSync(join(tmpdir(), 'studylab-testenv-'));
    let plane: LocalControlPlane | undefined;
    try {
      const ports = await freePorts();
      const pki = createPki(dir, SERVICE_IP);
      mkdirSync(join(dir, 'pids'));
      const etcd = new Component('etcd', bin.etcd, etcdArgs(dir, ports), join(dir, 'etcd.log'));
      const apiServer = new Component(
        'kube-apiserver',
        bin.kubeApiserver,
        [...apiServerArgs(pki, ports), ...auditArgs(dir, options), ...(options.apiServerArgs ?? [])],
        join(dir, 'kube-apiserver.log'),
      );
      plane = new LocalControlPlane(dir, pki, ports, options, etcd, apiServer);
      process.once('exit', plane.exitHandler);
      plane.startReaper();

      const started = Date.now();
      await plane.launch(etcd, () => plane!.etcdHealthy());
      log(`etcd ready (${Date.now() - started} ms)`);
      await plane.launch(apiServer, () => plane!.apiServerReady());
      log(`kube-apiserver ready (${Date.now() - started} ms)`);
      if (!options.apiOnly) await plane.startClusterComponents(bin, log, started);
      return plane;
    } catch (err) {
      if (plane) await plane.stop();
      else rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private async startClusterComponents(
    bin: Binaries,
    log: (m: string) => void,
    started: number,
  ): Promise<void> {
    const { dir, pki, ports } = this;
    const kcm = new Component(
      'kube-controller-manager',
      bin.kubeControllerManager,
      [
        `--kubeconfig=${this.writeKubeconfig('controllerManager')}`,
        '--leader-elect=false',
        `--controllers=${CONTROLLERS.join(',')}`,
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.ca.cert}`,
        '--use-service-account-credentials=true',
        // The in-tree hostPath provisioner: dynamic PVC provisioning for tests, as local-up-cluster.sh does.
        '--enable-hostpath-provisioner=true',
        `--cluster-cidr=${POD_CIDR}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.controllerManager}`,
        `--cert-dir=${join(dir, 'kcm-certs')}`,
        '--concurrent-gc-syncs=5',
        // Fake nodes must not go NotReady when a loaded machine delays kwok's heartbeat (or while a
        // test has stopped the API server): NotReady nodes mark every pod unready, for good under kwok.
        '--node-monitor-grace-period=5m',
        // The default 20 qps makes garbage collection and namespace deletion after a suite with hundreds of
        // objects (the reliability suite's 200 labs) hold up the Deployment status of the next test for minutes.
        '--kube-api-qps=100',
        '--kube-api-burst=200',
        // Last, so a caller's flag wins over the ones above (the benchmark lifts the qps further).
        ...(this.options.controllerManagerArgs ?? []),
      ],
      join(dir, 'kube-controller-manager.log'),
    );
    const scheduler = new Component(
      'kube-scheduler',
      bin.kubeScheduler,
      [
        `--kubeconfig=${this.writeKubeconfig('scheduler')}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.scheduler}`,
        `--cert-dir=${join(dir, 'scheduler-certs')}`,
      ],
      join(dir, 'kube-scheduler.log'),
    );
    const kwok = new Component(
      'kwok',
      bin.kwok,
      [
        `--kubeconfig=${this.writeKubeconfig('kwok')}`,
        `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
        `--server-address=127.0.0.1:${ports.kwok}`,
        `--cidr=${POD_CIDR}`,
        '--node-ip=10.240.0.1',
        // Heartbeats through Leases, renewed every quarter of this, as a real kubelet does.
        '--node-lease-duration-seconds=40',
        // Without it kwok reads ~/.kwok/kwok.yaml, a user file that would make runs differ by machine.
        // Its pod stages: kwok's defaults plus a failing image pull and a crash loop (see the file).
        `--config=${this.writeFile('kwok.yaml', readFileSync(KWOK_STAGES_FILE, 'utf8'))}`,
      ],
      join(dir, 'kwok.log'),
    );
    await Promise.all([
      this.launch(kcm, () => httpsHealthy(ports.controllerManager)),
      this.launch(scheduler, () => httpsHealthy(ports.scheduler)),
    ]);
    log(`kube-controller-manager and kube-scheduler ready (${Date.now() - started} ms)`);
    kwok.start();
    this.track(kwok);
    await this.bootstrapObjects();
    await this.waitFor('fake nodes Ready and the default ServiceAccount', () => this.clusterUsable(), [
      kwok,
      kcm,
    ]);
    log(`kwok nodes ready (${Date.now() - started} ms)`);
  }

  /** Stops kube-apiserver (SIGTERM, or SIGKILL to simulate a crash); etcd and the data stay. */
  async stopApiServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.apiServer.stop(signal);
  }

  /** Starts kube-apiserver again on the same port, with the same certificates; waits for /readyz. */
  async startApiServer(): Promise<void> {
    await this.launch(this.apiServer, () => this.apiServerReady());
  }

  /** Restarts etcd (same data directory) and waits until the API server is ready again. */
  async restartEtcd(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.etcd.stop(signal);
    await this.launch(this.etcd, () => this.etcdHealthy());
    await this.waitFor('kube-apiserver ready after the etcd restart', () => this.apiServerReady(), [
      this.apiServer,
    ]);
  }

  /**
   * Compacts etcd's history up to its current revision, so a watch from an
   * older resourceVersion gets 410 Gone once the API server's watch cache no
   * longer holds it either. Returns the compacted revision.
   */
  async compactEtcd(): Promise<number> {
    const range = (await etcdPost(this.ports.etcdClient, '/v3/kv/range', {
      key: Buffer.from('\0').toString('base64'),
    })) as {
      header: { revision: string };
    };
    const revision = Number(range.header.revision);
    await etcdPost(this.ports.etcdClient, '/v3/kv/compaction', {
      revision: String(revision),
      physical: true,
    });
    return revision;
  }

  /** A kubeconfig that authenticates as a ServiceAccount through a TokenRequest (1 h by default). */
  async serviceAccountKubeConfig(
    namespace: string,
    name: string,
    expirationSeconds = 3600,
  ): Promise<{ kubeConfig: KubeConfig; path: string }> {
    return serviceAccountKubeConfig(
      this.kubeConfig,
      namespace,
      name,
      join(this.dir, `sa-${namespace}-${name}.kubeconfig`),
      expirationSeconds,
    );
  }

  /** The last lines of a component's log, for failure messages. */
  logTail(component: string, lines = 30): string {
    return this.components.find((c) => c.name === component)?.logTail(lines) ?? '(no such component)';
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener('exit', this.exitHandler);
    await this.removeProvisionedVolumes();
    // Clients first, then the API server, then its storage.
    const order = ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
    for (const name of order) {
      const c = this.components.find((x) => x.name === name);
      if (c) await c.stop();
    }
    if (this.reaperPid) {
      try {
        process.kill(this.reaperPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * The hostPath provisioner makes a directory per volume under /tmp/hostpath_pv and
   * only removes it when the claim is deleted; whatever is still bound when the plane
   * stops would be left behind. Best effort: skipped when the API server is down.
   */
  private async removeProvisionedVolumes(): Promise<void> {
    if (!this.apiServer.running) return;
    try {
      const pvs = (await this.request('GET', '/api/v1/persistentvolumes')) as { items: V1PersistentVolume[] };
      for (const pv of pvs.items) {
        const path = pv.spec?.hostPath?.path;
        if (path?.startsWith('/tmp/hostpath_pv/')) rmSync(path, { recursive: true, force: true });
      }
    } catch {
      // The plane is going away; a leftover empty directory is not worth failing the stop.
    }
  }

  private killNow(): void {
    for (const c of this.components) c.killNow();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Starts a component and waits until `ready` resolves true, failing fast if the process dies. */
  private async launch(c: Component, ready: () => Promise<boolean>): Promise<void> {
    c.start();
    this.track(c);
    await this.waitFor(`${c.name} ready`, ready, [c]);
  }

  private track(c: Component): void {
    if (!this.components.includes(c)) this.components.push(c);
    if (c.pid) writeFileSync(join(this.dir, 'pids', c.name), String(c.pid));
  }

  private async waitFor(
    what: string,
    ready: () => Promise<boolean>,
    watched: Component[],
    timeoutMs = 60_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const c of watched) c.assertRunning();
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        const tails = watched.map((c) => `--- ${c.name}\n${c.logTail()}`).join('\n');
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${tails}`);
      }
      await delay(100);
    }
  }

  /**
   * A detached shell that outlives us: once our process is gone it kills
   * whatever PIDs are recorded under pids/ and removes the directory. It is
   * what makes a SIGKILLed test run leave nothing behind.
   */
  private startReaper(): void {
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done
      for f in "$1"/pids/*; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
      rm -rf "$1"`;
    const reaper = spawn('bash', ['-c', script, 'reaper', this.dir], { detached: true, stdio: 'ignore' });
    reaper.unref();
    this.reaperPid = reaper.pid;
  }

  private writeFile(name: string, content: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  private writeKubeconfig(identity: ClientIdentity): string {
    return this.writeFile(
      `${identity}.kubeconfig`,
      kubeconfigYaml(this.apiServerUrl, this.pki.ca.cert, this.pki.clients[identity], identity),
    );
  }

  private etcdHealthy(): Promise<boolean> {
    return httpGet(`http://127.0.0.1:${this.ports.etcdClient}/health`).then((body) =>
      body.includes('"health":"true"'),
    );
  }

  private async apiServerReady(): Promise<boolean> {
    const body = await httpsGet(this.ports.apiServer, '/readyz', this.pki.ca.cert, this.pki.clients.admin);
    return body === 'ok';
  }

  private async bootstrapObjects(): Promise<void> {
    const nodes = this.options.nodes ?? 3;
    const objects: object[] = [
      {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: {
          name: DEFAULT_STORAGE_CLASS,
          annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
        },
        provisioner: 'kubernetes.io/host-path',
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'Immediate',
        allowVolumeExpansion: true,
      },
    ];
    for (let i = 0; i < nodes; i++) objects.push(fakeNode(`kwok-node-${i}`));
    for (const obj of objects) await this.request('POST', createPath(obj), obj);
  }

  private async clusterUsable(): Promise<boolean> {
    const nodes = (await this.request('GET', '/api/v1/nodes')) as { items: V1Node[] };
    // Ready, and the not-ready taint admission put on them is gone, so Pods can be scheduled.
    const ready = nodes.items.filter(
      (n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
        !n.spec?.taints?.some((t) => t.effect === 'NoSchedule'),
    );
    if (ready.length < (this.options.nodes ?? 3)) return false;
    await this.request('GET', '/api/v1/namespaces/default/serviceaccounts/default');
    return true;
  }

  /** A minimal admin request for bootstrap, independent of the code under test. */
  private request(method: string, path: string, body?: object): Promise<unknown> {
    return httpsJson(this.ports.apiServer, method, path, this.pki.ca.cert, this.pki.clients.admin, body);
  }
}

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiServer: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

function etcdArgs(dir: string, ports: Ports): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    // Tests do not need durability across power loss; fsync dominates write latency.
    '--unsafe-no-fsync=true',
    '--quota-backend-bytes=4294967296',
    '--log-level=warn',
  ];
}

const AUDIT_LOG = 'audit.log';

function auditArgs(dir: string, options: LocalControlPlaneOptions): string[] {
  const groups = options.auditWritesOf;
  if (!groups && !options.auditAllRequests) return [];
  const policy = join(dir, 'audit-policy.yaml');
  const rules = options.auditAllRequests
    ? [{ level: 'Metadata' }]
    : [
        { level: 'RequestResponse', userGroups: groups, verbs: ['create', 'update', 'patch', 'delete'] },
        { level: 'None' },
      ];
  writeFileSync(
    policy,
    stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'], rules }),
  );
  return [
    `--audit-policy-file=${policy}`,
    `--audit-log-path=${join(dir, AUDIT_LOG)}`,
    '--audit-log-format=json',
  ];
}

function apiServerArgs(pki: Pki, ports: Ports): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${ports.apiServer}`,
    `--tls-cert-file=${pki.apiServer.cert}`,
    `--tls-private-key-file=${pki.apiServer.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--allow-privileged=true',
    '--profiling=false',
    '--enable-priority-and-fairness=false',
    '--max-requests-inflight=1000',
    '--max-mutating-requests-inflight=500',
  ];
}

function kubeconfigYaml(server: string, caFile: string, client: CertPair, user: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'studylab-local', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { 'client-certificate': client.cert, 'client-key': client.key } }],
    contexts: [{ name: `${user}@studylab-local`, context: { cluster: 'studylab-local', user } }],
    'current-context': `${user}@studylab-local`,
  });
}

/** Writes a token kubeconfig for a ServiceAccount of any cluster reachable through `admin`. */
export async function serviceAccountKubeConfig(
  admin: KubeConfig,
  namespace: string,
  name: string,
  path: string,
  expirationSeconds = 3600,
): Promise<{ kubeConfig: KubeConfig; path: string }> {
  const { CoreV1Api } = await import('@kubernetes/client-node');
  const core = admin.makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: [], expirationSeconds },
    },
  });
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no current cluster');
  const user = `system:serviceaccount:${namespace}:${name}`;
  const clusterEntry: Record<string, unknown> = { server: cluster.server };
  if (cluster.caFile) clusterEntry['certificate-authority'] = cluster.caFile;
  if (cluster.caData) clusterEntry['certificate-authority-data'] = cluster.caData;
  if (cluster.skipTLSVerify) clusterEntry['insecure-skip-tls-verify'] = true;
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'cluster', cluster: clusterEntry }],
      users: [{ name: user, user: { token: tr.status?.token } }],
      contexts: [{ name: user, context: { cluster: 'cluster', user, namespace } }],
      'current-context': user,
    }),
    { mode: 0o600 },
  );
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return { kubeConfig, path };
}

function fakeNode(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '250' },
      capacity: { cpu: '32', memory: '256Gi', pods: '250' },
    },
  };
}

function createPath(obj: object): string {
  const kind = (obj as { kind: string }).kind;
  return kind === 'Node' ? '/api/v1/nodes' : '/apis/storage.k8s.io/v1/storageclasses';
}

async function freePorts(): Promise<Ports> {
  const ports: number[] = [];
  const servers = await Promise.all(
    Array.from(
      { length: 6 },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  for (const s of servers) ports.push((s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  const [etcdClient, etcdPeer, apiServer, controllerManager, scheduler, kwok] = ports as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { etcdClient, etcdPeer, apiServer, controllerManager, scheduler, kwok };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 2000 }, (res) => collect(res, resolve, reject));
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

function etcdPost(port: number, path: string, body: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', timeout: 5000 }, (res) =>
      collect(
        res,
        (s) => {
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`etcd ${path}: ${res.statusCode} ${s}`));
          else resolve(JSON.parse(s));
        },
        reject,
      ),
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function httpsHealthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 2000 },
      (res) =>
        collect(
          res,
          (body) => resolve(res.statusCode === 200 && body === 'ok'),
          () => resolve(false),
        ),
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

function httpsGet(port: number, path: string, caFile: string, client: CertPair): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path,
        ca: readPem(caFile),
        cert: readPem(client.cert),
        key: readPem(client.key),
        timeout: 2000,
      },
      (res) => collect(res, resolve, reject),
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

function httpsJson(
  port: number,
  method: string,
  path: string,
  caFile: string,
  client: CertPair,
  body?: object,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        ca: readPem(caFile),
        cert: readPem(client.cert),
        key: readPem(client.key),
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        timeout: 5000,
      },
      (res) =>
        collect(
          res,
          (s) => {
            if ((res.statusCode ?? 0) >= 300 && res.statusCode !== 409)
              reject(new Error(`${method} ${path}: ${res.statusCode} ${s}`));
            else resolve(s ? JSON.parse(s) : undefined);
          },
          reject,
        ),
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

function collect(res: http.IncomingMessage, resolve: (s: string) => void, reject: (e: Error) => void): void {
  let data = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => (data += c));
  res.on('end', () => resolve(data));
  res.on('error', reject);
}
