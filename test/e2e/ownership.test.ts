/**
 * Ownership and lifecycle, end to end: the operator as a process with the shipped RBAC, against the
 * full local plane (the garbage collector and the namespace controller are kube-controller-manager's).
 *
 * - Objects it does not own are never written, only reported (ChildConflict).
 * - A deletion in progress is never fought: foreground deletion of labs and deletion of their
 *   namespace finish with no child created after the deletion started, as a watch on Deployments
 *   that has seen every creation since before the labs existed shows.
 */
import { expect } from 'chai';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { kubectl } from '../../src/testenv/index.js';
import type { StudyLab, StudyLabSpec } from '../../src/api/v1alpha1/index.js';
import {
  Client,
  Deployments,
  NetworkPolicies,
  PersistentVolumeClaims,
  Services,
  type KubeObject,
  type ResourceType,
} from '../../src/runtime/index.js';
import { cluster, eventually, readLab, STUDYLABS, testNamespace, type Cluster } from '../support/cluster.js';
import { FIELD_MANAGER } from '../../src/studylab/labels.js';
import { applyLab, installOperatorPrerequisites } from '../support/install.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

/** The bound the issue sets for 20 deletions to finish; the garbage collector does the work. */
const DELETION_DEADLINE_MS = 60_000;
const LABS = 20;

const APP = {
  image: 'nginxinc/nginx-unprivileged:1.27',
  ports: [{ name: 'http', containerPort: 8080 }],
};

describe('ownership and lifecycle (e2e)', function () {
  this.timeout(300_000);
  let c: Cluster;
  let admin: Client;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  let operator: OperatorProcess;

  before(async function () {
    c = await cluster();
    const { kubeconfig } = await installOperatorPrerequisites();
    admin = new Client(c.kubeConfig);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    operator = await startOperator({ kubeconfig });
    await operator.waitReady();
  });

  after(async function () {
    const code = await operator?.stop();
    expect(code, 'the operator exits cleanly').to.equal(0);
  });

  const apply = (namespace: string, name: string, spec: StudyLabSpec): void =>
    applyLab(c, namespace, name, spec);

  const resourceVersion = async (t: ResourceType, ns: string, name: string): Promise<string | undefined> =>
    (await admin.get(t, ns, name))?.metadata?.resourceVersion;

  describe('objects it does not own', function () {
    let ns: string;
    const name = 'victim';
    const foreign: [ResourceType, KubeObject][] = [
      [
        Deployments,
        {
          metadata: { name, labels: { team: 'other' } },
          spec: {
            // No pods and a claim no provisioner serves: the cluster's own controllers settle them
            // at once, so their resourceVersions move only if something writes to them.
            replicas: 0,
            selector: { matchLabels: { app: 'theirs' } },
            template: {
              metadata: { labels: { app: 'theirs' } },
              spec: { containers: [{ name: 'theirs', image: 'registry.example/theirs:1' }] },
            },
          },
        } as KubeObject,
      ],
      [
        Services,
        { metadata: { name }, spec: { selector: { app: 'theirs' }, ports: [{ port: 9999 }] } } as KubeObject,
      ],
      [
        NetworkPolicies,
        { metadata: { name }, spec: { podSelector: {}, policyTypes: ['Ingress'] } } as KubeObject,
      ],
      [
        PersistentVolumeClaims,
        {
          metadata: { name },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: 'none-such',
            resources: { requests: { storage: '1Gi' } },
          },
        } as KubeObject,
      ],
    ];
    const versions = new Map<string, string | undefined>();

    before(async function () {
      ns = await testNamespace('owner');
      for (const [type, obj] of foreign) {
        await admin.create(type, { ...obj, metadata: { ...obj.metadata, namespace: ns } });
      }
      // The Deployment controller reports on its Deployment once; wait for that before taking versions.
      await eventually(async () => {
        const d = (await admin.get(Deployments, ns, name)) as KubeObject & {
          status?: { observedGeneration?: number };
        };
        expect(d.status?.observedGeneration).to.equal(d.metadata?.generation);
      });
      for (const [type] of foreign) versions.set(type.kind, await resourceVersion(type, ns, name));
      apply(ns, name, {
        app: APP,
        storage: { size: '1Gi', mountPath: '/data' },
        networkPolicy: { ingress: [] },
      });
    });

    it('leaves each one unchanged and says ChildConflict, naming it', async function () {
      const lab = await eventually(async () => {
        const l = await readLab(custom, ns, name);
        const reconciled = l.status?.conditions?.find((x) => x.type === 'Reconciled');
        expect(reconciled?.reason, JSON.stringify(l.status)).to.equal('ChildConflict');
        return l;
      });
      expect(lab.status?.phase).to.equal('Degraded');
      const message = lab.status?.conditions?.find((x) => x.type === 'Reconciled')?.message ?? '';
      for (const [type] of foreign) expect(message).to.contain(`${type.kind} ${name}`);

      // The operator looks again with backoff; wait until it has, so a late write would show.
      await eventually(() => {
        const looks = operator.logs.filter(
          (l) => l.namespace === ns && l.name === name && String(l.msg).startsWith('child name taken'),
        );
        expect(looks.length, 'conflict checks of this lab').to.be.at.least(2 * foreign.length);
        return Promise.resolve();
      });
      for (const [type] of foreign) {
        const now = await admin.get(type, ns, name);
        expect(now?.metadata?.resourceVersion, `${type.kind} resourceVersion`).to.equal(
          versions.get(type.kind),
        );
        const managers = (now?.metadata?.managedFields ?? []).map((m) => m.manager);
        expect(managers, `${type.kind} field managers`).to.not.include(FIELD_MANAGER);
      }
      const service = (await admin.get(Services, ns, name)) as KubeObject & {
        spec: { ports: { port: number }[]; selector: Record<string, string> };
      };
      expect(service.spec.ports.map((p) => p.port)).to.deep.equal([9999]);
      expect(service.spec.selector).to.deep.equal({ app: 'theirs' });

      const events = JSON.parse(
        kubectl(c, [
          'get',
          'events.events.k8s.io',
          '-n',
          ns,
          '-o',
          'json',
          '--field-selector=reason=ChildConflict',
        ]),
      ) as { items: { type: string; regarding: { name: string } }[] };
      expect(events.items.filter((e) => e.regarding.name === name && e.type === 'Warning')).to.have.length(1);
    });

    it('converges once the names are free, apart from the claim still in conflict', async function () {
      for (const type of [Deployments, Services, NetworkPolicies]) await admin.delete(type, ns, name);
      const uid = (await readLab(custom, ns, name)).metadata.uid;
      await eventually(
        async () => {
          for (const type of [Deployments, Services, NetworkPolicies]) {
            const child = await admin.get(type, ns, name);
            const owner = child?.metadata?.ownerReferences?.find((r) => r.controller);
            expect(owner?.uid, `${type.kind} controlled by the lab`).to.equal(uid);
          }
          const lab = await readLab(custom, ns, name);
          const reconciled = lab.status?.conditions?.find((x) => x.type === 'Reconciled');
          expect(reconciled?.reason).to.equal('ChildConflict');
          expect(reconciled?.message).to.match(/^PersistentVolumeClaim victim already exists/);
          expect(reconciled?.message).to.not.contain('Deployment');
        },
        { timeoutMs: 90_000 },
      );
      expect(await resourceVersion(PersistentVolumeClaims, ns, name), 'the claim').to.equal(
        versions.get('PersistentVolumeClaim'),
      );
    });
  });

  describe('deletions in progress', function () {
    /** Watches Deployments in `namespace` from before anything exists there; counts every creation. */
    async function watchCreations(namespace: string): Promise<{ created: Set<string>; stop: () => void }> {
      const created = new Set<string>();
      const stop = new AbortController();
      const ended = (how: string): void => {
        // A watch that ended early would miss creations and let the count pass: fail instead.
        if (!stop.signal.aborted) created.add(`the watch ended early: ${how}`);
      };
      const list = await admin.list(Deployments, { namespace });
      expect(list.items, 'Deployments before the labs').to.deep.equal([]);
      void admin
        .watch<KubeObject>(
          Deployments,
          { namespace, resourceVersion: list.resourceVersion, signal: stop.signal },
          (e) => {
            if (e.type === 'ADDED') created.add(e.object.metadata?.uid ?? '');
          },
        )
        .then(
          () => ended('closed by the server'),
          (err: unknown) => ended(String(err)),
        );
      return { created, stop: () => stop.abort() };
    }

    async function createReadyLabs(namespace: string): Promise<void> {
      for (let i = 0; i < LABS; i++) {
        apply(namespace, `lab-${i}`, {
          app: APP,
          storage: { size: '1Gi', mountPath: '/data', retentionPolicy: 'Delete' },
        });
      }
      await eventually(
        async () => {
          const labs = (await custom.listNamespacedCustomObject({ ...STUDYLABS, namespace })) as {
            items: StudyLab[];
          };
          const ready = labs.items.filter((l) => l.status?.phase === 'Ready');
          expect(ready.length, 'labs Ready').to.equal(LABS);
        },
        { timeoutMs: 180_000, intervalMs: 500 },
      );
    }

    it(`foreground deletion of ${LABS} labs: all gone, and exactly ${LABS} Deployments ever created`, async function () {
      const ns = await testNamespace('fg');
      const watch = await watchCreations(ns);
      try {
        await createReadyLabs(ns);
        expect(watch.created.size, 'Deployments created for the labs').to.equal(LABS);
        const started = Date.now();
        for (let i = 0; i < LABS; i++) {
          await custom.deleteNamespacedCustomObject({
            ...STUDYLABS,
            namespace: ns,
            name: `lab-${i}`,
            propagationPolicy: 'Foreground',
          });
        }
        await eventually(
          async () => {
            const labs = (await custom.listNamespacedCustomObject({ ...STUDYLABS, namespace: ns })) as {
              items: unknown[];
            };
            expect(labs.items.length, 'labs left').to.equal(0);
            expect(
              (await admin.list(Deployments, { namespace: ns })).items.length,
              'Deployments left',
            ).to.equal(0);
            const claims = await admin.list(PersistentVolumeClaims, { namespace: ns });
            expect(claims.items.length, 'Delete claims left').to.equal(0);
          },
          { timeoutMs: DELETION_DEADLINE_MS, intervalMs: 250 },
        );
        console.log(`      foreground deletion of ${LABS} labs took ${Date.now() - started} ms`);
        expect(watch.created.size, 'Deployments ever created in the namespace').to.equal(LABS);
      } finally {
        watch.stop();
      }
    });

    it(`deleting the namespace of ${LABS} labs: exactly ${LABS} Deployments ever created`, async function () {
      const ns = `nsdel-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
      await core.createNamespace({
        body: { metadata: { name: ns, labels: { 'studylab.io/test': 'true' } } },
      });
      const watch = await watchCreations(ns);
      try {
        await createReadyLabs(ns);
        const started = Date.now();
        await core.deleteNamespace({ name: ns });
        await eventually(
          async () => {
            const gone = await core.readNamespace({ name: ns }).then(
              () => false,
              (e: { code?: number }) => e.code === 404,
            );
            expect(gone, `namespace ${ns} deleted`).to.equal(true);
          },
          { timeoutMs: DELETION_DEADLINE_MS * 2, intervalMs: 250 },
        );
        console.log(`      namespace deletion with ${LABS} labs took ${Date.now() - started} ms`);
        expect(watch.created.size, 'Deployments ever created in the namespace').to.equal(LABS);
        const errors = operator.logs.filter((l) => l.level === 'error' && l.namespace === ns);
        expect(
          errors.map((l) => l.msg),
          'errors logged for the namespace',
        ).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });
  });
});
