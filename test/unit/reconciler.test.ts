/**
 * The reconciler against a FAKE in-memory client (test/support/fake-client.ts) and real stores:
 * what it sends, and what it does not, for each situation a lab can be in. The same situations run
 * against a real API server in test/e2e; here each request is counted exactly.
 */
import { expect } from 'chai';
import type { StudyLab, StudyLabSpec } from '../../src/api/v1alpha1/index.js';
import {
  ApiError,
  Deployments,
  NetworkPolicies,
  PersistentVolumeClaims,
  Services,
  Store,
  createLogger,
  type KubeObject,
  type ReconcileContext,
  type Result,
} from '../../src/runtime/index.js';
import { CONFLICT_RECHECK, StudyLabReconciler, type StudyLabCaches } from '../../src/studylab/reconciler.js';
import { StudyLabs } from '../../src/studylab/resources.js';
import { labelsFor } from '../../src/studylab/labels.js';
import { FakeClient, FakeEvents, type RecordedRequest } from '../support/fake-client.js';
import { LAB_NAME, LAB_NAMESPACE, labWith } from './builders/fixtures.js';

const CHILD_TYPES = [Deployments, Services, NetworkPolicies, PersistentVolumeClaims] as const;

const SPEC: StudyLabSpec = {
  app: { image: 'nginxinc/nginx-unprivileged:1.27', ports: [{ name: 'http', containerPort: 8080 }] },
  storage: { size: '1Gi', mountPath: '/data' },
  networkPolicy: { ingress: [] },
};

/** A reconciler wired to a fake client, fake events and real stores, with the cache filled from the fake. */
class Harness {
  readonly client = new FakeClient();
  readonly events = new FakeEvents();
  readonly caches: StudyLabCaches = {
    labs: new Store<StudyLab>(),
    deployments: new Store(),
    services: new Store(),
    networkPolicies: new Store(),
    claims: new Store(),
  };
  readonly reconciler = new StudyLabReconciler({
    client: this.client,
    caches: this.caches,
    events: this.events,
    now: () => new Date('2026-12-06T12:00:00Z'),
  });

  /** Creates the lab in the fake and the cache, as the API server and the informer would have it. */
  lab(spec: StudyLabSpec, patch: (lab: StudyLab) => void = () => undefined): StudyLab {
    const lab = labWith(spec, 1);
    patch(lab);
    this.caches.labs.upsert(this.client.seed(StudyLabs, lab));
    return lab;
  }

  /** Lets every cache catch up with the fake (the watch events arrived). */
  sync(): void {
    this.client.syncTo(StudyLabs, this.caches.labs);
    this.client.syncTo(Deployments, this.caches.deployments);
    this.client.syncTo(Services, this.caches.services);
    this.client.syncTo(NetworkPolicies, this.caches.networkPolicies);
    this.client.syncTo(PersistentVolumeClaims, this.caches.claims);
  }

  reconcile(signal = new AbortController().signal): Promise<Result> {
    const ctx: ReconcileContext = { reconcileID: 'test', log: createLogger({ level: 'error' }), signal };
    return this.reconciler.reconcile({ namespace: LAB_NAMESPACE, name: LAB_NAME }, ctx);
  }

  /** The writes sent since `from` (an index into client.requests). */
  writesSince(from: number): RecordedRequest[] {
    return this.client.requests.slice(from).filter((r) => r.verb !== 'GET');
  }

  /** The status the last status apply sent. */
  lastStatus(): NonNullable<StudyLab['status']> {
    const sent = this.client.requests.filter((r) => r.subresource === 'status').at(-1);
    expect(sent, 'a status write').to.not.equal(undefined);
    return (sent!.body as StudyLab).status!;
  }

  condition(type: string): { status: string; reason: string; message: string } | undefined {
    return this.lastStatus().conditions?.find((c) => c.type === type);
  }

  /** The lab as the fake holds it now. */
  storedLab(): StudyLab {
    return this.client.object<StudyLab>(StudyLabs, LAB_NAMESPACE, LAB_NAME)!;
  }
}

function describeWrite(r: RecordedRequest): string {
  return `${r.verb} ${r.kind}${r.subresource ? `/${r.subresource}` : ''}`;
}

/** An object of `type` named like the lab, created by someone else, with no labels and no owner. */
function foreign(): KubeObject {
  return { metadata: { name: LAB_NAME, namespace: LAB_NAMESPACE, labels: { team: 'other' } } };
}

describe('StudyLabReconciler (fake client)', function () {
  let h: Harness;
  beforeEach(function () {
    h = new Harness();
  });

  describe('absent -> created', function () {
    it('applies every child the spec asks for, each owned by the lab, then writes status once', async function () {
      const lab = h.lab(SPEC);
      await h.reconcile();

      expect(h.client.writes().map(describeWrite)).to.deep.equal([
        'APPLY PersistentVolumeClaim',
        'APPLY Deployment',
        'APPLY Service',
        'APPLY NetworkPolicy',
        'APPLY StudyLab/status',
      ]);
      for (const type of [Deployments, Services, NetworkPolicies]) {
        const child = h.client.object(type, LAB_NAMESPACE, LAB_NAME);
        const refs = child?.metadata?.ownerReferences ?? [];
        expect(refs, `${type.kind} owner`).to.have.length(1);
        expect(refs[0]).to.include({ uid: lab.metadata.uid, controller: true, kind: 'StudyLab' });
      }
      // The default retention is Retain: the claim carries no owner, so it outlives the lab.
      const claim = h.client.object(PersistentVolumeClaims, LAB_NAMESPACE, LAB_NAME);
      expect(claim?.metadata?.ownerReferences).to.equal(undefined);
      // One Event names every child it created: an Event is a write.
      const created = h.events.events.filter((e) => e.reason === 'Created');
      expect(created.map((e) => e.note)).to.deep.equal([
        `Created PersistentVolumeClaim, Deployment, Service and NetworkPolicy ${LAB_NAME}`,
      ]);
      expect(h.events.events.map((e) => e.reason)).to.deep.equal(['Created']);
    });

    it('looks up each child the cache lacks by name, all of them together before the first apply', async function () {
      h.lab(SPEC);
      await h.reconcile();
      const gets = h.client.requests.filter((r) => r.verb === 'GET').map((r) => r.kind);
      expect(gets).to.have.members(['PersistentVolumeClaim', 'Deployment', 'Service', 'NetworkPolicy']);
      expect(h.client.requests.slice(0, 4).map((r) => r.verb)).to.deep.equal(['GET', 'GET', 'GET', 'GET']);
    });

    it('looks up only the children the spec asks for, and once in sync reads nothing more', async function () {
      h.lab({ app: SPEC.app, service: { type: 'None' } });
      await h.reconcile();
      const gets = h.client.requests.filter((r) => r.verb === 'GET').map((r) => r.kind);
      expect(gets).to.deep.equal(['Deployment']);
      h.sync();
      const before = h.client.requests.length;
      await h.reconcile();
      expect(h.client.requests.slice(before).map(describeWrite)).to.deep.equal([]);
    });
  });

  describe('in sync -> no request', function () {
    it('sends nothing, not even a read, once the cache holds what it applied', async function () {
      h.lab(SPEC);
      await h.reconcile();
      h.sync();
      const before = h.client.requests.length;
      const result = await h.reconcile();
      expect(h.client.requests.slice(before).map(describeWrite)).to.deep.equal([]);
      expect(result).to.deep.equal({});
    });
  });

  describe('a new generation -> updated', function () {
    it('applies what the new spec changes and tells it in one Event', async function () {
      h.lab(SPEC);
      await h.reconcile();
      h.sync();
      const lab = structuredClone(h.storedLab());
      lab.spec.app = { ...lab.spec.app!, image: 'nginxinc/nginx-unprivileged:1.28' };
      lab.spec.networkPolicy = { ingress: [{}] };
      lab.metadata.generation = 2;
      h.caches.labs.upsert(h.client.seed(StudyLabs, lab));

      const before = h.client.requests.length;
      const eventsBefore = h.events.events.length;
      await h.reconcile();
      expect(h.writesSince(before).map(describeWrite)).to.deep.equal([
        'APPLY Deployment',
        'APPLY NetworkPolicy',
        'APPLY StudyLab/status',
      ]);
      expect(h.events.events.slice(eventsBefore).map((e) => `${e.reason}: ${e.note}`)).to.deep.equal([
        `Updated: Updated Deployment and NetworkPolicy ${LAB_NAME} to generation 2 of the spec`,
      ]);
    });
  });

  describe('drift -> repaired', function () {
    it('applies the Deployment again when someone changed what the lab set, and says so', async function () {
      h.lab(SPEC);
      await h.reconcile();
      h.sync();
      const live = h.caches.deployments.get(`${LAB_NAMESPACE}/${LAB_NAME}`)!;
      const drifted = structuredClone(live) as KubeObject & {
        spec: { template: { spec: { containers: { image: string }[] } } };
      };
      drifted.spec.template.spec.containers[0]!.image = 'nginx:tampered';
      h.caches.deployments.upsert(drifted);

      const before = h.client.requests.length;
      await h.reconcile();
      expect(h.writesSince(before).map(describeWrite)).to.deep.equal(['APPLY Deployment']);
      const repaired = h.client.object<typeof drifted>(Deployments, LAB_NAMESPACE, LAB_NAME)!;
      expect(repaired.spec.template.spec.containers[0]!.image).to.equal(SPEC.app!.image);
      expect(h.events.reasons()).to.include('DriftRepaired');
    });
  });

  describe('name taken -> ChildConflict, and no write', function () {
    for (const type of CHILD_TYPES) {
      it(`never writes to a ${type.kind} someone else created under the lab's name`, async function () {
        h.client.seed(type, foreign());
        h.lab(SPEC);
        const result = await h.reconcile();

        const toIt = h.client.writes().filter((r) => r.kind === type.kind);
        expect(toIt.map(describeWrite), `writes to the ${type.kind}`).to.deep.equal([]);
        expect(h.client.object(type, LAB_NAMESPACE, LAB_NAME)?.metadata?.labels).to.deep.equal({
          team: 'other',
        });
        // The other children are still made.
        const others = CHILD_TYPES.filter((t) => t !== type).map((t) => `APPLY ${t.kind}`);
        expect(h.client.writes().map(describeWrite)).to.include.members(others);

        const reconciled = h.condition('Reconciled');
        expect(reconciled).to.include({ status: 'False', reason: 'ChildConflict' });
        expect(reconciled?.message).to.contain(
          `${type.kind} ${LAB_NAME} already exists and was not created by this lab`,
        );
        expect(h.lastStatus().phase).to.equal('Degraded');
        expect(h.condition('Ready')).to.include({ status: 'False', reason: 'ChildConflict' });
        expect(h.events.events.filter((e) => e.reason === 'ChildConflict')).to.have.length(1);
        expect(h.events.events.find((e) => e.reason === 'ChildConflict')?.type).to.equal('Warning');
        expect(result.requeueAfterMs, 'looks again').to.equal(CONFLICT_RECHECK.baseMs);
      });
    }

    it('treats a labelled child controlled by another uid (an earlier lab of the name) as taken', async function () {
      const stale: KubeObject = {
        kind: 'Deployment',
        metadata: {
          name: LAB_NAME,
          namespace: LAB_NAMESPACE,
          labels: labelsFor(LAB_NAME),
          ownerReferences: [
            {
              apiVersion: 'studylab.io/v1alpha1',
              kind: 'StudyLab',
              name: LAB_NAME,
              uid: 'old-uid',
              controller: true,
            },
          ],
        },
      };
      h.caches.deployments.upsert(h.client.seed(Deployments, stale));
      h.lab(SPEC);
      await h.reconcile();
      expect(h.client.writes().filter((r) => r.kind === 'Deployment')).to.deep.equal([]);
      expect(h.condition('Reconciled')?.message).to.contain(
        'still controlled by an earlier StudyLab web (uid old-uid)',
      );
      // The lab does not report the other lab's Deployment as its own.
      expect(h.condition('Available')).to.include({ status: 'Unknown', reason: 'ChildConflict' });
      expect(h.lastStatus().replicas).to.equal(0);
    });

    it('backs off while the name stays taken, up to the maximum, and converges once it is free', async function () {
      h.client.seed(Services, foreign());
      h.lab(SPEC);
      const waits: number[] = [];
      for (let i = 0; i < 7; i++) waits.push((await h.reconcile()).requeueAfterMs ?? 0);
      expect(waits).to.deep.equal([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
      expect(
        h.events.events.filter((e) => e.reason === 'ChildConflict'),
        'one Warning for one cause',
      ).to.have.length(1);

      await h.client.delete(Services, LAB_NAMESPACE, LAB_NAME);
      h.sync();
      const result = await h.reconcile();
      expect(h.client.object(Services, LAB_NAMESPACE, LAB_NAME)?.metadata?.labels).to.deep.equal(
        labelsFor(LAB_NAME),
      );
      expect(h.condition('Reconciled')).to.include({ status: 'True' });
      expect(result).to.deep.equal({});
    });

    it('adopts a claim a Retain lab of the same name left behind (our labels, no controller)', async function () {
      h.client.seed(PersistentVolumeClaims, {
        metadata: { name: LAB_NAME, namespace: LAB_NAMESPACE, labels: labelsFor(LAB_NAME) },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      } as KubeObject);
      h.lab(SPEC);
      await h.reconcile();
      expect(h.condition('Reconciled')).to.include({ status: 'True' });
      expect(h.client.writes().map(describeWrite)).to.include('APPLY PersistentVolumeClaim');
    });

    it('does not adopt a claim with our labels for another lab', async function () {
      h.client.seed(PersistentVolumeClaims, {
        metadata: { name: LAB_NAME, namespace: LAB_NAMESPACE, labels: labelsFor('someone-else') },
      });
      h.lab(SPEC);
      await h.reconcile();
      expect(h.client.writes().filter((r) => r.kind === 'PersistentVolumeClaim')).to.deep.equal([]);
      expect(h.condition('StorageBound')).to.include({ status: 'Unknown', reason: 'ChildConflict' });
    });
  });

  describe('deleting -> no request', function () {
    it('sends nothing for a lab with a deletionTimestamp, even with every child missing', async function () {
      h.lab(SPEC, (lab) => (lab.metadata.deletionTimestamp = '2026-12-06T11:59:00Z' as unknown as Date));
      const result = await h.reconcile();
      expect(h.client.requests).to.deep.equal([]);
      expect(h.events.events).to.deep.equal([]);
      expect(result).to.deep.equal({});
    });

    it('sends nothing for a lab the cache no longer has', async function () {
      await h.reconcile();
      expect(h.client.requests).to.deep.equal([]);
    });
  });

  describe('paused', function () {
    it('writes status only, and leaves drift alone', async function () {
      h.lab(SPEC);
      await h.reconcile();
      h.sync();
      const lab = structuredClone(h.storedLab());
      lab.spec.paused = true;
      lab.metadata.generation = 2;
      h.caches.labs.upsert(h.client.seed(StudyLabs, lab));
      const live = structuredClone(
        h.caches.deployments.get(`${LAB_NAMESPACE}/${LAB_NAME}`)!,
      ) as KubeObject & {
        spec: { replicas: number };
      };
      live.spec.replicas = 5;
      h.caches.deployments.upsert(live);

      const before = h.client.requests.length;
      await h.reconcile();
      expect(h.writesSince(before).map(describeWrite)).to.deep.equal(['APPLY StudyLab/status']);
      expect(h.lastStatus().phase).to.equal('Paused');
    });
  });

  describe('invalid', function () {
    it('writes no child, reports Invalid and warns once', async function () {
      h.lab({
        app: { image: 'nginx:1.27', ports: [{ name: 'http', containerPort: 8080 }] },
        service: { type: 'ClusterIP', ports: [{ name: 'web', port: 80, targetPort: 'nope' }] },
      });
      await h.reconcile();
      expect(h.client.writes().map(describeWrite)).to.deep.equal(['APPLY StudyLab/status']);
      expect(h.lastStatus().phase).to.equal('Invalid');
      expect(h.events.events.filter((e) => e.type === 'Warning').map((e) => e.reason)).to.deep.equal([
        'InvalidSpec',
      ]);
    });
  });

  describe('apply refused -> Degraded', function () {
    it("reports the API server's message, applies the other children, and throws with the refusal as cause", async function () {
      const refusal = new ApiError('PATCH deployments/web: 422 Invalid: spec.replicas: too many', {
        status: 422,
        reason: 'Invalid',
        body: undefined,
        method: 'PATCH',
        path: '/apis/apps/v1/namespaces/team-a/deployments/web',
      });
      h.client.refuse('Deployment', refusal);
      h.lab(SPEC);
      let thrown: unknown;
      await h.reconcile().catch((err: unknown) => (thrown = err));

      expect(thrown, 'thrown').to.be.instanceOf(Error);
      expect((thrown as Error).cause).to.equal(refusal);
      expect(h.lastStatus().phase).to.equal('Degraded');
      expect(h.condition('Ready')).to.include({ reason: 'ApplyFailed' });
      expect(h.condition('Ready')?.message).to.contain('spec.replicas: too many');
      expect(h.client.writes().map(describeWrite)).to.include.members([
        'APPLY Service',
        'APPLY NetworkPolicy',
      ]);
      expect(h.events.reasons()).to.include('ApplyFailed');
    });

    it('rethrows what is not a refusal (the server unavailable), for a retry, without reporting it', async function () {
      h.client.refuse(
        'Deployment',
        new ApiError('unavailable', {
          status: 503,
          reason: 'ServiceUnavailable',
          body: undefined,
          method: 'PATCH',
          path: '/',
        }),
      );
      h.lab(SPEC);
      let thrown: unknown;
      await h.reconcile().catch((err: unknown) => (thrown = err));
      expect((thrown as ApiError).status).to.equal(503);
      expect(h.client.writes().filter((r) => r.subresource === 'status')).to.deep.equal([]);
    });

    it('stops quietly when the namespace is terminating: no status write, no Event', async function () {
      h.client.refuse(
        'PersistentVolumeClaim',
        new ApiError('forbidden', {
          status: 403,
          reason: 'Forbidden',
          body: { details: { causes: [{ reason: 'NamespaceTerminating' }] } },
          method: 'PATCH',
          path: '/',
        }),
      );
      h.lab(SPEC);
      const result = await h.reconcile();
      expect(result).to.deep.equal({});
      expect(h.client.writes().map(describeWrite)).to.deep.equal(['APPLY PersistentVolumeClaim']);
      expect(h.events.events).to.deep.equal([]);
    });
  });

  describe('the signal', function () {
    it('sends nothing once the signal has aborted (a lost Lease, a shutdown)', async function () {
      h.lab(SPEC);
      const ac = new AbortController();
      ac.abort(new Error('leadership lost'));
      let thrown: unknown;
      await h.reconcile(ac.signal).catch((err: unknown) => (thrown = err));
      expect((thrown as Error).message).to.equal('leadership lost');
      expect(h.client.requests).to.deep.equal([]);
    });
  });

  describe('status', function () {
    it("applies only the condition types it manages, so another writer's conditions stay theirs", async function () {
      h.lab(SPEC, (lab) => {
        lab.status = {
          conditions: [
            {
              type: 'example.com/Audited',
              status: 'True',
              reason: 'Checked',
              message: 'by someone else',
              lastTransitionTime: '2026-12-01T00:00:00Z',
            },
          ],
        };
      });
      await h.reconcile();
      const types = h.lastStatus().conditions!.map((c) => c.type);
      expect(types).to.not.include('example.com/Audited');
      expect(types).to.include.members(['Ready', 'Reconciled']);
    });
  });
});
