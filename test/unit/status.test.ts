import { expect } from 'chai';
import type { V1Deployment, V1PersistentVolumeClaim, V1Service } from '@kubernetes/client-node';
import type { Condition, StudyLab, StudyLabSpec, StudyLabStatus } from '../../src/api/v1alpha1/index.js';
import {
  computeStatus,
  DEFAULT_CLUSTER_DOMAIN,
  endpointOf,
  PHASE_PRECEDENCE,
  statusChanges,
  statusEqual,
  type Observed,
} from '../../src/studylab/status.js';
import { ConditionType, Reason } from '../../src/studylab/conditions.js';
import { rolloutStateOf } from '../../src/studylab/rollout.js';
import { StorageRefusalReason, type StorageRefusal } from '../../src/studylab/builders/index.js';
import type { Problem } from '../../src/studylab/validation.js';
import { deepFreeze, LAB_NAME, labWith } from './builders/fixtures.js';

const T0 = new Date('2026-03-01T12:00:00Z');
const T1 = new Date('2026-03-01T12:01:00Z');
const T2 = new Date('2026-03-01T12:02:00Z');
const HOST = `${LAB_NAME}.team-a.svc.cluster.local`;

const SPEC: StudyLabSpec = {
  app: {
    image: 'nginxinc/nginx-unprivileged:1.27',
    replicas: 2,
    ports: [{ name: 'http', containerPort: 8080 }],
  },
  service: { ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  storage: { size: '1Gi' },
};

interface DeploymentState {
  generation?: number;
  observedGeneration?: number;
  replicas?: number;
  specReplicas?: number | null;
  updated?: number;
  ready?: number;
  available?: number;
  availableCondition?: 'True' | 'False' | 'Unknown' | null;
  progressingReason?: string;
  progressingMessage?: string;
}

/** A Deployment as the cache holds it; by default fully rolled out with 2 ready pods. */
function deployment(s: DeploymentState = {}): V1Deployment {
  const n = s.specReplicas === null ? undefined : (s.specReplicas ?? 2);
  const conditions = [
    ...(s.availableCondition === null
      ? []
      : [{ type: 'Available', status: s.availableCondition ?? 'True', reason: 'MinimumReplicasAvailable' }]),
    {
      type: 'Progressing',
      status: s.progressingReason === 'ProgressDeadlineExceeded' ? 'False' : 'True',
      reason: s.progressingReason ?? 'NewReplicaSetAvailable',
      ...(s.progressingMessage && { message: s.progressingMessage }),
    },
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: LAB_NAME, namespace: 'team-a', generation: s.generation ?? 4 },
    spec: { ...(n !== undefined && { replicas: n }), selector: {}, template: {} },
    status: {
      observedGeneration: s.observedGeneration ?? s.generation ?? 4,
      replicas: s.replicas ?? n ?? 1,
      updatedReplicas: s.updated ?? n ?? 1,
      readyReplicas: s.ready ?? n ?? 1,
      availableReplicas: s.available ?? n ?? 1,
      conditions,
    },
  };
}

function service(type = 'ClusterIP', extra: Partial<V1Service> = {}): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: LAB_NAME, namespace: 'team-a' },
    spec: {
      type,
      clusterIP: '10.96.0.10',
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
    ...extra,
  };
}

/** A claim in that phase; null for a claim whose status has no phase yet. */
function claim(phase: string | null = 'Bound', capacity = '1Gi'): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: LAB_NAME, namespace: 'team-a' },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } },
      volumeName: 'pvc-1',
    },
    status: { ...(phase && { phase }), ...(phase === 'Bound' && { capacity: { storage: capacity } }) },
  };
}

/** Everything as asked. */
function healthy(): Observed {
  return { deployment: deployment(), service: service(), pvc: claim(), problems: [], applyErrors: [] };
}

const PROBLEM: Problem = {
  field: 'spec.service.ports[0].targetPort',
  reason: 'UnknownTargetPort',
  message: 'names no port',
};
const REFUSAL: StorageRefusal = {
  field: 'spec.storage.size',
  reason: StorageRefusalReason.ShrinkRefused,
  message: 'cannot shrink',
};

function conditionOf(status: StudyLabStatus, type: string): Condition {
  const c = status.conditions?.find((x) => x.type === type);
  if (!c) throw new Error(`no ${type} condition in ${JSON.stringify(status.conditions)}`);
  return c;
}

describe('status', function () {
  describe('phase precedence', function () {
    it('is Paused > Invalid > Degraded > Pending > Progressing > Ready', function () {
      expect(PHASE_PRECEDENCE).to.deep.equal([
        'Paused',
        'Invalid',
        'Degraded',
        'Pending',
        'Progressing',
        'Ready',
      ]);
    });

    interface Row {
      name: string;
      spec?: Partial<StudyLabSpec>;
      observed: Partial<Observed>;
      phase: string;
      reason: string;
    }
    const broken: Partial<Observed> = {
      deployment: undefined,
      service: undefined,
      pvc: undefined,
      problems: [PROBLEM],
      applyErrors: [{ kind: 'Deployment', message: 'quota exceeded' }],
      storageRefusal: REFUSAL,
    };
    const rows: Row[] = [
      { name: 'everything as asked', observed: {}, phase: 'Ready', reason: 'LabReady' },
      {
        name: 'paused, over every failure',
        spec: { paused: true },
        observed: broken,
        phase: 'Paused',
        reason: 'Paused',
      },
      {
        name: 'a problem, over a refusal, apply errors and missing children',
        observed: broken,
        phase: 'Invalid',
        reason: 'UnknownTargetPort',
      },
      {
        name: 'problems of several kinds',
        observed: {
          problems: [PROBLEM, { field: 'spec.service.ports', reason: 'NoServicePorts', message: 'none' }],
        },
        phase: 'Invalid',
        reason: 'InvalidSpec',
      },
      {
        name: 'a storage refusal, over an apply error and missing children',
        observed: { ...broken, problems: [] },
        phase: 'Degraded',
        reason: 'StorageShrinkRefused',
      },
      {
        name: 'an apply error, over a missing Deployment',
        observed: { deployment: undefined, applyErrors: [{ kind: 'Deployment', message: 'denied' }] },
        phase: 'Degraded',
        reason: 'ApplyFailed',
      },
      {
        name: 'a progress deadline exceeded, over a missing Service',
        observed: {
          service: undefined,
          deployment: deployment({ progressingReason: 'ProgressDeadlineExceeded', updated: 1 }),
        },
        phase: 'Degraded',
        reason: 'ProgressDeadlineExceeded',
      },
      {
        name: 'a lost claim, over a rollout under way',
        observed: { pvc: claim('Lost'), deployment: deployment({ updated: 1 }) },
        phase: 'Degraded',
        reason: 'ClaimLost',
      },
      {
        name: 'a missing Deployment, over a pending claim',
        observed: { deployment: undefined, pvc: claim('Pending') },
        phase: 'Pending',
        reason: 'DeploymentNotFound',
      },
      {
        name: 'a missing Service',
        observed: { service: undefined },
        phase: 'Pending',
        reason: 'ServiceNotFound',
      },
      {
        name: 'a missing claim, over a rollout',
        observed: { pvc: undefined, deployment: deployment({ updated: 1 }) },
        phase: 'Pending',
        reason: 'ClaimNotFound',
      },
      {
        name: 'a rollout under way',
        observed: { deployment: deployment({ updated: 1 }) },
        phase: 'Progressing',
        reason: 'RolloutInProgress',
      },
      {
        name: 'a claim not bound yet',
        observed: { pvc: claim('Pending') },
        phase: 'Progressing',
        reason: 'ClaimPending',
      },
      {
        name: 'a LoadBalancer without an address yet (not waited for)',
        spec: { service: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80 }] } },
        observed: { service: service('LoadBalancer') },
        phase: 'Ready',
        reason: 'LabReady',
      },
    ];
    for (const row of rows) {
      it(`${row.name}: ${row.phase} (${row.reason})`, function () {
        const lab = labWith({ ...SPEC, ...row.spec });
        const status = computeStatus(lab, { ...healthy(), ...row.observed }, T0);
        expect(status.phase).to.equal(row.phase);
        const ready = conditionOf(status, 'Ready');
        expect(ready.reason).to.equal(row.reason);
        expect(ready.status).to.equal(row.phase === 'Ready' ? 'True' : 'False');
      });
    }
  });

  describe('fields', function () {
    it('reports observedGeneration, on the status and on every condition', function () {
      const status = computeStatus(labWith(SPEC, 7), healthy(), T0);
      expect(status.observedGeneration).to.equal(7);
      expect(status.conditions!.map((c) => c.observedGeneration)).to.deep.equal([7, 7, 7, 7, 7]);
    });

    it('takes replicas and readyReplicas from the Deployment status', function () {
      const status = computeStatus(
        labWith(SPEC),
        { ...healthy(), deployment: deployment({ specReplicas: 3, replicas: 4, ready: 2, updated: 3 }) },
        T0,
      );
      expect(status.replicas).to.equal(4);
      expect(status.readyReplicas).to.equal(2);
    });

    it('reports 0 replicas while the Deployment does not exist', function () {
      const status = computeStatus(labWith(SPEC), { ...healthy(), deployment: undefined }, T0);
      expect(status.replicas).to.equal(0);
      expect(status.readyReplicas).to.equal(0);
    });

    it('reports 0 for counts the Deployment status leaves out (zero is omitted in JSON)', function () {
      const d = deployment();
      d.status = { observedGeneration: 4 };
      const status = computeStatus(labWith(SPEC), { ...healthy(), deployment: d }, T0);
      expect(status.replicas).to.equal(0);
      expect(status.readyReplicas).to.equal(0);
    });

    it('has no replica counts for a lab without app', function () {
      const lab = labWith({ service: { type: 'ExternalName', externalName: 'example.org' } });
      const status = computeStatus(
        lab,
        { service: service('ExternalName'), problems: [], applyErrors: [] },
        T0,
      );
      expect(status).to.not.have.property('replicas');
      expect(status).to.not.have.property('readyReplicas');
      expect(status.phase).to.equal('Ready');
      expect(status.endpoint).to.equal('example.org');
    });

    it('keeps a stable key order: observedGeneration, phase, replicas, readyReplicas, endpoint, conditions', function () {
      expect(Object.keys(computeStatus(labWith(SPEC), healthy(), T0))).to.deep.equal([
        'observedGeneration',
        'phase',
        'replicas',
        'readyReplicas',
        'endpoint',
        'conditions',
      ]);
    });
  });

  describe('endpoint', function () {
    const lab = (service: StudyLabSpec['service']) => labWith({ app: SPEC.app, ...(service && { service }) });

    it('ClusterIP: <name>.<namespace>.svc.cluster.local:<port>', function () {
      expect(
        endpointOf(lab({ ports: [{ name: 'http', port: 80, targetPort: 'http' }] }), service()),
      ).to.equal(`${HOST}:80`);
    });

    it('ClusterIP from app.ports: the container port is the Service port', function () {
      expect(endpointOf(lab(undefined), undefined)).to.equal(`${HOST}:8080`);
    });

    it('uses the first port when there are several', function () {
      const l = lab({
        ports: [
          { name: 'web', port: 81 },
          { name: 'admin', port: 82 },
        ],
      });
      expect(endpointOf(l, undefined)).to.equal(`${HOST}:81`);
    });

    it('uses the cluster domain given', function () {
      expect(DEFAULT_CLUSTER_DOMAIN).to.equal('cluster.local');
      expect(endpointOf(lab(undefined), undefined, 'corp.example')).to.equal(
        `${LAB_NAME}.team-a.svc.corp.example:8080`,
      );
      const status = computeStatus(labWith(SPEC), healthy(), T0, { clusterDomain: 'corp.example' });
      expect(status.endpoint).to.equal(`${LAB_NAME}.team-a.svc.corp.example:80`);
    });

    it('NodePort: plus the fixed node port, before the Service exists', function () {
      const l = lab({ type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
      expect(endpointOf(l, undefined)).to.equal(`${HOST}:80, node port 30080`);
    });

    it('NodePort: plus the node port the API server allocated', function () {
      const l = lab({ type: 'NodePort', ports: [{ name: 'http', port: 80 }] });
      expect(endpointOf(l, undefined)).to.equal(`${HOST}:80`);
      const live = service('NodePort');
      live.spec!.ports![0]!.nodePort = 31234;
      expect(endpointOf(l, live)).to.equal(`${HOST}:80, node port 31234`);
    });

    it('LoadBalancer: plus node port, and the load balancer ip once provisioned', function () {
      const l = lab({ type: 'LoadBalancer', ports: [{ name: 'http', port: 80 }] });
      const live = service('LoadBalancer');
      live.spec!.ports![0]!.nodePort = 31000;
      expect(endpointOf(l, live)).to.equal(`${HOST}:80, node port 31000`);
      live.status = { loadBalancer: { ingress: [{ ip: '203.0.113.10' }] } };
      expect(endpointOf(l, live)).to.equal(`${HOST}:80, node port 31000, load balancer 203.0.113.10:80`);
    });

    it('LoadBalancer: or its hostname', function () {
      const l = lab({ type: 'LoadBalancer', ports: [{ name: 'http', port: 443, nodePort: 30443 }] });
      const live = service('LoadBalancer', {
        status: { loadBalancer: { ingress: [{ hostname: 'lb.example.net' }] } },
      });
      live.spec!.ports = [{ name: 'http', port: 443, nodePort: 30443 }];
      expect(endpointOf(l, live)).to.equal(`${HOST}:443, node port 30443, load balancer lb.example.net:443`);
    });

    it('Headless: the DNS name with the pods’ port (no virtual IP translates 80 to 8080)', function () {
      expect(
        endpointOf(
          lab({ type: 'Headless', ports: [{ name: 'http', port: 80, targetPort: 'http' }] }),
          undefined,
        ),
      ).to.equal(`${HOST}:8080 (headless)`);
      expect(
        endpointOf(
          lab({ type: 'Headless', ports: [{ name: 'http', port: 80, targetPort: 9000 }] }),
          undefined,
        ),
      ).to.equal(`${HOST}:9000 (headless)`);
      expect(endpointOf(lab({ type: 'Headless', ports: [{ name: 'http', port: 80 }] }), undefined)).to.equal(
        `${HOST}:80 (headless)`,
      );
    });

    it('Headless without any port: the DNS name alone', function () {
      const l = labWith({ app: { image: 'x' }, service: { type: 'Headless' } });
      expect(endpointOf(l, undefined)).to.equal(`${HOST} (headless)`);
    });

    it('ExternalName: the external name', function () {
      const l = labWith({ service: { type: 'ExternalName', externalName: 'example.org' } });
      expect(endpointOf(l, undefined)).to.equal('example.org');
    });

    it('None: no endpoint, and no endpoint field in the status', function () {
      const l = labWith({ app: SPEC.app, service: { type: 'None' } });
      expect(endpointOf(l, undefined)).to.be.undefined;
      const status = computeStatus(l, { deployment: deployment(), problems: [], applyErrors: [] }, T0);
      expect(status).to.not.have.property('endpoint');
      expect(status.phase).to.equal('Ready');
    });
  });

  describe('conditions', function () {
    it('lists Ready, Reconciled, Available, Progressing, StorageBound for a lab with app and storage', function () {
      const status = computeStatus(labWith(SPEC), healthy(), T0);
      expect(status.conditions!.map((c) => [c.type, c.status, c.reason])).to.deep.equal([
        ['Ready', 'True', 'LabReady'],
        ['Reconciled', 'True', 'ChildrenApplied'],
        ['Available', 'True', 'MinimumReplicasAvailable'],
        ['Progressing', 'False', 'RolloutComplete'],
        ['StorageBound', 'True', 'ClaimBound'],
      ]);
      for (const c of status.conditions!) expect(c.lastTransitionTime).to.equal('2026-03-01T12:00:00Z');
    });

    it('writes messages a person can act on', function () {
      const status = computeStatus(labWith(SPEC), healthy(), T0);
      expect(conditionOf(status, 'Ready').message).to.equal(
        `the lab is ready: 2 of 2 pods ready, endpoint ${HOST}:80, storage bound`,
      );
      expect(conditionOf(status, 'Reconciled').message).to.equal(
        'PersistentVolumeClaim, Deployment and Service match generation 3 of the spec',
      );
      expect(conditionOf(status, 'Available').message).to.include('2 of 2 pods available');
      expect(conditionOf(status, 'StorageBound').message).to.include('pvc-1').and.include('1Gi');
    });

    it('has no StorageBound without storage, and no Available/Progressing without app', function () {
      const noStorage = computeStatus(labWith({ app: SPEC.app, service: SPEC.service }), healthy(), T0);
      expect(noStorage.conditions!.map((c) => c.type)).to.deep.equal([
        'Ready',
        'Reconciled',
        'Available',
        'Progressing',
      ]);
      const external = computeStatus(
        labWith({ service: { type: 'ExternalName', externalName: 'a.example' } }),
        { service: service('ExternalName'), problems: [], applyErrors: [] },
        T0,
      );
      expect(external.conditions!.map((c) => c.type)).to.deep.equal(['Ready', 'Reconciled']);
      expect(conditionOf(external, 'Reconciled').message).to.equal(
        'Service matches generation 3 of the spec',
      );
    });

    it('drops a condition the spec no longer calls for (storage removed)', function () {
      const lab = labWith(SPEC);
      lab.status = computeStatus(lab, healthy(), T0);
      const without = labWith({ app: SPEC.app, service: SPEC.service });
      without.status = lab.status;
      expect(computeStatus(without, healthy(), T1).conditions!.map((c) => c.type)).to.not.include(
        'StorageBound',
      );
    });

    it('keeps conditions of types it does not manage, after its own', function () {
      const lab = labWith(SPEC);
      const foreign: Condition = {
        type: 'example.com/Audited',
        status: 'True',
        lastTransitionTime: '2025-01-01T00:00:00Z',
        reason: 'Done',
        message: '',
      };
      lab.status = { conditions: [foreign] };
      const status = computeStatus(lab, healthy(), T0);
      expect(status.conditions!.at(-1)).to.deep.equal(foreign);
      expect(status.conditions).to.have.length(6);
    });

    describe('Reconciled', function () {
      it('False/Paused when paused', function () {
        const c = conditionOf(computeStatus(labWith({ ...SPEC, paused: true }), healthy(), T0), 'Reconciled');
        expect([c.status, c.reason]).to.deep.equal(['False', 'Paused']);
      });

      it('False with the problem reason and every problem in the message', function () {
        const problems: Problem[] = [PROBLEM, { ...PROBLEM, field: 'spec.service.ports[1].targetPort' }];
        const c = conditionOf(computeStatus(labWith(SPEC), { ...healthy(), problems }, T0), 'Reconciled');
        expect([c.status, c.reason]).to.deep.equal(['False', 'UnknownTargetPort']);
        expect(c.message).to.equal(
          'spec.service.ports[0].targetPort: names no port; spec.service.ports[1].targetPort: names no port',
        );
      });

      it('False with reason ConfigMapNotFound for a missing ConfigMap', function () {
        const problems: Problem[] = [
          {
            field: 'spec.app.envFrom[0].configMapRef.name',
            reason: 'ConfigMapNotFound',
            message: 'ConfigMap "x" does not exist',
          },
        ];
        const status = computeStatus(labWith(SPEC), { ...healthy(), problems }, T0);
        expect(status.phase).to.equal('Invalid');
        expect(conditionOf(status, 'Reconciled').reason).to.equal('ConfigMapNotFound');
      });

      it('False with the refusal reason, the apply errors listed too', function () {
        const c = conditionOf(
          computeStatus(
            labWith(SPEC),
            {
              ...healthy(),
              storageRefusal: REFUSAL,
              applyErrors: [{ kind: 'Service', message: 'port taken' }],
            },
            T0,
          ),
          'Reconciled',
        );
        expect([c.status, c.reason]).to.deep.equal(['False', 'StorageShrinkRefused']);
        expect(c.message).to.equal('cannot shrink; applying the Service failed: port taken');
      });

      it('False/ApplyFailed naming each failed child', function () {
        const applyErrors = [
          { kind: 'Deployment', message: 'admission webhook denied' },
          { kind: 'NetworkPolicy', message: 'forbidden' },
        ];
        const c = conditionOf(computeStatus(labWith(SPEC), { ...healthy(), applyErrors }, T0), 'Reconciled');
        expect([c.status, c.reason]).to.deep.equal(['False', Reason.ApplyFailed]);
        expect(c.message).to.equal(
          'applying the Deployment failed: admission webhook denied; applying the NetworkPolicy failed: forbidden',
        );
      });
    });

    describe('Available', function () {
      const availableOf = (d: V1Deployment | undefined) =>
        conditionOf(computeStatus(labWith(SPEC), { ...healthy(), deployment: d }, T0), 'Available');

      it("mirrors the Deployment's Available condition", function () {
        expect([availableOf(deployment()).status, availableOf(deployment()).reason]).to.deep.equal([
          'True',
          'MinimumReplicasAvailable',
        ]);
        const down = availableOf(deployment({ availableCondition: 'False', available: 0 }));
        expect([down.status, down.reason]).to.deep.equal(['False', 'MinimumReplicasUnavailable']);
        expect(down.message).to.include('0 of 2 pods available');
      });

      it('Unknown until the Deployment controller reports', function () {
        const c = availableOf(deployment({ availableCondition: null }));
        expect([c.status, c.reason]).to.deep.equal(['Unknown', 'AwaitingDeploymentStatus']);
        expect([availableOf(deployment({ availableCondition: 'Unknown' })).status]).to.deep.equal([
          'Unknown',
        ]);
      });

      it('False/DeploymentNotFound without a Deployment', function () {
        const c = availableOf(undefined);
        expect([c.status, c.reason]).to.deep.equal(['False', 'DeploymentNotFound']);
      });
    });

    describe('Progressing', function () {
      const progressingOf = (d: V1Deployment | undefined) =>
        conditionOf(computeStatus(labWith(SPEC), { ...healthy(), deployment: d }, T0), 'Progressing');

      it('True/RolloutInProgress during a rollout', function () {
        const c = progressingOf(deployment({ updated: 1 }));
        expect([c.status, c.reason]).to.deep.equal(['True', 'RolloutInProgress']);
        expect(c.message).to.equal('rolling out: 1 of 2 new pods updated');
      });

      it('False/ProgressDeadlineExceeded when stalled, with the Deployment message', function () {
        const c = progressingOf(
          deployment({
            progressingReason: 'ProgressDeadlineExceeded',
            progressingMessage: 'ReplicaSet "web-1" has timed out progressing.',
          }),
        );
        expect([c.status, c.reason]).to.deep.equal(['False', 'ProgressDeadlineExceeded']);
        expect(c.message).to.include('has timed out progressing');
      });

      it('False/RolloutComplete when rolled out', function () {
        const c = progressingOf(deployment());
        expect([c.status, c.reason]).to.deep.equal(['False', 'RolloutComplete']);
      });

      it('Unknown/DeploymentNotFound without a Deployment', function () {
        const c = progressingOf(undefined);
        expect([c.status, c.reason]).to.deep.equal(['Unknown', 'DeploymentNotFound']);
      });
    });

    describe('StorageBound', function () {
      const boundOf = (pvc: V1PersistentVolumeClaim | undefined) =>
        conditionOf(computeStatus(labWith(SPEC), { ...healthy(), pvc }, T0), 'StorageBound');

      it('True/ClaimBound when Bound', function () {
        expect([boundOf(claim()).status, boundOf(claim()).reason]).to.deep.equal(['True', 'ClaimBound']);
      });

      it('says so while an expansion is under way', function () {
        const pvc = claim('Bound', '1Gi');
        pvc.spec!.resources!.requests!.storage = '2Gi';
        expect(boundOf(pvc).message).to.include('2Gi requested: expanding');
      });

      it('False/ClaimPending while Pending or without a phase', function () {
        for (const phase of ['Pending', null]) {
          const c = boundOf(claim(phase));
          expect([c.status, c.reason], String(phase)).to.deep.equal(['False', 'ClaimPending']);
        }
        expect(boundOf(claim('Pending')).message).to.include('WaitForFirstConsumer');
      });

      it('False/ClaimLost when Lost', function () {
        const c = boundOf(claim('Lost'));
        expect([c.status, c.reason]).to.deep.equal(['False', 'ClaimLost']);
        expect(c.message).to.include('pvc-1');
      });

      it('False/ClaimNotFound without a claim', function () {
        expect([boundOf(undefined).status, boundOf(undefined).reason]).to.deep.equal([
          'False',
          'ClaimNotFound',
        ]);
      });
    });
  });

  describe('lastTransitionTime across reconciles', function () {
    it('is kept while statuses do not change, so an unchanged lab gives an equal status', function () {
      const lab = labWith(SPEC);
      const rolling: Observed = { ...healthy(), deployment: deployment({ updated: 1 }) };
      lab.status = computeStatus(lab, rolling, T0);
      const again = computeStatus(lab, rolling, T1);
      expect(statusEqual(lab.status, again)).to.be.true;
      expect(conditionOf(again, 'Ready').lastTransitionTime).to.equal('2026-03-01T12:00:00Z');
    });

    it('moves only for the conditions whose status changed', function () {
      const lab = labWith(SPEC);
      lab.status = computeStatus(lab, { ...healthy(), deployment: deployment({ updated: 1 }) }, T0);
      const done = computeStatus(lab, healthy(), T2);
      expect(conditionOf(done, 'Ready').lastTransitionTime).to.equal('2026-03-01T12:02:00Z');
      expect(conditionOf(done, 'Progressing').lastTransitionTime).to.equal('2026-03-01T12:02:00Z');
      expect(conditionOf(done, 'Reconciled').lastTransitionTime).to.equal('2026-03-01T12:00:00Z');
      expect(conditionOf(done, 'Available').lastTransitionTime).to.equal('2026-03-01T12:00:00Z');
      expect(conditionOf(done, 'StorageBound').lastTransitionTime).to.equal('2026-03-01T12:00:00Z');
      expect(statusEqual(lab.status, done)).to.be.false;
    });

    it('a new reason with the same status keeps the time but is still a change to write', function () {
      const lab = labWith(SPEC);
      lab.status = computeStatus(lab, { ...healthy(), deployment: undefined }, T0);
      const next = computeStatus(lab, { ...healthy(), deployment: deployment({ updated: 1 }) }, T1);
      const ready = conditionOf(next, 'Ready');
      expect([ready.status, ready.reason, ready.lastTransitionTime]).to.deep.equal([
        'False',
        'RolloutInProgress',
        '2026-03-01T12:00:00Z',
      ]);
      expect(statusEqual(lab.status, next)).to.be.false;
    });
  });

  describe('rolloutStateOf (kubectl rollout status)', function () {
    it('waits for the controller to observe the generation first', function () {
      const r = rolloutStateOf(deployment({ generation: 5, observedGeneration: 4 }));
      expect(r).to.deep.equal({
        state: 'progressing',
        message: 'waiting for the Deployment controller to observe generation 5',
      });
    });

    it('a Deployment without status is progressing (nothing observed)', function () {
      const d = deployment({ generation: 1 });
      delete d.status;
      expect(rolloutStateOf(d).state).to.equal('progressing');
    });

    it('reports stalled on ProgressDeadlineExceeded, before counting pods', function () {
      expect(
        rolloutStateOf(deployment({ progressingReason: 'ProgressDeadlineExceeded', updated: 0 })).state,
      ).to.equal('stalled');
    });

    it('counts new pods updated against spec.replicas', function () {
      expect(rolloutStateOf(deployment({ specReplicas: 3, updated: 1 })).message).to.equal(
        'rolling out: 1 of 3 new pods updated',
      );
    });

    it('skips that check when spec.replicas is unset', function () {
      expect(
        rolloutStateOf(deployment({ specReplicas: null, replicas: 1, updated: 1, available: 1 })).state,
      ).to.equal('complete');
    });

    it('waits for old pods to terminate', function () {
      expect(rolloutStateOf(deployment({ replicas: 3, updated: 2 })).message).to.equal(
        'rolling out: 1 old pods pending termination',
      );
    });

    it('waits for updated pods to become available', function () {
      expect(rolloutStateOf(deployment({ available: 1 })).message).to.equal(
        'rolling out: 1 of 2 updated pods available',
      );
    });

    it('is complete when all are updated and available', function () {
      expect(rolloutStateOf(deployment())).to.deep.equal({
        state: 'complete',
        message: 'rolled out: 2 of 2 pods updated and available',
      });
    });

    it('is complete for a Deployment scaled to zero', function () {
      expect(rolloutStateOf(deployment({ specReplicas: 0 })).state).to.equal('complete');
    });
  });

  describe('statusEqual', function () {
    const base: StudyLabStatus = {
      observedGeneration: 2,
      phase: 'Ready',
      endpoint: 'a:80',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          lastTransitionTime: '2026-01-01T00:00:00Z',
          reason: 'LabReady',
          message: 'ok',
        },
      ],
    };

    it('is true for the same content in another key order', function () {
      const reordered: StudyLabStatus = {
        conditions: [
          {
            message: 'ok',
            reason: 'LabReady',
            lastTransitionTime: '2026-01-01T00:00:00Z',
            status: 'True',
            type: 'Ready',
          },
        ],
        endpoint: 'a:80',
        phase: 'Ready',
        observedGeneration: 2,
      };
      expect(statusEqual(base, reordered)).to.be.true;
    });

    it('treats a key holding undefined as absent (JSON drops it)', function () {
      expect(statusEqual(base, { ...base, replicas: undefined })).to.be.true;
    });

    it('sees every difference: a value, a time, a message, a missing field, the order of conditions', function () {
      expect(statusEqual(base, { ...base, observedGeneration: 3 })).to.be.false;
      expect(statusEqual(base, { ...base, replicas: 0 })).to.be.false;
      const { endpoint: _endpoint, ...noEndpoint } = base;
      expect(statusEqual(base, noEndpoint)).to.be.false;
      expect(
        statusEqual(base, {
          ...base,
          conditions: [{ ...base.conditions![0]!, lastTransitionTime: '2026-01-01T00:00:01Z' }],
        }),
      ).to.be.false;
      expect(statusEqual(base, { ...base, conditions: [{ ...base.conditions![0]!, message: 'ok!' }] })).to.be
        .false;
      const two = [...base.conditions!, { ...base.conditions![0]!, type: 'Other' }];
      expect(statusEqual({ ...base, conditions: two }, { ...base, conditions: [...two].reverse() })).to.be
        .false;
    });

    it('handles absent statuses', function () {
      expect(statusEqual(undefined, undefined)).to.be.true;
      expect(statusEqual(undefined, base)).to.be.false;
      expect(statusEqual(base, undefined)).to.be.false;
      expect(statusEqual({}, {})).to.be.true;
    });

    it('is what JSON round-tripping preserves: a status read back equals the one written', function () {
      const status = computeStatus(labWith(SPEC), healthy(), T0);
      expect(statusEqual(JSON.parse(JSON.stringify(status)) as StudyLabStatus, status)).to.be.true;
    });
  });

  describe('purity', function () {
    it('reads a deep-frozen lab and observation without writing to them', function () {
      const lab: StudyLab = labWith(SPEC);
      lab.status = computeStatus(lab, healthy(), T0);
      deepFreeze(lab);
      const observed = deepFreeze({
        ...healthy(),
        deployment: deployment({ updated: 1 }),
        problems: [],
        applyErrors: [],
      });
      const status = computeStatus(lab, observed, T1);
      expect(() => {
        status.conditions![0]!.message = 'changed';
        status.conditions!.push(status.conditions![0]!);
      }).to.not.throw();
    });

    it('is deterministic', function () {
      expect(computeStatus(labWith(SPEC), healthy(), T0)).to.deep.equal(
        computeStatus(labWith(SPEC), healthy(), T0),
      );
    });

    it('condition types are the exported ones', function () {
      const types = computeStatus(labWith(SPEC), healthy(), T0).conditions!.map((c) => c.type);
      expect(types).to.deep.equal(Object.values(ConditionType));
    });
  });
  describe('statusChanges', function () {
    const cond = (type: string, status: 'True' | 'False', reason: string, message = ''): Condition => ({
      type,
      status,
      reason,
      message,
      lastTransitionTime: '2026-01-01T00:00:00Z',
      observedGeneration: 1,
    });
    it('names each changed field and condition, old -> new', function () {
      const before: StudyLabStatus = {
        observedGeneration: 1,
        phase: 'Pending',
        conditions: [cond('Ready', 'False', 'Progressing'), cond('Gone', 'True', 'X')],
      };
      const after: StudyLabStatus = {
        observedGeneration: 2,
        phase: 'Ready',
        readyReplicas: 1,
        conditions: [cond('Ready', 'True', 'Available'), cond('Degraded', 'False', 'AsExpected')],
      };
      expect(statusChanges(before, after)).to.deep.equal([
        'observedGeneration: 1 -> 2',
        'phase: Pending -> Ready',
        'readyReplicas: - -> 1',
        'Ready: False -> True (Available)',
        'Degraded: - -> False (AsExpected)',
        'Gone: removed',
      ]);
    });
    it('is empty for equal statuses, and mentions a condition whose message alone changed', function () {
      const s: StudyLabStatus = { phase: 'Ready', conditions: [cond('Ready', 'True', 'Available', 'a')] };
      expect(statusChanges(s, s)).to.deep.equal([]);
      const t: StudyLabStatus = { phase: 'Ready', conditions: [cond('Ready', 'True', 'Available', 'b')] };
      expect(statusChanges(s, t)).to.deep.equal(['Ready: True (Available), message or generation updated']);
    });
  });
});
