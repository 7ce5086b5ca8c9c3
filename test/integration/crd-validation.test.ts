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
  ApiextensionsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import { parse } from 'yaml';
import { GROUP, KIND, PLURAL, VERSION } from '../../src/api/v1alpha1/index.js';
import { APP, BAD_STUDYLABS, refusal, refusalMismatches } from '../support/bad-studylabs.js';
import { cluster, eventually, testNamespace, type Cluster } from '../support/cluster.js';

const CRD_FILE = new URL('../../crds/studylab.io_studylabs.yaml', import.meta.url);
const FIELD_MANAGER = 'studylab-crd-validation-test';
const run = promisify(execFile);

function lab(name: string, spec: unknown): Record<string, unknown> {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, metadata: { name }, spec };
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
    it(`has at least 50 cases`, function () {
      expect(BAD_STUDYLABS.length).to.be.at.least(50);
    });

    BAD_STUDYLABS.forEach((bad, i) => {
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
        expect(refusalMismatches(bad, outcome)).to.deep.equal([]);
        if (outcome.code === 400) return; // strict decoding refused it before anything else ran
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
