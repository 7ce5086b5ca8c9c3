/**
 * The generated CRD on a real API server: bad StudyLabs are refused with a
 * message naming the field, good ones are stored with their defaults filled
 * in and nothing pruned, and `kubectl explain` prints the descriptions.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { promisify } from 'node:util';
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import { parse } from 'yaml';
import { GROUP, KIND, PLURAL, VERSION } from '../../src/api/v1alpha1/index.js';
import { cluster, eventually, testNamespace, type Cluster } from '../support/cluster.js';

const CRD_FILE = new URL('../../crds/studylab.io_studylabs.yaml', import.meta.url);
const FIELD_MANAGER = 'studylab-crd-validation-test';
const run = promisify(execFile);

/** One entry of a 422's `details.causes`: where and why. */
interface Cause {
  field?: string;
  reason?: string;
  message?: string;
}

/** What the API server answered to a create it refused. */
interface Refusal {
  code: number;
  message: string;
  causes: Cause[];
}

interface BadCase {
  name: string;
  spec: unknown;
  /** The field path the API server must name: a cause's `field`, or in the message for strict decoding. */
  field: string;
  /** Text the cause's message must contain. */
  text: string;
  /** The cause's reason code, where it tells the kind of problem apart. */
  reason?: string;
}

/** A valid application that the bad cases break one thing of. */
const APP = { image: 'nginx:1.27', ports: [{ name: 'http', containerPort: 8080 }] };
const NOT_GREATER = 'spec.storage.size must be greater than zero';

const BAD: BadCase[] = [
  {
    name: 'service.type outside the enum',
    spec: { app: APP, service: { type: 'Cluster' } },
    field: 'spec.service.type',
    text: 'Unsupported value: "Cluster"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'strategy.type outside the enum',
    spec: { app: { ...APP, strategy: { type: 'BlueGreen' } } },
    field: 'spec.app.strategy.type',
    text: 'Unsupported value: "BlueGreen"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'retentionPolicy outside the enum',
    spec: { app: APP, storage: { size: '1Gi', retentionPolicy: 'Keep' } },
    field: 'spec.storage.retentionPolicy',
    text: 'Unsupported value: "Keep"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'an access mode outside the enum',
    spec: { app: APP, storage: { size: '1Gi', accessModes: ['ReadWriteSometimes'] } },
    field: 'spec.storage.accessModes[0]',
    text: 'Unsupported value: "ReadWriteSometimes"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'replicas -1',
    spec: { app: { ...APP, replicas: -1 } },
    field: 'spec.app.replicas',
    text: 'should be greater than or equal to 0',
  },
  {
    name: 'replicas 101',
    spec: { app: { ...APP, replicas: 101 } },
    field: 'spec.app.replicas',
    text: 'should be less than or equal to 100',
  },
  {
    name: 'nodePort 80',
    spec: { app: APP, service: { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 80 }] } },
    field: 'spec.service.ports[0].nodePort',
    text: 'should be greater than or equal to 30000',
  },
  {
    name: 'nodePort 40000',
    spec: { app: APP, service: { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 40000 }] } },
    field: 'spec.service.ports[0].nodePort',
    text: 'should be less than or equal to 32767',
  },
  {
    name: 'nodePort with type ClusterIP',
    spec: { app: APP, service: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, nodePort: 30080 }] } },
    field: 'spec.service',
    text: 'spec.service.ports[].nodePort is only allowed when type is NodePort or LoadBalancer',
  },
  {
    name: 'nodePort with the default type',
    spec: { app: APP, service: { ports: [{ name: 'http', port: 80, nodePort: 30080 }] } },
    field: 'spec.service',
    text: 'spec.service.ports[].nodePort is only allowed when type is NodePort or LoadBalancer',
  },
  {
    name: 'externalName without type ExternalName',
    spec: { app: APP, service: { type: 'ClusterIP', externalName: 'example.org' } },
    field: 'spec.service',
    text: 'spec.service.externalName is only allowed when type is ExternalName',
  },
  {
    name: 'type ExternalName without externalName',
    spec: { service: { type: 'ExternalName' } },
    field: 'spec.service',
    text: 'spec.service.externalName is required when type is ExternalName',
  },
  {
    name: 'an app with type ExternalName',
    spec: { app: APP, service: { type: 'ExternalName', externalName: 'example.org' } },
    field: 'spec',
    text: 'spec.app must not be set when spec.service.type is ExternalName',
  },
  {
    name: 'ports with type None',
    spec: { app: APP, service: { type: 'None', ports: [{ name: 'http', port: 80 }] } },
    field: 'spec.service',
    text: 'spec.service.ports is not allowed when type is ExternalName or None',
  },
  {
    name: 'neither an app nor type ExternalName',
    spec: { service: { type: 'ClusterIP' } },
    field: 'spec',
    text: 'spec.app is required unless spec.service.type is ExternalName',
  },
  {
    name: 'an empty spec',
    spec: {},
    field: 'spec',
    text: 'spec.app is required unless spec.service.type is ExternalName',
  },
  {
    name: 'a relative mountPath',
    spec: { app: APP, storage: { size: '1Gi', mountPath: 'data' } },
    field: 'spec.storage.mountPath',
    text: "should match '^/'",
  },
  {
    name: "a mountPath with '..'",
    spec: { app: APP, storage: { size: '1Gi', mountPath: '/data/../etc' } },
    field: 'spec.storage.mountPath',
    text: "spec.storage.mountPath must not contain '..'",
  },
  {
    name: 'duplicate app.ports names',
    spec: {
      app: {
        ...APP,
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'http', containerPort: 8081 },
        ],
      },
    },
    field: 'spec.app.ports[1]',
    text: 'Duplicate value',
    reason: 'FieldValueDuplicate',
  },
  {
    name: 'duplicate service.ports names',
    spec: {
      app: APP,
      service: {
        ports: [
          { name: 'http', port: 80 },
          { name: 'http', port: 81 },
        ],
      },
    },
    field: 'spec.service.ports[1]',
    text: 'Duplicate value',
    reason: 'FieldValueDuplicate',
  },
  {
    name: 'the same containerPort and protocol twice under two names',
    spec: {
      app: {
        ...APP,
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'web', containerPort: 8080 },
        ],
      },
    },
    field: 'spec.app',
    text: 'spec.app.ports: each containerPort and protocol pair must be unique',
  },
  {
    name: 'an unknown field (fieldValidation=Strict)',
    spec: { app: { ...APP, imagePullPolicy: 'Always' } },
    field: 'spec.app.imagePullPolicy',
    text: 'unknown field "spec.app.imagePullPolicy"',
  },
  {
    name: 'no image',
    spec: { app: { ports: APP.ports } },
    field: 'spec.app.image',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'an empty image',
    spec: { app: { ...APP, image: '' } },
    field: 'spec.app.image',
    text: 'should be at least 1 chars long',
  },
  {
    name: 'an image with spaces',
    spec: { app: { ...APP, image: 'nginx 1.27' } },
    field: 'spec.app.image',
    text: "should match '^[^\\s]+$'",
  },
  {
    name: "size '0'",
    spec: { app: APP, storage: { size: '0' } },
    field: 'spec.storage.size',
    text: NOT_GREATER,
  },
  {
    name: 'size 0 as a number',
    spec: { app: APP, storage: { size: 0 } },
    field: 'spec.storage.size',
    text: NOT_GREATER,
  },
  {
    name: "size '-1Gi'",
    spec: { app: APP, storage: { size: '-1Gi' } },
    field: 'spec.storage.size',
    text: NOT_GREATER,
  },
  {
    name: "size 'lots'",
    spec: { app: APP, storage: { size: 'lots' } },
    field: 'spec.storage.size',
    text: 'should match',
  },
  {
    name: 'storage without a size',
    spec: { app: APP, storage: { mountPath: '/data' } },
    field: 'spec.storage.size',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'no access mode',
    spec: { app: APP, storage: { size: '1Gi', accessModes: [] } },
    field: 'spec.storage.accessModes',
    text: 'should have at least 1 items',
  },
  {
    name: 'an access mode twice',
    spec: { app: APP, storage: { size: '1Gi', accessModes: ['ReadWriteOnce', 'ReadWriteOnce'] } },
    field: 'spec.storage.accessModes[1]',
    text: 'Duplicate value: "ReadWriteOnce"',
    reason: 'FieldValueDuplicate',
  },
  {
    name: 'a bad quantity in resources',
    spec: { app: { ...APP, resources: { requests: { cpu: 'lots' } } } },
    field: 'spec.app.resources.requests.cpu',
    text: 'should match',
  },
  {
    name: 'maxSurge with Recreate',
    spec: { app: { ...APP, strategy: { type: 'Recreate', maxSurge: 1 } } },
    field: 'spec.app.strategy',
    text: 'spec.app.strategy.maxSurge and maxUnavailable are only allowed with type RollingUpdate',
  },
  {
    name: 'maxSurge that is neither a number nor a string',
    spec: { app: { ...APP, strategy: { maxSurge: true } } },
    field: 'spec.app.strategy.maxSurge',
    text: 'must be of type integer,string',
  },
  {
    name: 'a networkPolicy with neither ingress nor egress',
    spec: { app: APP, networkPolicy: {} },
    field: 'spec.networkPolicy',
    text: 'spec.networkPolicy must set ingress, egress or both',
  },
  {
    name: 'an ipBlock without cidr',
    spec: { app: APP, networkPolicy: { ingress: [{ from: [{ ipBlock: { except: ['10.0.0.0/8'] } }] }] } },
    field: 'spec.networkPolicy.ingress[0].from[0].ipBlock.cidr',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'an upper-case port name',
    spec: { app: { ...APP, ports: [{ name: 'HTTP', containerPort: 8080 }] } },
    field: 'spec.app.ports[0].name',
    text: 'should match',
  },
  {
    name: 'a port name without a letter',
    spec: { app: { ...APP, ports: [{ name: '8080', containerPort: 8080 }] } },
    field: 'spec.app.ports[0].name',
    text: 'a port name must contain at least one letter',
  },
  {
    name: 'a port name longer than 15 characters',
    spec: { app: { ...APP, ports: [{ name: 'a-very-long-port-name', containerPort: 8080 }] } },
    field: 'spec.app.ports[0].name',
    text: 'may not be more than 15 bytes',
  },
  {
    name: 'containerPort 0',
    spec: { app: { ...APP, ports: [{ name: 'http', containerPort: 0 }] } },
    field: 'spec.app.ports[0].containerPort',
    text: 'should be greater than or equal to 1',
  },
  {
    name: "protocol 'HTTP'",
    spec: { app: { ...APP, ports: [{ name: 'http', containerPort: 8080, protocol: 'HTTP' }] } },
    field: 'spec.app.ports[0].protocol',
    text: 'Unsupported value: "HTTP"',
    reason: 'FieldValueNotSupported',
  },
  {
    name: 'an env entry without a name',
    spec: { app: { ...APP, env: [{ value: 'x' }] } },
    field: 'spec.app.env[0].name',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'a probe httpGet without a port',
    spec: { app: { ...APP, probes: { readiness: { httpGet: { path: '/' } } } } },
    field: 'spec.app.probes.readiness.httpGet.port',
    text: 'Required value',
    reason: 'FieldValueRequired',
  },
  {
    name: 'a string where the probe wants an integer',
    spec: { app: { ...APP, probes: { liveness: { tcpSocket: { port: 8080 }, periodSeconds: 'often' } } } },
    field: 'spec.app.probes.liveness.periodSeconds',
    text: 'must be of type integer',
  },
  {
    name: 'an invalid serviceAccountName',
    spec: { app: { ...APP, serviceAccountName: 'Not_A_Name' } },
    field: 'spec.app.serviceAccountName',
    text: 'should match',
  },
  {
    name: 'an invalid externalName',
    spec: { service: { type: 'ExternalName', externalName: 'not a host' } },
    field: 'spec.service.externalName',
    text: 'should match',
  },
  {
    name: 'paused as a string',
    spec: { app: APP, paused: 'yes' },
    field: 'spec.paused',
    text: 'must be of type boolean',
  },
];

function lab(name: string, spec: unknown): Record<string, unknown> {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, metadata: { name }, spec };
}

/** Turns a refused request into what the API server said, or rethrows anything else. */
function refusal(err: unknown): Refusal {
  if (!(err instanceof ApiException)) throw err;
  const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as {
    message?: string;
    details?: { causes?: Cause[] };
  };
  return { code: err.code, message: body.message ?? '', causes: body.details?.causes ?? [] };
}

describe('StudyLab CRD on a real API server', function () {
  this.timeout(120_000);
  let c: Cluster;
  let namespace: string;
  let custom: CustomObjectsApi;

  before(async function () {
    this.timeout(300_000);
    c = await cluster();
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    await installCrd(c);
    namespace = await testNamespace('crd-validation');
    // Established can come a moment before the new resource is served.
    await eventually(() =>
      custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL }),
    );
  });

  async function create(name: string, spec: unknown): Promise<Record<string, any>> {
    return (await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: lab(name, spec),
      fieldValidation: 'Strict',
    })) as Record<string, any>;
  }

  async function get(name: string): Promise<Record<string, any>> {
    return (await custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
    })) as Record<string, any>;
  }

  describe('refuses a bad StudyLab with a message naming the field', function () {
    it(`has at least 25 cases`, function () {
      expect(BAD.length).to.be.at.least(25);
    });

    BAD.forEach((bad, i) => {
      it(bad.name, async function () {
        const name = `bad-${i}`;
        const outcome = await create(name, bad.spec).then(
          () => undefined,
          (err: unknown) => refusal(err),
        );
        if (!outcome) {
          const stored = await get(name);
          expect.fail(`the API server accepted it; stored spec: ${JSON.stringify(stored.spec)}`);
        }
        const shown = JSON.stringify(outcome.causes.length > 0 ? outcome.causes : outcome.message);
        if (outcome.code === 400) {
          // Strict decoding: a BadRequest whose message names the field.
          expect(outcome.message, shown).to.include(bad.text);
          expect(outcome.message, shown).to.include(bad.field);
          return;
        }
        expect(outcome.code, shown).to.equal(422);
        const cause = outcome.causes.find((c) => c.field === bad.field && c.message?.includes(bad.text));
        expect(cause, `no cause for ${bad.field} saying "${bad.text}" in ${shown}`).to.not.equal(undefined);
        if (bad.reason) expect(cause?.reason, shown).to.equal(bad.reason);
        expect(outcome.message, 'the summary message names the field too').to.include(bad.field);
        // Refused means not stored.
        const gone = await get(name).then(
          () => undefined,
          (err: unknown) => refusal(err),
        );
        expect(gone?.code).to.equal(404);
      });
    });
  });

  describe('accepts a good StudyLab and fills in the defaults', function () {
    it('a minimal lab gets every documented default', async function () {
      await create('minimal', {
        app: { image: 'nginx:1.27', ports: [{ name: 'http', containerPort: 8080 }], strategy: {} },
        service: { ports: [{ name: 'web', port: 80, targetPort: 'http' }] },
        storage: { size: '1Gi' },
      });
      const stored = await get('minimal');
      expect(stored.spec.paused).to.equal(false);
      expect(stored.spec.app.image).to.equal('nginx:1.27');
      expect(stored.spec.app.replicas).to.equal(undefined);
      expect(stored.spec.app.ports).to.deep.equal([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
      expect(stored.spec.app.strategy).to.deep.equal({ type: 'RollingUpdate' });
      expect(stored.spec.service.type).to.equal('ClusterIP');
      expect(stored.spec.service.ports).to.deep.equal([
        { name: 'web', port: 80, targetPort: 'http', protocol: 'TCP' },
      ]);
      expect(stored.spec.storage).to.deep.equal({
        size: '1Gi',
        accessModes: ['ReadWriteOnce'],
        mountPath: '/data',
        retentionPolicy: 'Retain',
      });
      expect(stored.spec.networkPolicy).to.equal(undefined);
    });

    it('a lab using every field keeps all of them (nothing pruned)', async function () {
      const spec = {
        app: {
          image: 'registry.example.org/team/app@sha256:0123456789abcdef',
          replicas: 3,
          command: ['/bin/app'],
          args: ['--port', '$(PORT)'],
          env: [
            { name: 'PORT', value: '8080' },
            { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } },
            {
              name: 'PASSWORD',
              valueFrom: { secretKeyRef: { name: 'creds', key: 'password', optional: true } },
            },
            { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
          ],
          envFrom: [
            { configMapRef: { name: 'settings' } },
            { prefix: 'SECRET_', secretRef: { name: 'creds' } },
          ],
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'dns', containerPort: 8053, protocol: 'UDP' },
          ],
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: 134217728 } },
          probes: {
            liveness: {
              httpGet: { path: '/healthz', port: 'http', httpHeaders: [{ name: 'X-Probe', value: '1' }] },
            },
            readiness: { tcpSocket: { port: 8080 }, periodSeconds: 5, failureThreshold: 3 },
            startup: { exec: { command: ['cat', '/tmp/ready'] }, initialDelaySeconds: 2 },
          },
          strategy: { type: 'RollingUpdate', maxSurge: '25%', maxUnavailable: 0 },
          serviceAccountName: 'app',
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'labs', effect: 'NoSchedule' }],
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] },
                ],
              },
            },
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    topologyKey: 'kubernetes.io/hostname',
                    labelSelector: { matchLabels: { 'app.kubernetes.io/instance': 'full' } },
                  },
                },
              ],
            },
          },
          imagePullSecrets: [{ name: 'registry' }],
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65534,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
        service: {
          type: 'NodePort',
          ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }],
        },
        storage: {
          size: 1073741824,
          storageClassName: 'standard',
          accessModes: ['ReadWriteOnce', 'ReadOnlyMany'],
          mountPath: '/var/lib/app',
          retentionPolicy: 'Delete',
        },
        networkPolicy: {
          ingress: [
            {
              from: [
                { podSelector: { matchLabels: { role: 'frontend' } } },
                { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
              ],
              ports: [{ protocol: 'TCP', port: 'http' }],
            },
          ],
          egress: [{ to: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 53, endPort: 54 }] }],
        },
        paused: true,
      };
      await create('full', spec);
      const stored = await get('full');
      expect(stored.spec).to.deep.equal(spec);
    });

    it('an ExternalName lab needs no app', async function () {
      await create('alias', { service: { type: 'ExternalName', externalName: 'example.org' } });
      const stored = await get('alias');
      expect(stored.spec).to.deep.equal({
        service: { type: 'ExternalName', externalName: 'example.org' },
        paused: false,
      });
    });

    it('an empty ingress list (deny all) is kept, not dropped', async function () {
      await create('deny-all', { app: APP, networkPolicy: { ingress: [] } });
      const stored = await get('deny-all');
      expect(stored.spec.networkPolicy).to.deep.equal({ ingress: [] });
      expect(stored.spec.app.ports[0].protocol).to.equal('TCP');
    });
  });

  describe('status subresource', function () {
    it('takes status through /status only, validated by the schema', async function () {
      await create('with-status', { app: APP });
      const status = {
        observedGeneration: 1,
        phase: 'Ready',
        replicas: 1,
        readyReplicas: 1,
        endpoint: 'with-status.ns.svc.cluster.local:80',
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'AllChildrenReady',
            message: 'every child is as asked',
            lastTransitionTime: '2025-01-01T00:00:00Z',
            observedGeneration: 1,
          },
        ],
      };
      await custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name: 'with-status', body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      expect((await get('with-status')).status).to.deep.equal(status);

      const bad = await custom
        .patchNamespacedCustomObjectStatus(
          {
            group: GROUP,
            version: VERSION,
            namespace,
            plural: PLURAL,
            name: 'with-status',
            body: { status: { phase: 'Happy' } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        )
        .then(
          () => undefined,
          (err: unknown) => refusal(err),
        );
      expect(bad?.causes.find((c) => c.field === 'status.phase')?.message).to.include(
        'Unsupported value: "Happy"',
      );
      expect((await get('with-status')).status.phase).to.equal('Ready');
    });
  });

  describe('kubectl', function () {
    it('`kubectl explain studylab.spec.storage` prints the descriptions', async function () {
      const cacheDir = mkdtempSync(join(tmpdir(), 'studylab-kubectl-'));
      try {
        const explain = async (): Promise<string> => {
          const { stdout } = await run('kubectl', [
            'explain',
            'studylab.spec.storage',
            '--kubeconfig',
            c.kubeconfigPath,
            '--cache-dir',
            cacheDir,
          ]);
          // The OpenAPI document is republished a little after the CRD is established.
          if (!stdout.includes('retentionPolicy')) throw new Error(`no fields yet:\n${stdout}`);
          return stdout;
        };
        // kubectl wraps descriptions at 80 columns.
        const out = (await eventually(explain, { timeoutMs: 60_000, intervalMs: 1000 })).replace(/\s+/g, ' ');
        expect(out).to.include('FIELD: storage <Object>');
        expect(out).to.include(
          'DESCRIPTION: A PersistentVolumeClaim mounted into the application. Absent means no persistent storage.',
        );
        expect(out).to.include('size <Object> -required- Requested capacity, such as `1Gi`.');
        expect(out).to.include(
          'retentionPolicy <string> enum: Retain, Delete What happens to the data when the lab is deleted.',
        );
        expect(out).to.include(
          "mountPath <string> Where the volume is mounted in the application's container: an absolute path.",
        );
        expect(out).to.include('accessModes <[]string> How the volume can be mounted.');
        expect(out).to.include('storageClassName <string> The StorageClass to provision from.');
      } finally {
        rmSync(cacheDir, { recursive: true, force: true });
      }
    });

    it('`kubectl get slab` shows the printer columns, filled from status', async function () {
      await create('columns', { app: APP, service: { type: 'Headless' } });
      await custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name: 'columns',
          body: {
            status: { phase: 'Ready', readyReplicas: 2, endpoint: 'columns.test.svc.cluster.local:80' },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const { stdout } = await run('kubectl', [
        'get',
        'slab',
        'columns',
        '-n',
        namespace,
        '--kubeconfig',
        c.kubeconfigPath,
      ]);
      const [header, row] = stdout
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/\s+/));
      expect(header).to.deep.equal(['NAME', 'PHASE', 'READY', 'SERVICE', 'ENDPOINT', 'AGE']);
      expect(row?.slice(0, 5)).to.deep.equal([
        'columns',
        'Ready',
        '2',
        'Headless',
        'columns.test.svc.cluster.local:80',
      ]);
      expect(row?.[5]).to.match(/^\d+s$/);
    });
  });
});

/**
 * Server-side applies the committed CRD and waits until it is established.
 * The request is sent raw: client-node's typed serializer knows
 * V1JSONSchemaProps by its TypeScript names (`x_kubernetes_int_or_string`)
 * and silently drops every `x-kubernetes-*` key of a CRD written as YAML.
 */
async function installCrd(c: Cluster): Promise<void> {
  const crd = parse(readFileSync(CRD_FILE, 'utf8')) as { metadata: { name: string } };
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`;
  const query = `fieldManager=${FIELD_MANAGER}&force=true`;
  const answer = await rawRequest(
    c.kubeConfig,
    'PATCH',
    `${path}?${query}`,
    crd,
    'application/apply-patch+yaml',
  );
  if (answer.status >= 300) throw new Error(`installing the CRD failed (${answer.status}): ${answer.body}`);
  const extensions = c.kubeConfig.makeApiClient(ApiextensionsV1Api);
  await eventually(
    async () => {
      const live = await extensions.readCustomResourceDefinition({ name: crd.metadata.name });
      const established = live.status?.conditions?.find((cond) => cond.type === 'Established');
      if (established?.status !== 'True')
        throw new Error(`CRD not established yet: ${JSON.stringify(live.status)}`);
    },
    { timeoutMs: 60_000 },
  );
}

function rawRequest(
  kubeConfig: KubeConfig,
  method: string,
  path: string,
  body: unknown,
  contentType: string,
): Promise<{ status: number; body: string }> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) return Promise.reject(new Error('the kubeconfig has no current cluster'));
  const options: RequestOptions = {
    method,
    headers: { 'Content-Type': contentType, Accept: 'application/json' },
  };
  return kubeConfig.applyToHTTPSOptions(options).then(
    () =>
      new Promise((resolve, reject) => {
        const req = httpsRequest(new URL(path, server), options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      }),
  );
}
