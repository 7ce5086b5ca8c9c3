/**
 * The samples under samples/: each file is a small, self-contained lesson, together they cover every
 * topic of the seeds, and a real API server with the StudyLab CRD accepts every object as written.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KIND, type StudyLab } from '../../src/api/v1alpha1/index.js';
import { cluster, eventually, testNamespace } from '../support/cluster.js';

const SAMPLES_DIR = new URL('../../samples/', import.meta.url);
const README = new URL('README.md', SAMPLES_DIR);
const CRD_FILE = new URL('../../crds/studylab.io_studylabs.yaml', import.meta.url);
const FIELD_MANAGER = 'studylab-samples-test';
/** The labels the operator puts on every lab's pods; a NetworkPolicy rule selects another lab's pods by them. */
const LAB_NAME_LABEL = 'app.kubernetes.io/name';
const LAB_INSTANCE_LABEL = 'app.kubernetes.io/instance';

/** One object of a sample file, as parsed. */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

interface Sample {
  file: string;
  text: string;
  objects: Manifest[];
  /** Parse errors and malformed documents; a sample with problems fails its own test instead of the whole suite. */
  problems: string[];
}

/** A request the API server answered with an error status; the message is the server's own (metav1.Status). */
class ApiError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A sample object the API server refused. */
class ObjectRejectedError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'ObjectRejectedError';
  }
}

/** A live object as the API server returns it. */
interface LiveObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: unknown;
  status?: { conditions?: { type: string; status: string }[] };
}

const SAMPLES = loadSamples();

/** Every topic the seeds ask a sample for, and how to recognise the sample that teaches it. */
const TOPICS: Record<string, (sample: Sample) => boolean> = {
  'ClusterIP Service': (s) => labsOf(s).some((l) => l.spec.app && l.spec.service?.type === 'ClusterIP'),
  'NodePort Service with a fixed nodePort': (s) =>
    labsOf(s).some(
      (l) => l.spec.service?.type === 'NodePort' && (l.spec.service.ports ?? []).some((p) => p.nodePort),
    ),
  'LoadBalancer Service': (s) => labsOf(s).some((l) => l.spec.service?.type === 'LoadBalancer'),
  'headless Service': (s) => labsOf(s).some((l) => l.spec.service?.type === 'Headless'),
  'ExternalName Service without an app': (s) =>
    labsOf(s).some(
      (l) => l.spec.service?.type === 'ExternalName' && l.spec.service.externalName && !l.spec.app,
    ),
  'storage with retentionPolicy Retain': (s) =>
    labsOf(s).some((l) => l.spec.storage?.retentionPolicy === 'Retain'),
  'storage with retentionPolicy Delete': (s) =>
    labsOf(s).some((l) => l.spec.storage?.retentionPolicy === 'Delete'),
  'NetworkPolicy denying all ingress': (s) =>
    labsOf(s).some(
      (l) => Array.isArray(l.spec.networkPolicy?.ingress) && l.spec.networkPolicy.ingress.length === 0,
    ),
  'NetworkPolicy allowing ingress from a frontend lab': (s) => {
    const names = new Set(labsOf(s).map((l) => l.metadata.name));
    return labsOf(s).some((l) =>
      (l.spec.networkPolicy?.ingress ?? []).some((rule) =>
        (rule._from ?? (rule as { from?: typeof rule._from }).from ?? []).some((peer) => {
          const labels = peer.podSelector?.matchLabels ?? {};
          const instance = labels[LAB_INSTANCE_LABEL];
          return (
            labels[LAB_NAME_LABEL] === 'studylab' &&
            instance !== undefined &&
            instance !== l.metadata.name &&
            names.has(instance)
          );
        }),
      ),
    );
  },
  'NetworkPolicy restricting egress to DNS': (s) =>
    labsOf(s).some((l) => {
      const egress = l.spec.networkPolicy?.egress;
      return (
        egress !== undefined &&
        egress.length > 0 &&
        egress.every((rule) => rule.ports !== undefined && rule.ports.every((p) => p.port === 53))
      );
    }),
  'env from a ConfigMap and a Secret': (s) =>
    labsOf(s).some((l) => {
      const env = l.spec.app?.env ?? [];
      const envFrom = l.spec.app?.envFrom ?? [];
      return (
        env.some((e) => e.valueFrom?.configMapKeyRef) &&
        env.some((e) => e.valueFrom?.secretKeyRef) &&
        envFrom.some((e) => e.configMapRef) &&
        envFrom.some((e) => e.secretRef)
      );
    }),
  'liveness, readiness and startup probes on a named port': (s) =>
    labsOf(s).some((l) => {
      const portNames = new Set((l.spec.app?.ports ?? []).map((p) => p.name));
      const probes = l.spec.app?.probes;
      return [probes?.liveness, probes?.readiness, probes?.startup].every((probe) => {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        return typeof port === 'string' && portNames.has(port);
      });
    }),
  'rolling update with distinct maxSurge and maxUnavailable': (s) =>
    labsOf(s).some((l) => {
      const strategy = l.spec.app?.strategy;
      return (
        strategy?.type === 'RollingUpdate' &&
        strategy.maxSurge !== undefined &&
        strategy.maxUnavailable !== undefined &&
        String(strategy.maxSurge) !== String(strategy.maxUnavailable)
      );
    }),
  'Recreate strategy': (s) => labsOf(s).some((l) => l.spec.app?.strategy?.type === 'Recreate'),
  'resources and scheduling': (s) =>
    labsOf(s).some((l) => {
      const app = l.spec.app;
      return Boolean(
        app?.resources?.requests &&
        app.resources.limits &&
        app.nodeSelector &&
        app.tolerations?.length &&
        app.affinity,
      );
    }),
  'command and args override': (s) =>
    labsOf(s).some((l) => Boolean(l.spec.app?.command?.length && l.spec.app.args?.length)),
  'several replicas': (s) => labsOf(s).some((l) => (l.spec.app?.replicas ?? 1) >= 3),
  'paused lab': (s) => labsOf(s).some((l) => l.spec.paused === true),
  'serviceAccountName and imagePullSecrets': (s) =>
    labsOf(s).some((l) => Boolean(l.spec.app?.serviceAccountName && l.spec.app.imagePullSecrets?.length)),
};

describe('samples', function () {
  it('exist, one numbered file per lesson', function () {
    expect(SAMPLES.length).to.be.greaterThan(0);
    for (const { file } of SAMPLES) expect(file, file).to.match(/^\d{2}-[a-z0-9]+(-[a-z0-9]+)*\.yaml$/);
    const numbers = SAMPLES.map((s) => s.file.slice(0, 2));
    expect(new Set(numbers).size, `numbers: ${numbers.join(' ')}`).to.equal(numbers.length);
  });

  for (const topic of Object.keys(TOPICS)) {
    it(`have a sample for: ${topic}`, function () {
      const matches = SAMPLES.filter((s) => TOPICS[topic]!(s)).map((s) => s.file);
      expect(matches, `no sample teaches "${topic}"`).to.not.be.empty;
    });
  }

  it('can all be applied to one namespace: object names and node ports do not collide', function () {
    const seen = new Map<string, string>();
    const nodePorts = new Map<number, string>();
    const collisions: string[] = [];
    for (const { file, objects } of SAMPLES) {
      for (const o of objects) {
        const key = `${o.kind}/${o.metadata.name}`;
        const other = seen.get(key);
        if (other) collisions.push(`${key} in ${other} and ${file}`);
        seen.set(key, file);
      }
      for (const lab of labsOf({ objects })) {
        for (const port of lab.spec.service?.ports ?? []) {
          if (port.nodePort === undefined) continue;
          const other = nodePorts.get(port.nodePort);
          if (other) collisions.push(`nodePort ${port.nodePort} in ${other} and ${file}`);
          nodePorts.set(port.nodePort, file);
        }
      }
    }
    expect(collisions).to.deep.equal([]);
  });

  it('are all listed in samples/README.md, which lists no other file', function () {
    const readme = readFileSync(README, 'utf8');
    const linked = [...readme.matchAll(/\]\((\d{2}-[^)]+\.yaml)\)/g)].map((m) => m[1]);
    expect([...new Set(linked)].sort()).to.deep.equal(SAMPLES.map((s) => s.file));
  });

  for (const sample of SAMPLES) {
    describe(sample.file, function () {
      it('parses into Kubernetes objects without a namespace', function () {
        expect(sample.problems).to.deep.equal([]);
        expect(sample.objects).to.not.be.empty;
        expect(labsOf(sample), 'a sample teaches through at least one StudyLab').to.not.be.empty;
        for (const o of sample.objects) {
          expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).to.equal(undefined);
        }
      });

      it('starts with a one-line comment saying what it teaches, then at most four more', function () {
        const lines = sample.text.split('\n');
        expect(lines[0], 'first line').to.match(/^# \S.{15,}/);
        const header = lines.findIndex((line) => !line.startsWith('#'));
        expect(header, 'comment lines before the first object').to.be.within(1, 5);
      });

      it('defines every ConfigMap, Secret and ServiceAccount a lab refers to, before the lab', function () {
        const missing: string[] = [];
        sample.objects.forEach((o, index) => {
          if (o.kind !== KIND) return;
          const earlier = new Set(sample.objects.slice(0, index).map((e) => `${e.kind}/${e.metadata.name}`));
          for (const ref of referencesOf(o as unknown as StudyLab)) {
            if (!earlier.has(ref)) missing.push(`${o.metadata.name} -> ${ref}`);
          }
        });
        expect(missing).to.deep.equal([]);
      });

      it('pins every image to a tag other than latest', function () {
        for (const lab of labsOf(sample)) {
          const image = lab.spec.app?.image;
          if (image === undefined) continue;
          const tag = /:([^/:@]+)$/.exec(image)?.[1];
          expect(tag, `${lab.metadata.name}: ${image}`).to.be.a('string').and.not.equal('latest');
        }
      });
    });
  }
});

describe('samples against the API server (server-side dry run)', function () {
  let api: RawApi;
  let namespace: string;

  before(async function () {
    this.timeout(120_000);
    const crdPath = fileURLToPath(CRD_FILE);
    if (!existsSync(crdPath)) {
      throw new Error(
        `${crdPath} is missing: generate it from src/api (make generate) before running this suite`,
      );
    }
    api = new RawApi((await cluster()).kubeConfig);
    await installCrd(api, crdPath);
    namespace = await testNamespace('samples');
  });

  for (const sample of SAMPLES) {
    it(`accepts every object of ${sample.file} as written`, async function () {
      expect(sample.objects).to.not.be.empty;
      for (const object of sample.objects) {
        const created = await createDryRun(api, object, namespace);
        const what = `${object.kind}/${object.metadata.name}`;
        expect(created.kind, what).to.equal(object.kind);
        expect(created.metadata?.name, what).to.equal(object.metadata.name);
        expect(created.metadata?.namespace, what).to.equal(namespace);
        // Strict field validation already refuses unknown fields; this also catches a schema that
        // accepts a field and then drops or rewrites it, so the lesson would teach a field that does nothing.
        if (object.kind === KIND) {
          expect(missingPaths(object.spec, created.spec, 'spec'), `${what}: fields dropped by the API server`)
            .to.be.empty;
        }
      }
    });
  }

  it('rejects a sample made invalid, so an accepted sample means something', async function () {
    const nodePortLab = SAMPLES.flatMap((s) => labsOf(s)).find((l) =>
      (l.spec.service?.ports ?? []).some((p) => p.nodePort !== undefined),
    );
    expect(nodePortLab, 'a sample with a nodePort').to.not.equal(undefined);
    const broken = structuredClone(nodePortLab!);
    broken.spec.service!.type = 'ClusterIP';
    const outcome = await createDryRun(api, broken as unknown as Manifest, namespace).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(outcome).to.be.instanceOf(ObjectRejectedError);
    expect((outcome as ObjectRejectedError).code).to.equal(422);
    expect((outcome as ObjectRejectedError).message).to.contain('nodePort');
  });

  it('left nothing behind: a dry run persists no object', async function () {
    const names = new Map<string, Set<string>>();
    for (const o of SAMPLES.flatMap((s) => s.objects)) {
      const key = `${o.apiVersion} ${o.kind}`;
      names.set(key, (names.get(key) ?? new Set()).add(o.metadata.name));
    }
    for (const [key, sampleNames] of names) {
      const [apiVersion, kind] = key.split(' ') as [string, string];
      const live = (await api.request('GET', await api.resourcePath(apiVersion, kind, namespace))) as {
        items: LiveObject[];
      };
      const persisted = live.items
        .map((i) => i.metadata?.name)
        .filter((n) => n !== undefined && sampleNames.has(n));
      expect(persisted, kind).to.deep.equal([]);
    }
  });
});

function loadSamples(): Sample[] {
  return readdirSync(SAMPLES_DIR)
    .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
    .sort()
    .map(loadSample);
}

function loadSample(file: string): Sample {
  const text = readFileSync(new URL(file, SAMPLES_DIR), 'utf8');
  const problems: string[] = [];
  const objects: Manifest[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    for (const error of [...doc.errors, ...doc.warnings])
      problems.push(`document ${index}: ${error.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    if (isManifest(value)) objects.push(value);
    else
      problems.push(`document ${index} is not a Kubernetes object with apiVersion, kind and metadata.name`);
  });
  return { file, text, objects, problems };
}

function isManifest(value: unknown): value is Manifest {
  if (!isRecord(value) || !isRecord(value.metadata)) return false;
  return (
    typeof value.apiVersion === 'string' &&
    typeof value.kind === 'string' &&
    typeof value.metadata.name === 'string'
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function labsOf(sample: Pick<Sample, 'objects'>): StudyLab[] {
  return sample.objects.filter(
    (o) => o.apiVersion === API_VERSION && o.kind === KIND,
  ) as unknown as StudyLab[];
}

/** The objects a lab needs to exist in its namespace, as `Kind/name`. */
function referencesOf(lab: StudyLab): string[] {
  const app = lab.spec.app;
  if (!app) return [];
  const refs: string[] = [];
  for (const e of app.env ?? []) {
    if (e.valueFrom?.configMapKeyRef) refs.push(`ConfigMap/${e.valueFrom.configMapKeyRef.name}`);
    if (e.valueFrom?.secretKeyRef) refs.push(`Secret/${e.valueFrom.secretKeyRef.name}`);
  }
  for (const e of app.envFrom ?? []) {
    if (e.configMapRef) refs.push(`ConfigMap/${e.configMapRef.name}`);
    if (e.secretRef) refs.push(`Secret/${e.secretRef.name}`);
  }
  for (const s of app.imagePullSecrets ?? []) refs.push(`Secret/${s.name}`);
  if (app.serviceAccountName && app.serviceAccountName !== 'default') {
    refs.push(`ServiceAccount/${app.serviceAccountName}`);
  }
  return refs;
}

/** Paths of the values in `sent` that are absent from, or different in, `got` (extra fields in `got` are fine). */
function missingPaths(sent: unknown, got: unknown, path: string): string[] {
  if (Array.isArray(sent)) {
    if (!Array.isArray(got) || got.length !== sent.length) return [path];
    return sent.flatMap((value, i) => missingPaths(value, got[i], `${path}[${i}]`));
  }
  if (isRecord(sent)) {
    if (!isRecord(got)) return [path];
    return Object.entries(sent).flatMap(([key, value]) => missingPaths(value, got[key], `${path}.${key}`));
  }
  return sent === got ? [] : [path];
}

/**
 * A minimal JSON client over node:https with the admin kubeconfig. Not client-node's
 * KubernetesObjectApi: it serializes bodies through its typed models, which silently drop every field
 * whose JSON name differs from the TypeScript one (a CRD's `x-kubernetes-validations`, a NetworkPolicy
 * rule's `from`) and every field of a kind it does not know (a StudyLab's spec). Samples must reach
 * the API server exactly as written.
 */
class RawApi {
  constructor(private readonly kubeConfig: KubeConfig) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<unknown> {
    const server = this.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error('the kubeconfig has no current cluster');
    // A fresh connection per request: no keep-alive socket outlives the suite.
    const options: RequestOptions = { method, agent: false };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    options.headers = {
      ...options.headers,
      Accept: 'application/json',
      ...(payload === undefined ? {} : { 'Content-Type': contentType }),
    };
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpsRequest(`${server.replace(/\/+$/, '')}${path}`, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
    const parsed = safeParseJson(text);
    if (status < 200 || status > 299) {
      const message = isRecord(parsed) && typeof parsed.message === 'string' ? parsed.message : text;
      throw new ApiError(`${method} ${path}: ${status} ${message}`, status);
    }
    return parsed;
  }

  /** The collection path of a kind, found through discovery (the way kubectl does). */
  async resourcePath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = (await this.request('GET', base)) as {
      resources?: { name: string; kind: string; namespaced: boolean }[];
    };
    const resource = list.resources?.find((r) => r.kind === kind && !r.name.includes('/'));
    if (!resource) throw new Error(`the API server serves no ${kind} in ${apiVersion}`);
    return resource.namespaced && namespace !== undefined
      ? `${base}/namespaces/${namespace}/${resource.name}`
      : `${base}/${resource.name}`;
  }
}

/** Installs (or updates) the generated CRD with server-side apply and waits until the API server serves it. */
async function installCrd(api: RawApi, crdPath: string): Promise<void> {
  const docs = parseAllDocuments(readFileSync(crdPath, 'utf8')).map((d) => d.toJS() as unknown);
  const crds = docs.filter((d): d is Manifest => isManifest(d) && d.kind === 'CustomResourceDefinition');
  expect(crds, `${crdPath} holds a CustomResourceDefinition`).to.not.be.empty;
  for (const crd of crds) {
    const path = `${await api.resourcePath(crd.apiVersion, crd.kind)}/${crd.metadata.name}`;
    await api.request(
      'PATCH',
      `${path}?fieldManager=${FIELD_MANAGER}&force=true`,
      crd,
      'application/apply-patch+yaml',
    );
    await eventually(
      async () => {
        const live = (await api.request('GET', path)) as LiveObject;
        const established = live.status?.conditions?.some(
          (c) => c.type === 'Established' && c.status === 'True',
        );
        if (!established) throw new Error(`CRD ${crd.metadata.name} is not Established yet`);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  }
  // Established comes before discovery lists the new kind, and creating goes through discovery.
  await eventually(() => api.resourcePath(API_VERSION, KIND), { timeoutMs: 60_000, intervalMs: 250 });
}

/**
 * Creates a copy of `object` in `namespace` with `?dryRun=All`: validated (unknown fields refused),
 * defaulted and admitted exactly like a real create, and never stored.
 */
async function createDryRun(api: RawApi, object: Manifest, namespace: string): Promise<LiveObject> {
  const body: Manifest = { ...object, metadata: { ...object.metadata, namespace } };
  const query = `dryRun=All&fieldValidation=Strict&fieldManager=${FIELD_MANAGER}`;
  try {
    const path = await api.resourcePath(object.apiVersion, object.kind, namespace);
    return (await api.request('POST', `${path}?${query}`, body)) as LiveObject;
  } catch (err) {
    const code = err instanceof ApiError ? err.code : undefined;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ObjectRejectedError(`${object.kind}/${object.metadata.name} rejected: ${reason}`, code, {
      cause: err,
    });
  }
}

function safeParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
