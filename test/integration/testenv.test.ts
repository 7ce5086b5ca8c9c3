/**
 * The local control plane is a real cluster: each property is checked by
 * re-fetching from the API server.
 */
import { expect } from 'chai';
import {
  AppsV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  ApiException,
  type KubeConfig,
} from '@kubernetes/client-node';
import { cluster, eventually, testNamespace } from '../support/cluster.js';

describe('local control plane', function () {
  let kc: KubeConfig;
  let ns: string;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  before(async function () {
    this.timeout(120_000);
    kc = (await cluster()).kubeConfig;
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    ns = await testNamespace('testenv');
  });

  it('runs a Deployment whose Pods become Running and Ready', async function () {
    const labels = { app: 'web' };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } },
        },
      },
    });
    await eventually(async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
      expect(pods.items).to.have.length(2);
      for (const pod of pods.items) {
        expect(pod.status?.phase).to.equal('Running');
        expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
      }
    });
    const dep = await eventually(async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
      expect(d.status?.readyReplicas).to.equal(2);
      return d;
    });
    expect(dep.status?.availableReplicas).to.equal(2);
  });

  it('garbage-collects objects whose owner is deleted', async function () {
    const owner = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'owner' } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: 'owned',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'owner' });
    await eventually(async () => {
      const err = await core.readNamespacedConfigMap({ namespace: ns, name: 'owned' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(ApiException);
      expect((err as ApiException<unknown>).code).to.equal(404);
    });
  });

  it('binds a PVC to a matching PV', async function () {
    const pvName = `${ns}-pv`;
    await core.createPersistentVolume({
      body: {
        metadata: { name: pvName },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          storageClassName: 'manual',
          hostPath: { path: `/tmp/${pvName}` },
          persistentVolumeReclaimPolicy: 'Retain',
        },
      },
    });
    after(() => core.deletePersistentVolume({ name: pvName }).catch(() => undefined));
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'claim' },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: 'manual',
          resources: { requests: { storage: '500Mi' } },
        },
      },
    });
    await eventually(async () => {
      const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'claim' });
      expect(pvc.status?.phase).to.equal('Bound');
      expect(pvc.spec?.volumeName).to.equal(pvName);
    });
  });

  it('provisions a PVC of the default StorageClass dynamically', async function () {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'dynamic' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    });
    const pvc = await eventually(async () => {
      const p = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'dynamic' });
      expect(p.status?.phase).to.equal('Bound');
      return p;
    });
    expect(pvc.spec?.storageClassName).to.equal('standard');
  });

  it('enforces RBAC: a ServiceAccount gets 403 until a Role allows it', async function () {
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'reader' } } });
    const sa = await (await cluster()).serviceAccountKubeConfig(ns, 'reader');
    const asReader = sa.kubeConfig.makeApiClient(CoreV1Api);
    const denied = await asReader.listNamespacedConfigMap({ namespace: ns }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((denied as ApiException<unknown>).code).to.equal(403);

    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'read-cm' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'read-cm' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-cm' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });
    const list = await eventually(() => asReader.listNamespacedConfigMap({ namespace: ns }));
    expect(list.items.map((c) => c.metadata?.name)).to.include('kube-root-ca.crt');
    // Allowed to list, still not to delete.
    const stillDenied = await asReader
      .deleteNamespacedConfigMap({ namespace: ns, name: 'kube-root-ca.crt' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((stillDenied as ApiException<unknown>).code).to.equal(403);
  });
});
