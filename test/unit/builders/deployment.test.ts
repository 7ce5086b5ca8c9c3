import { expect } from 'chai';
import { DEFAULTS, type AppSpec, type StudyLab, type StudyLabSpec } from '../../../src/api/v1alpha1/index.js';
import {
  BuilderInputError,
  buildDeployment,
  CONTAINER_NAME,
  DATA_VOLUME_NAME,
} from '../../../src/studylab/builders/index.js';
import { deepFreeze, emptyPaths, fullLab, LAB_NAME, LAB_NAMESPACE, LAB_UID, labWith } from './fixtures.js';

const IMAGE = 'nginxinc/nginx-unprivileged:1.27';

function build(app: Partial<AppSpec>, rest: Omit<StudyLabSpec, 'app'> = {}) {
  const d = buildDeployment(labWith({ app: { image: IMAGE, ...app }, ...rest }));
  if (!d) throw new Error('expected a Deployment');
  return d;
}
function podSpecOf(app: Partial<AppSpec>, rest: Omit<StudyLabSpec, 'app'> = {}) {
  return build(app, rest).spec!.template.spec!;
}
function containerOf(app: Partial<AppSpec>, rest: Omit<StudyLabSpec, 'app'> = {}) {
  const containers = podSpecOf(app, rest).containers;
  expect(containers).to.have.length(1);
  return containers[0]!;
}

describe('buildDeployment', function () {
  describe('object and metadata', function () {
    const d = build({});

    it('is an apps/v1 Deployment', function () {
      expect(d.apiVersion).to.equal('apps/v1');
      expect(d.kind).to.equal('Deployment');
    });

    it('is named after the lab, in its namespace', function () {
      expect(d.metadata!.name).to.equal(LAB_NAME);
      expect(d.metadata!.namespace).to.equal(LAB_NAMESPACE);
    });

    it('carries the three recommended labels', function () {
      expect(d.metadata!.labels).to.deep.equal({
        'app.kubernetes.io/name': 'studylab',
        'app.kubernetes.io/instance': LAB_NAME,
        'app.kubernetes.io/managed-by': 'studylab-operator',
      });
    });

    it('is controlled by the lab', function () {
      expect(d.metadata!.ownerReferences).to.deep.equal([
        {
          apiVersion: 'studylab.io/v1alpha1',
          kind: 'StudyLab',
          name: LAB_NAME,
          uid: LAB_UID,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    });

    it('sets no other metadata (no annotations, no status)', function () {
      expect(Object.keys(d.metadata!).sort()).to.deep.equal([
        'labels',
        'name',
        'namespace',
        'ownerReferences',
      ]);
      expect(d).to.not.have.property('status');
    });

    it('is undefined when the lab has no app (ExternalName)', function () {
      expect(buildDeployment(labWith({ service: { type: 'ExternalName', externalName: 'example.org' } }))).to
        .be.undefined;
    });

    it('throws BuilderInputError for a lab without uid', function () {
      const lab = labWith({ app: { image: IMAGE } });
      delete lab.metadata.uid;
      expect(() => buildDeployment(lab)).to.throw(BuilderInputError, /metadata.uid/);
    });
  });

  describe('selector and pod template labels', function () {
    const d = build({});

    it('selects on the stable labels only (name and instance)', function () {
      expect(d.spec!.selector).to.deep.equal({
        matchLabels: { 'app.kubernetes.io/name': 'studylab', 'app.kubernetes.io/instance': LAB_NAME },
      });
    });

    it('labels the pods with all three labels, a superset of the selector', function () {
      const labels = d.spec!.template.metadata!.labels!;
      expect(labels).to.deep.equal(d.metadata!.labels);
      for (const [k, v] of Object.entries(d.spec!.selector.matchLabels!)) expect(labels[k]).to.equal(v);
    });
  });

  describe('replicas', function () {
    it('sets replicas when spec.app.replicas is set', function () {
      expect(build({ replicas: 3 }).spec!.replicas).to.equal(3);
    });

    it('keeps replicas 0 (scaled to zero is a value, not an absence)', function () {
      expect(build({ replicas: 0 }).spec).to.have.property('replicas', 0);
    });

    it('leaves replicas out when unset, so an HPA or kubectl scale can own it', function () {
      expect(build({}).spec).to.not.have.property('replicas');
    });
  });

  describe('strategy', function () {
    it('defaults to RollingUpdate with an empty rollingUpdate block (owned, so a switch to Recreate removes it)', function () {
      expect(DEFAULTS.strategyType).to.equal('RollingUpdate');
      expect(build({}).spec!.strategy).to.deep.equal({ type: 'RollingUpdate', rollingUpdate: {} });
      expect(build({ strategy: {} }).spec!.strategy).to.deep.equal({
        type: 'RollingUpdate',
        rollingUpdate: {},
      });
    });

    it('takes maxSurge and maxUnavailable each from its own field (distinct values)', function () {
      const s = build({ strategy: { type: 'RollingUpdate', maxSurge: '50%', maxUnavailable: 1 } }).spec!
        .strategy!;
      expect(s.type).to.equal('RollingUpdate');
      expect(s.rollingUpdate!.maxSurge).to.equal('50%');
      expect(s.rollingUpdate!.maxUnavailable).to.equal(1);
    });

    it('does not mix them up the other way round either', function () {
      const s = build({ strategy: { maxSurge: 3, maxUnavailable: '10%' } }).spec!.strategy!;
      expect(s.rollingUpdate).to.deep.equal({ maxSurge: 3, maxUnavailable: '10%' });
    });

    it('keeps maxUnavailable 0 and maxSurge 0 (falsy values are values)', function () {
      expect(
        build({ strategy: { maxSurge: 1, maxUnavailable: 0 } }).spec!.strategy!.rollingUpdate,
      ).to.deep.equal({
        maxSurge: 1,
        maxUnavailable: 0,
      });
      expect(
        build({ strategy: { maxSurge: 0, maxUnavailable: 2 } }).spec!.strategy!.rollingUpdate,
      ).to.deep.equal({
        maxSurge: 0,
        maxUnavailable: 2,
      });
    });

    it('sets only the bound that is given', function () {
      expect(build({ strategy: { maxSurge: '30%' } }).spec!.strategy!.rollingUpdate).to.deep.equal({
        maxSurge: '30%',
      });
      expect(build({ strategy: { maxUnavailable: 2 } }).spec!.strategy!.rollingUpdate).to.deep.equal({
        maxUnavailable: 2,
      });
    });

    it('Recreate has no rollingUpdate block at all', function () {
      const s = build({ strategy: { type: 'Recreate' } }).spec!.strategy!;
      expect(s).to.deep.equal({ type: 'Recreate' });
      expect(s).to.not.have.property('rollingUpdate');
    });
  });

  describe('container', function () {
    it('is one container named app with the image', function () {
      const c = containerOf({});
      expect(CONTAINER_NAME).to.equal('app');
      expect(c.name).to.equal('app');
      expect(c.image).to.equal(IMAGE);
    });

    it('has only name, image and securityContext when nothing else is set', function () {
      expect(Object.keys(containerOf({})).sort()).to.deep.equal(['image', 'name', 'securityContext']);
    });

    it('sets command and args', function () {
      const c = containerOf({ command: ['sh', '-c'], args: ['echo $(GREETING)'] });
      expect(c.command).to.deep.equal(['sh', '-c']);
      expect(c.args).to.deep.equal(['echo $(GREETING)']);
    });

    it('sets env, literal values and valueFrom references alike', function () {
      const env = [
        { name: 'A', value: '1' },
        { name: 'B', valueFrom: { configMapKeyRef: { name: 'cm', key: 'b' } } },
        { name: 'C', valueFrom: { secretKeyRef: { name: 's', key: 'c', optional: true } } },
      ];
      expect(containerOf({ env }).env).to.deep.equal(env);
    });

    it('sets envFrom with its prefix', function () {
      const envFrom = [{ configMapRef: { name: 'cm' } }, { secretRef: { name: 's' }, prefix: 'S_' }];
      expect(containerOf({ envFrom }).envFrom).to.deep.equal(envFrom);
    });

    it('sets ports with name, containerPort and protocol (TCP by default)', function () {
      expect(DEFAULTS.protocol).to.equal('TCP');
      const c = containerOf({
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'dns', containerPort: 5353, protocol: 'UDP' },
        ],
      });
      expect(c.ports).to.deep.equal([
        { name: 'http', containerPort: 8080, protocol: 'TCP' },
        { name: 'dns', containerPort: 5353, protocol: 'UDP' },
      ]);
    });

    it('sets resources', function () {
      const resources = {
        requests: { cpu: '50m', memory: '64Mi' },
        limits: { cpu: '200m', memory: '128Mi' },
      };
      expect(containerOf({ resources }).resources).to.deep.equal(resources);
    });

    it('maps each probe to its own field', function () {
      const liveness = { tcpSocket: { port: 'http' } };
      const readiness = { httpGet: { path: '/ready', port: 'http' } };
      const startup = { exec: { command: ['true'] }, failureThreshold: 30 };
      const c = containerOf({ probes: { liveness, readiness, startup } });
      expect(c.livenessProbe).to.deep.equal(liveness);
      expect(c.readinessProbe).to.deep.equal(readiness);
      expect(c.startupProbe).to.deep.equal(startup);
    });

    it('sets only the probes that are given', function () {
      const c = containerOf({ probes: { readiness: { httpGet: { path: '/', port: 8080 } } } });
      expect(c.readinessProbe).to.deep.equal({ httpGet: { path: '/', port: 8080 } });
      expect(c).to.not.have.property('livenessProbe');
      expect(c).to.not.have.property('startupProbe');
    });

    it('leaves out empty lists rather than owning them', function () {
      const c = containerOf({ command: [], args: [], env: [], envFrom: [], ports: [] });
      for (const field of ['command', 'args', 'env', 'envFrom', 'ports'])
        expect(c).to.not.have.property(field);
    });
  });

  describe('security context', function () {
    it('applies DEFAULTS.securityContext to the container when the lab sets none', function () {
      expect(containerOf({}).securityContext).to.deep.equal(DEFAULTS.securityContext);
    });

    it('gives the pod the pod-level half of the restricted profile when the lab sets none', function () {
      expect(podSpecOf({}).securityContext).to.deep.equal({
        runAsNonRoot: DEFAULTS.securityContext.runAsNonRoot,
        seccompProfile: { type: 'RuntimeDefault' },
      });
    });

    it("uses the lab's container security context as is, and then sets none on the pod", function () {
      const securityContext = { runAsUser: 0, privileged: false };
      expect(containerOf({ securityContext }).securityContext).to.deep.equal(securityContext);
      expect(podSpecOf({ securityContext })).to.not.have.property('securityContext');
    });

    it('returns a fresh copy of the defaults each time (DEFAULTS is never handed out)', function () {
      const a = containerOf({}).securityContext!;
      a.capabilities!.drop!.push('NET_RAW');
      expect(containerOf({}).securityContext!.capabilities!.drop).to.deep.equal(['ALL']);
      expect(DEFAULTS.securityContext.capabilities.drop).to.deep.equal(['ALL']);
    });
  });

  describe('pod spec', function () {
    it('sets serviceAccountName', function () {
      expect(podSpecOf({ serviceAccountName: 'lab-runner' }).serviceAccountName).to.equal('lab-runner');
    });

    it('sets nodeSelector', function () {
      expect(podSpecOf({ nodeSelector: { 'kubernetes.io/os': 'linux' } }).nodeSelector).to.deep.equal({
        'kubernetes.io/os': 'linux',
      });
    });

    it('sets tolerations', function () {
      const tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'labs', effect: 'NoSchedule' }];
      expect(podSpecOf({ tolerations }).tolerations).to.deep.equal(tolerations);
    });

    it('sets affinity', function () {
      const affinity = {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname' } },
          ],
        },
      };
      expect(podSpecOf({ affinity }).affinity).to.deep.equal(affinity);
    });

    it('sets imagePullSecrets', function () {
      expect(podSpecOf({ imagePullSecrets: [{ name: 'regcred' }] }).imagePullSecrets).to.deep.equal([
        { name: 'regcred' },
      ]);
    });

    it('leaves every optional pod field out when unset (and empty ones too)', function () {
      const spec = podSpecOf({ nodeSelector: {}, tolerations: [], imagePullSecrets: [] });
      expect(Object.keys(spec).sort()).to.deep.equal(['containers', 'securityContext']);
    });
  });

  describe('storage', function () {
    it('mounts the claim as volume data at the default mountPath', function () {
      expect(DATA_VOLUME_NAME).to.equal('data');
      const spec = podSpecOf({}, { storage: { size: '1Gi' } });
      expect(spec.volumes).to.deep.equal([{ name: 'data', persistentVolumeClaim: { claimName: LAB_NAME } }]);
      expect(spec.containers[0]!.volumeMounts).to.deep.equal([
        { name: 'data', mountPath: DEFAULTS.mountPath },
      ]);
      expect(DEFAULTS.mountPath).to.equal('/data');
    });

    it('mounts it at spec.storage.mountPath when set', function () {
      const spec = podSpecOf({}, { storage: { size: '1Gi', mountPath: '/usr/share/nginx/html' } });
      expect(spec.containers[0]!.volumeMounts).to.deep.equal([
        { name: 'data', mountPath: '/usr/share/nginx/html' },
      ]);
    });

    it('has no volume and no mount without storage', function () {
      const spec = podSpecOf({});
      expect(spec).to.not.have.property('volumes');
      expect(spec.containers[0]).to.not.have.property('volumeMounts');
    });
  });

  describe('purity', function () {
    it('builds from a deep-frozen lab without writing to it', function () {
      const lab = deepFreeze(fullLab());
      const before = JSON.stringify(lab);
      expect(() => buildDeployment(lab)).to.not.throw();
      expect(JSON.stringify(lab)).to.equal(before);
    });

    it('shares no object with the lab: the intent can be changed freely', function () {
      const lab = deepFreeze(fullLab());
      const d = buildDeployment(lab)!;
      const pod = d.spec!.template.spec!;
      const c = pod.containers[0]!;
      expect(() => {
        c.env![0]!.value = 'changed';
        c.envFrom!.push({ configMapRef: { name: 'x' } });
        c.command!.push('x');
        c.args!.push('x');
        c.resources!.requests!.cpu = '1';
        c.livenessProbe!.periodSeconds = 1;
        c.readinessProbe!.httpGet!.path = '/x';
        c.startupProbe!.failureThreshold = 1;
        c.securityContext!.runAsUser = 0;
        pod.tolerations!.push({ key: 'x' });
        pod.affinity!.nodeAffinity = {};
        pod.nodeSelector!.x = 'y';
        pod.imagePullSecrets!.push({ name: 'x' });
        d.spec!.strategy!.rollingUpdate!.maxSurge = 9;
      }).to.not.throw();
    });

    it('gives equal intents for equal labs', function () {
      expect(buildDeployment(fullLab())).to.deep.equal(buildDeployment(fullLab()));
    });

    it('carries no null, undefined or empty list anywhere', function () {
      expect(emptyPaths(buildDeployment(fullLab()))).to.deep.equal([]);
      expect(emptyPaths(build({}))).to.deep.equal([]);
    });

    it('builds the full lab field by field', function () {
      const lab: StudyLab = fullLab();
      const app = lab.spec.app!;
      const d = buildDeployment(lab)!;
      const pod = d.spec!.template.spec!;
      const c = pod.containers[0]!;
      expect(d.spec!.replicas).to.equal(2);
      expect(d.spec!.strategy).to.deep.equal({
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: '50%', maxUnavailable: 1 },
      });
      expect(c.command).to.deep.equal(app.command);
      expect(c.args).to.deep.equal(app.args);
      expect(c.env).to.deep.equal(app.env);
      expect(c.envFrom).to.deep.equal(app.envFrom);
      expect(c.ports).to.deep.equal([
        { name: 'http', containerPort: 8080, protocol: 'TCP' },
        { name: 'dns', containerPort: 5353, protocol: 'UDP' },
      ]);
      expect(c.resources).to.deep.equal(app.resources);
      expect(c.livenessProbe).to.deep.equal(app.probes!.liveness);
      expect(c.readinessProbe).to.deep.equal(app.probes!.readiness);
      expect(c.startupProbe).to.deep.equal(app.probes!.startup);
      expect(c.securityContext).to.deep.equal(app.securityContext);
      expect(c.volumeMounts).to.deep.equal([{ name: 'data', mountPath: '/var/lib/app' }]);
      expect(pod.serviceAccountName).to.equal('lab-runner');
      expect(pod.nodeSelector).to.deep.equal(app.nodeSelector);
      expect(pod.tolerations).to.deep.equal(app.tolerations);
      expect(pod.affinity).to.deep.equal(app.affinity);
      expect(pod.imagePullSecrets).to.deep.equal(app.imagePullSecrets);
      expect(pod).to.not.have.property('securityContext');
      expect(pod.volumes).to.deep.equal([{ name: 'data', persistentVolumeClaim: { claimName: LAB_NAME } }]);
    });
  });
});
