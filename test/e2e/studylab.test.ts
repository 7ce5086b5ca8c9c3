/**
 * The operator end to end: a separate process, running with the shipped
 * ServiceAccount's RBAC, against the full local plane (controllers,
 * scheduler, kwok nodes). Every assertion is on objects fetched again from
 * the API server.
 */
import { expect } from 'chai';
import { kubectl, sumMetric } from '../../src/testenv/index.js';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  NetworkingV1Api,
  type V1Deployment,
  type V1PersistentVolumeClaim,
} from '@kubernetes/client-node';
import type { StudyLab, StudyLabSpec } from '../../src/api/v1alpha1/index.js';
import { cluster, eventually, readLab, STUDYLABS, testNamespace, type Cluster } from '../support/cluster.js';
import { installOperatorPrerequisites, applyLab } from '../support/install.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];
/** eventually() for a synchronous check, such as one over the operator's log lines. */
const until = <T>(check: () => T, timeoutMs?: number): Promise<T> =>
  eventually(() => Promise.resolve().then(check), { timeoutMs });
/** What the controller logs (at debug level) when a reconcile ends, with the lab's namespace and name. */
const RECONCILE_ENDS = new Set([
  'Reconcile succeeded',
  'Reconcile done, requeue scheduled',
  'Reconcile done, requeued with backoff',
  'Reconciler error',
  'Reconciler error (terminal, not retried)',
]);
const NODE_PORT = 31080;

describe('StudyLab operator (e2e)', function () {
  this.timeout(120_000);
  let c: Cluster;
  let ns: string;
  let operator: OperatorProcess;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let net: NetworkingV1Api;
  let custom: CustomObjectsApi;
  let events: EventsV1Api;
  let operatorKubeconfig: string;

  before(async function () {
    c = await cluster();
    ({ kubeconfig: operatorKubeconfig } = await installOperatorPrerequisites());
    ns = await testNamespace('e2e');
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    apps = c.kubeConfig.makeApiClient(AppsV1Api);
    net = c.kubeConfig.makeApiClient(NetworkingV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    events = c.kubeConfig.makeApiClient(EventsV1Api);
    operator = await startOperator({ kubeconfig: operatorKubeconfig, args: operatorArgs() });
    await operator.waitReady();
  });

  /** The paused lab is traced: its test waits for a reconcile of that very lab, seen in the trace. */
  const operatorArgs = () => [
    '--leader-elect',
    '--leader-election-namespace=studylab-system',
    '--retry-period=1',
    `--trace=${ns}/still`,
  ];

  after(async function () {
    await operator?.stop();
  });

  // --- helpers -------------------------------------------------------------

  const apply = (name: string, spec: StudyLabSpec): void => applyLab(c, ns, name, spec);

  const getLab = (name: string): Promise<StudyLab> => readLab(custom, ns, name);

  /** Waits until the lab reports `phase` for its current generation. */
  async function waitForPhase(name: string, phase: string, timeoutMs = 60_000): Promise<StudyLab> {
    return eventually(
      async () => {
        const lab = await getLab(name);
        expect(lab.status?.observedGeneration, 'observedGeneration').to.equal(lab.metadata.generation);
        expect(lab.status?.phase, `phase of ${name}: ${JSON.stringify(lab.status?.conditions)}`).to.equal(
          phase,
        );
        return lab;
      },
      { timeoutMs },
    );
  }

  /**
   * The first traced reconcile of lab `name` (started with --trace for it) whose cache read of its child
   * `kind` found that child at `resourceVersion` or later, with the trace line of its result once it ended.
   */
  function tracedReconcileThatRead(name: string, kind: string, resourceVersion: number) {
    const key = `${ns}/${name}`;
    const lines = operator.logs.filter((l) => l.key === key && typeof l.reconcileID === 'string');
    const read = lines.find(
      (l) => l.trace === 'cache' && l.kind === kind && Number(l.resourceVersion) >= resourceVersion,
    );
    if (!read) return undefined;
    const reconcileID = read.reconcileID as string;
    return {
      reconcileID,
      result: lines.find((l) => l.trace === 'result' && l.reconcileID === reconcileID),
    };
  }

  function condition(lab: StudyLab, type: string) {
    return lab.status?.conditions?.find((x) => x.type === type);
  }

  async function readDeployment(name: string): Promise<V1Deployment> {
    return apps.readNamespacedDeployment({ namespace: ns, name });
  }

  async function readClaim(name: string): Promise<V1PersistentVolumeClaim> {
    return core.readNamespacedPersistentVolumeClaim({ namespace: ns, name });
  }

  async function notFound(read: () => Promise<unknown>): Promise<void> {
    const err = await read().then(
      () => undefined,
      (e: { code?: number }) => e,
    );
    expect(err?.code, 'expected 404').to.equal(404);
  }

  async function eventReasons(name: string): Promise<string[]> {
    const list = await events.listNamespacedEvent({ namespace: ns, fieldSelector: `regarding.name=${name}` });
    return list.items.map((e) => e.reason ?? '');
  }

  // An image that runs as non-root, so the operator's restricted securityContext lets a real kubelet
  // (kind) start it; kwok on the local plane runs nothing, but the suite must pass on both.
  const IMAGE = 'nginxinc/nginx-unprivileged:1.27';
  const web = (extra: Partial<NonNullable<StudyLabSpec['app']>> = {}): NonNullable<StudyLabSpec['app']> => ({
    image: IMAGE,
    ports: [{ name: 'http', containerPort: 8080 }],
    ...extra,
  });

  // --- tests ---------------------------------------------------------------

  it('creates a Deployment and a ClusterIP Service and reports Ready once pods are ready', async function () {
    apply('basic', { app: web({ replicas: 2 }) });
    const lab = await waitForPhase('basic', 'Ready');
    expect(lab.status?.replicas).to.equal(2);
    expect(lab.status?.readyReplicas).to.equal(2);
    expect(lab.status?.endpoint).to.equal(`basic.${ns}.svc.cluster.local:8080`);
    expect(condition(lab, 'Ready')?.status).to.equal('True');
    expect(condition(lab, 'Available')?.status).to.equal('True');

    const dep = await readDeployment('basic');
    expect(dep.spec?.replicas).to.equal(2);
    expect(dep.spec?.template.spec?.containers[0]?.image).to.equal(IMAGE);
    expect(dep.metadata?.labels).to.include({
      'app.kubernetes.io/name': 'studylab',
      'app.kubernetes.io/instance': 'basic',
      'app.kubernetes.io/managed-by': 'studylab-operator',
    });
    const owner = dep.metadata?.ownerReferences?.[0];
    expect(owner).to.include({ kind: 'StudyLab', name: 'basic', uid: lab.metadata.uid, controller: true });

    const svc = await core.readNamespacedService({ namespace: ns, name: 'basic' });
    expect(svc.spec?.type).to.equal('ClusterIP');
    expect(svc.spec?.ports?.[0]).to.include({ name: 'http', port: 8080, targetPort: 'http' });
    expect(svc.spec?.selector).to.deep.equal({
      'app.kubernetes.io/name': 'studylab',
      'app.kubernetes.io/instance': 'basic',
    });
    // One Event names every child the first reconcile created.
    const created = await eventually(async () => {
      const list = await events.listNamespacedEvent({ namespace: ns, fieldSelector: 'regarding.name=basic' });
      const notes = list.items.filter((e) => e.reason === 'Created').map((e) => e.note);
      expect(notes).to.have.length(1);
      return notes;
    });
    expect(created).to.deep.equal(['Created Deployment and Service basic']);
  });

  it('builds each Service type', async function () {
    // Node ports are cluster-wide: not the samples' 30080, whose namespace may still be going away.
    apply('nodeport', {
      app: web(),
      service: {
        type: 'NodePort',
        ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: NODE_PORT }],
      },
    });
    apply('lb', { app: web(), service: { type: 'LoadBalancer' } });
    apply('headless', { app: web(), service: { type: 'Headless' } });
    apply('alias', { service: { type: 'ExternalName', externalName: 'example.org' } });
    apply('noservice', { app: web(), service: { type: 'None' } });

    const np = await waitForPhase('nodeport', 'Ready');
    expect(np.status?.endpoint).to.contain(String(NODE_PORT));
    const npSvc = await core.readNamespacedService({ namespace: ns, name: 'nodeport' });
    expect(npSvc.spec?.type).to.equal('NodePort');
    expect(npSvc.spec?.ports?.[0]?.nodePort).to.equal(NODE_PORT);

    await waitForPhase('lb', 'Ready');
    expect((await core.readNamespacedService({ namespace: ns, name: 'lb' })).spec?.type).to.equal(
      'LoadBalancer',
    );

    await waitForPhase('headless', 'Ready');
    const hl = await core.readNamespacedService({ namespace: ns, name: 'headless' });
    expect(hl.spec?.clusterIP).to.equal('None');

    const alias = await waitForPhase('alias', 'Ready');
    const ext = await core.readNamespacedService({ namespace: ns, name: 'alias' });
    expect(ext.spec?.type).to.equal('ExternalName');
    expect(ext.spec?.externalName).to.equal('example.org');
    expect(ext.spec?.selector).to.equal(undefined);
    expect(alias.status?.endpoint).to.contain('example.org');
    await notFound(() => readDeployment('alias'));

    await waitForPhase('noservice', 'Ready');
    await notFound(() => core.readNamespacedService({ namespace: ns, name: 'noservice' }));
  });

  it('replaces a Service whose immutable clusterIP must change (ClusterIP to Headless and back)', async function () {
    apply('switch', { app: web() });
    await waitForPhase('switch', 'Ready');
    const first = await core.readNamespacedService({ namespace: ns, name: 'switch' });
    expect(first.spec?.clusterIP).to.not.equal('None');
    apply('switch', { app: web(), service: { type: 'Headless' } });
    await waitForPhase('switch', 'Ready');
    const headless = await eventually(async () => {
      const svc = await core.readNamespacedService({ namespace: ns, name: 'switch' });
      expect(svc.spec?.clusterIP).to.equal('None');
      return svc;
    });
    expect(headless.metadata?.uid).to.not.equal(first.metadata?.uid);
    apply('switch', { app: web(), service: { type: 'ClusterIP' } });
    await eventually(async () =>
      expect((await core.readNamespacedService({ namespace: ns, name: 'switch' })).spec?.clusterIP).to.match(
        /^10\./,
      ),
    );
    expect(await eventReasons('switch')).to.include('ServiceReplaced');
  });

  it('deletes a child the spec no longer asks for', async function () {
    apply('shrink', { app: web(), networkPolicy: { ingress: [] } });
    await waitForPhase('shrink', 'Ready');
    const policy = await net.readNamespacedNetworkPolicy({ namespace: ns, name: 'shrink' });
    expect(policy.spec?.policyTypes).to.deep.equal(['Ingress']);
    expect(policy.spec?.ingress ?? []).to.deep.equal([]);
    await core.readNamespacedService({ namespace: ns, name: 'shrink' });

    apply('shrink', { app: web(), service: { type: 'None' } });
    await waitForPhase('shrink', 'Ready');
    await eventually(() => notFound(() => core.readNamespacedService({ namespace: ns, name: 'shrink' })));
    await eventually(() =>
      notFound(() => net.readNamespacedNetworkPolicy({ namespace: ns, name: 'shrink' })),
    );
  });

  it('repairs drift on every child kind', async function () {
    apply('drift', {
      app: web({ replicas: 1 }),
      networkPolicy: { ingress: [] },
      storage: { size: '1Gi', retentionPolicy: 'Delete' },
    });
    await waitForPhase('drift', 'Ready');
    const before = await readDeployment('drift');

    // Deleted Deployment: recreated (a new UID).
    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'drift' });
    await eventually(async () => {
      const d = await readDeployment('drift');
      expect(d.metadata?.uid).to.not.equal(before.metadata?.uid);
    });

    // Edited image: restored.
    kubectl(c, ['-n', ns, 'set', 'image', 'deployment/drift', 'app=nginxinc/nginx-unprivileged:drifted']);
    await eventually(async () => {
      expect((await readDeployment('drift')).spec?.template.spec?.containers[0]?.image).to.equal(IMAGE);
    });

    // Edited Service port: restored.
    kubectl(c, [
      '-n',
      ns,
      'patch',
      'service',
      'drift',
      '--type=json',
      '-p',
      '[{"op":"replace","path":"/spec/ports/0/port","value":8081}]',
    ]);
    await eventually(async () => {
      expect(
        (await core.readNamespacedService({ namespace: ns, name: 'drift' })).spec?.ports?.[0]?.port,
      ).to.equal(8080);
    });

    // The label the operator's cache selects on, removed: the child leaves the cache, and comes back labelled.
    kubectl(c, ['-n', ns, 'label', 'deployment', 'drift', 'app.kubernetes.io/managed-by-']);
    await eventually(async () => {
      expect((await readDeployment('drift')).metadata?.labels?.['app.kubernetes.io/managed-by']).to.equal(
        'studylab-operator',
      );
    });

    // Deleted NetworkPolicy: recreated.
    await net.deleteNamespacedNetworkPolicy({ namespace: ns, name: 'drift' });
    await eventually(() => net.readNamespacedNetworkPolicy({ namespace: ns, name: 'drift' }));

    // A label we own on the claim: restored.
    kubectl(c, ['-n', ns, 'label', 'pvc', 'drift', '--overwrite', 'app.kubernetes.io/instance=someone-else']);
    await eventually(async () => {
      expect((await readClaim('drift')).metadata?.labels?.['app.kubernetes.io/instance']).to.equal('drift');
    });
    expect(await eventReasons('drift')).to.include('DriftRepaired');
  });

  it("keeps another field manager's fields: annotations, and replicas when the lab leaves them unset", async function () {
    apply('shared', { app: web() });
    await waitForPhase('shared', 'Ready');
    // Another tool (an HPA, kubectl scale) owns replicas; another annotates.
    kubectl(c, ['-n', ns, 'scale', 'deployment/shared', '--replicas=3']);
    kubectl(c, ['-n', ns, 'annotate', 'deployment/shared', 'example.com/owner=team-a']);
    // A spec change makes the operator apply again.
    apply('shared', { app: web({ args: ['-g', 'daemon off;'] }) });
    await waitForPhase('shared', 'Ready');
    const dep = await eventually(async () => {
      const d = await readDeployment('shared');
      expect(d.spec?.template.spec?.containers[0]?.args).to.deep.equal(['-g', 'daemon off;']);
      return d;
    });
    expect(dep.spec?.replicas).to.equal(3);
    expect(dep.metadata?.annotations?.['example.com/owner']).to.equal('team-a');
  });

  it('Retain: the claim outlives the lab and a new lab of the same name adopts it', async function () {
    apply('keep', { app: web(), storage: { size: '1Gi', mountPath: '/data' } });
    const lab = await waitForPhase('keep', 'Ready');
    expect(condition(lab, 'StorageBound')?.status).to.equal('True');
    const claim = await readClaim('keep');
    expect(claim.metadata?.ownerReferences ?? []).to.deep.equal([]);
    const dep = await readDeployment('keep');
    expect(dep.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName).to.equal('keep');
    expect(dep.spec?.template.spec?.containers[0]?.volumeMounts?.[0]?.mountPath).to.equal('/data');

    kubectl(c, ['-n', ns, 'delete', 'studylab', 'keep', '--wait=true']);
    // Garbage collection can take a while to learn a freshly installed CRD's kind.
    await eventually(() => notFound(() => readDeployment('keep')), { timeoutMs: 90_000 });
    expect((await readClaim('keep')).metadata?.uid, 'same claim after the lab is gone').to.equal(
      claim.metadata?.uid,
    );

    apply('keep', { app: web(), storage: { size: '1Gi', mountPath: '/data' } });
    await waitForPhase('keep', 'Ready');
    expect((await readClaim('keep')).metadata?.uid, 'adopted, not recreated').to.equal(claim.metadata?.uid);
  });

  it('Delete: the claim is owned, switching policies adds and removes the owner reference, and it goes with the lab', async function () {
    apply('scratch', { app: web(), storage: { size: '1Gi', retentionPolicy: 'Delete' } });
    const lab = await waitForPhase('scratch', 'Ready');
    const claim = await readClaim('scratch');
    expect(claim.metadata?.ownerReferences?.[0]).to.include({ kind: 'StudyLab', uid: lab.metadata.uid });

    apply('scratch', { app: web(), storage: { size: '1Gi', retentionPolicy: 'Retain' } });
    await eventually(async () =>
      expect((await readClaim('scratch')).metadata?.ownerReferences ?? []).to.deep.equal([]),
    );
    apply('scratch', { app: web(), storage: { size: '1Gi', retentionPolicy: 'Delete' } });
    await eventually(async () =>
      expect((await readClaim('scratch')).metadata?.ownerReferences).to.have.length(1),
    );
    expect((await readClaim('scratch')).metadata?.uid).to.equal(claim.metadata?.uid);

    kubectl(c, ['-n', ns, 'delete', 'studylab', 'scratch', '--wait=true']);
    await eventually(() => notFound(() => readClaim('scratch')), { timeoutMs: 90_000 });
  });

  it('grows a claim, refuses to shrink it or change its class, and says why', async function () {
    apply('grow', { app: web(), storage: { size: '1Gi' } });
    await waitForPhase('grow', 'Ready');
    const uid = (await readClaim('grow')).metadata?.uid;

    apply('grow', { app: web(), storage: { size: '2Gi' } });
    await eventually(async () =>
      expect((await readClaim('grow')).spec?.resources?.requests?.storage).to.equal('2Gi'),
    );

    apply('grow', { app: web(), storage: { size: '1Gi' } });
    const refused = await eventually(async () => {
      const lab = await getLab('grow');
      expect(lab.status?.observedGeneration).to.equal(lab.metadata.generation);
      const cond = lab.status?.conditions?.find(
        (x) => x.status === 'False' && /Shrink|Refused/.test(x.reason),
      );
      expect(cond, JSON.stringify(lab.status?.conditions)).to.not.equal(undefined);
      return lab;
    });
    expect(refused.status?.phase).to.equal('Degraded');
    expect((await readClaim('grow')).spec?.resources?.requests?.storage).to.equal('2Gi');

    apply('grow', { app: web(), storage: { size: '2Gi', storageClassName: 'other' } });
    await eventually(async () => {
      const lab = await getLab('grow');
      expect(lab.status?.observedGeneration).to.equal(lab.metadata.generation);
      expect(JSON.stringify(lab.status?.conditions)).to.match(/StorageClass/i);
    });
    const claim = await readClaim('grow');
    expect(claim.spec?.storageClassName).to.equal('standard');
    expect(claim.metadata?.uid, 'never recreated').to.equal(uid);
    const reasons = await eventReasons('grow');
    expect(
      reasons.some((r) => /Shrink|Refused/.test(r)),
      reasons.join(','),
    ).to.be.true;
  });

  it('paused: reports Paused and leaves drift alone until unpaused', async function () {
    apply('still', { app: web() });
    await waitForPhase('still', 'Ready');
    apply('still', { app: web(), paused: true });
    await waitForPhase('still', 'Paused');
    kubectl(c, ['-n', ns, 'set', 'image', 'deployment/still', 'app=nginxinc/nginx-unprivileged:drifted']);
    const drifted = Number((await readDeployment('still')).metadata?.resourceVersion);
    // A reconcile of this very lab read the drifted Deployment from its cache, and finished: its trace says so.
    const seen = await until(() => {
      const reconcile = tracedReconcileThatRead('still', 'Deployment', drifted);
      expect(reconcile, `a reconcile of still that read the Deployment at ${drifted} or later`).to.not.equal(
        undefined,
      );
      expect(reconcile!.result, `the result of reconcile ${reconcile!.reconcileID}`).to.not.equal(undefined);
      return reconcile!;
    });
    // ...and repaired nothing.
    expect((await readDeployment('still')).spec?.template.spec?.containers[0]?.image).to.equal(
      'nginxinc/nginx-unprivileged:drifted',
    );
    const lab = await getLab('still');
    expect(lab.status?.phase, `after reconcile ${seen.reconcileID}`).to.equal('Paused');
    expect(lab.status?.observedGeneration).to.equal(lab.metadata.generation);

    apply('still', { app: web(), paused: false });
    await eventually(async () =>
      expect((await readDeployment('still')).spec?.template.spec?.containers[0]?.image).to.equal(IMAGE),
    );
    await waitForPhase('still', 'Ready');
  });

  it('reports a missing ConfigMap as Invalid, then converges once it exists', async function () {
    apply('needs-config', {
      app: web({
        env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'greetings', key: 'hello' } } }],
      }),
    });
    const lab = await waitForPhase('needs-config', 'Invalid');
    expect(JSON.stringify(lab.status?.conditions)).to.contain('greetings');
    expect(await eventReasons('needs-config')).to.include('InvalidSpec');

    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'greetings' }, data: { hello: 'bonjour' } },
    });
    await waitForPhase('needs-config', 'Ready', 60_000);
  });

  it('reports a Service targetPort naming no container port as Invalid', async function () {
    apply('bad-port', { app: web(), service: { ports: [{ name: 'http', port: 80, targetPort: 'nope' }] } });
    const lab = await waitForPhase('bad-port', 'Invalid');
    expect(JSON.stringify(lab.status?.conditions)).to.contain('nope');
    await notFound(() => readDeployment('bad-port'));
  });

  it('never got a 403 with the shipped RBAC', async function () {
    expect(await operator.metricValue('rest_client_requests_total', { code: '403' })).to.equal(0);
    const forbidden = operator.logs.filter((l) => JSON.stringify(l).includes('forbidden'));
    expect(forbidden, JSON.stringify(forbidden.slice(0, 3))).to.deep.equal([]);
  });
  it('sends no write request when it resyncs converged labs', async function () {
    // Everything above has converged (or is Invalid, which is converged too). A fresh operator
    // process lists every lab and reconciles each one: none of that may write.
    await operator.stop();
    const labs = (
      (await custom.listNamespacedCustomObject({ ...STUDYLABS, namespace: ns })) as { items: StudyLab[] }
    ).items;
    const fresh = await startOperator({ kubeconfig: operatorKubeconfig, args: ['--log-level=debug'] });
    try {
      await fresh.waitReady();
      // Every lab, each by name, has been reconciled to the end (the debug log says so per reconcile).
      await until(() => {
        const reconciled = new Set(
          fresh.logs
            .filter((l) => RECONCILE_ENDS.has(String(l.msg)) && l.namespace === ns)
            .map((l) => String(l.name)),
        );
        expect(
          labs.map((l) => l.metadata.name).filter((name) => !reconciled.has(name!)),
          'labs not reconciled yet',
        ).to.deep.equal([]);
      });
      await eventually(async () =>
        expect(await fresh.metricValue('workqueue_depth', { name: 'studylab' })).to.equal(0),
      );
      const metrics = await fresh.metrics();
      const writes = WRITE_METHODS.map(
        (m) => [m, sumMetric(metrics, 'rest_client_requests_total', { method: m })] as const,
      ).filter(([, n]) => n > 0);
      const why = fresh.logs.filter((l) => /applying|writing|event/i.test(String(l.msg)));
      expect(
        writes,
        `write requests during resync: ${JSON.stringify(writes)}\n${why.map((l) => JSON.stringify(l)).join('\n')}`,
      ).to.deep.equal([]);
    } finally {
      await fresh.stop();
      operator = await startOperator({ kubeconfig: operatorKubeconfig, args: operatorArgs() });
      await operator.waitReady();
    }
  });
});
