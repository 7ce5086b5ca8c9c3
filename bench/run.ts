/**
 * `make bench`: ours against the Go controller-runtime peer and the raw write
 * ceiling, on one local control plane, in one run. See bench/README.md for
 * what each figure means.
 *
 *   npx tsx bench/run.ts [--sizes=100,1000] [--memory-sizes=1000,5000] [--edits=200]
 *                        [--operators=peer,ours] [--quick] [--out=bench/results]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import {
  KubeConfig,
  type V1Deployment,
  type V1PersistentVolumeClaim,
  type V1Service,
} from '@kubernetes/client-node';
import type { StudyLab, StudyLabSpec, StudyLabStatus } from '../src/api/v1alpha1/index.js';
import {
  Client,
  createLogger,
  Deployments,
  EventRecorder,
  NetworkPolicies,
  Namespaces,
  PersistentVolumeClaims,
  Services,
  type KubeObject,
  type ResourceType,
} from '../src/runtime/index.js';
import {
  buildDeployment,
  buildNetworkPolicy,
  buildPersistentVolumeClaim,
  buildService,
} from '../src/studylab/builders/index.js';
import { decideApply, withIntentHash } from '../src/studylab/intent.js';
import { FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../src/studylab/labels.js';
import { StudyLabs } from '../src/studylab/resources.js';
import { computeStatus, type Observed } from '../src/studylab/status.js';
import {
  kubectl,
  LocalControlPlane,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  renderDeploy,
  REPO_ROOT,
} from '../src/testenv/index.js';
import { OperatorProcess, type OperatorName } from './lib/operator-process.js';
import { diffCounts, groupCounts, percentile, type RequestCounts, type RequestKey } from './lib/stats.js';
import { apiServerRequests, countWhere, labReady, labReconciled, NamespaceWatch } from './lib/watch.js';

// --- options -----------------------------------------------------------------------------------

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1000' },
    'memory-sizes': { type: 'string', default: '1000,5000' },
    edits: { type: 'string', default: '200' },
    operators: { type: 'string', default: 'peer,ours' },
    concurrency: { type: 'string', default: '4' },
    'create-concurrency': { type: 'string', default: '16' },
    'timeout-s': { type: 'string', default: '900' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results') },
    'keep-logs': { type: 'boolean', default: false },
    /** Extra node flags for our operator, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
    'ours-node-args': { type: 'string', default: '' },
    'ours-log-level': { type: 'string', default: 'info' },
    /** Extra flags for our operator, e.g. `--trace` (with --keep-logs, to read what each reconcile did). */
    'ours-args': { type: 'string', default: '' },
  },
  strict: true,
});

const numbers = (s: string): number[] =>
  s
    .split(',')
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
const QUICK = flags.quick;
const SIZES = QUICK ? [20] : numbers(flags.sizes);
const MEMORY_SIZES = QUICK ? [20, 60] : numbers(flags['memory-sizes']);
const EDITS = QUICK ? 20 : Number(flags.edits);
const OPERATORS = flags.operators.split(',').filter(Boolean) as OperatorName[];
const CONCURRENCY = Number(flags.concurrency);
const CREATE_CONCURRENCY = Number(flags['create-concurrency']);
const TIMEOUT_MS = (QUICK ? 240 : Number(flags['timeout-s'])) * 1000;
const SMALLEST = SIZES[0]!;
const LARGEST = SIZES[SIZES.length - 1]!;

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

// --- the lab the benchmark creates ---------------------------------------------------------------

/**
 * The bench's lab: no pods (replicas 0, so kwok's node capacity never limits N),
 * the default ClusterIP Service on the app's port, a claim from the default
 * StorageClass (half Delete, half Retain), and one ingress rule. The phase it
 * should reach is Ready: the Deployment controller reports the (empty) rollout
 * complete and the hostPath provisioner binds the claim.
 */
export function benchLabSpec(i: number, image = 'registry.example/studylab/app:1'): StudyLabSpec {
  return {
    app: { image, replicas: 0, ports: [{ name: 'http', containerPort: 8080 }] },
    storage: { size: '1Gi', retentionPolicy: i % 2 === 0 ? 'Delete' : 'Retain' },
    // `from` as the API reads it (client-node's model calls it `_from`).
    networkPolicy: {
      ingress: [{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'frontend' } } }] }],
    } as unknown as StudyLabSpec['networkPolicy'],
  };
}

const labName = (i: number): string => `lab-${String(i).padStart(5, '0')}`;

// --- what the operators write to, and what counts as theirs ----------------------------------------

/** The resources the operators read and write; other components' requests on them are told apart by verb. */
const OPERATOR_RESOURCES = new Set([
  'studylab.io/studylabs',
  'apps/deployments',
  'core/services',
  'networking.k8s.io/networkpolicies',
  'core/persistentvolumeclaims',
  'core/configmaps',
  'events.k8s.io/events',
]);
/**
 * kube-controller-manager updates Deployment status and binds claims with PUT
 * (Update); neither operator ever sends a PUT (they apply, patch, create
 * Events and delete), so PUTs are left out of the operators' figures.
 */
const operatorRequest = (k: RequestKey): boolean =>
  OPERATOR_RESOURCES.has(`${k.group || 'core'}/${k.resource}`) && k.verb !== 'PUT';
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'UPDATE', 'CREATE']);

/** `APPLY studylabs/status`: a verb and what it was sent to, so a status write is told apart from a child's. */
const verbAndResource = (k: RequestKey): string =>
  `${k.verb} ${k.resource}${k.subresource ? `/${k.subresource}` : ''}`;
const isWrite = (verbAndResourceKey: string): boolean => WRITE_VERBS.has(verbAndResourceKey.split(' ')[0]!);
const writesIn = (byRequest: Record<string, number>): number =>
  Object.entries(byRequest)
    .filter(([k]) => isWrite(k))
    .reduce((a, [, c]) => a + c, 0);

/** Requests the harness itself made, by verbAndResource, to subtract from the API server's counts. */
type Own = Record<string, number>;
function operatorRequests(delta: RequestCounts, own: Own = {}): Record<string, number> {
  const byRequest = groupCounts(delta, verbAndResource, operatorRequest);
  for (const [key, n] of Object.entries(own)) byRequest[key] = (byRequest[key] ?? 0) - n;
  for (const k of Object.keys(byRequest)) if (byRequest[k] === 0) delete byRequest[k];
  return byRequest;
}
const perLab = (byRequest: Record<string, number>, n: number): Record<string, number> =>
  Object.fromEntries(Object.entries(byRequest).map(([k, v]) => [k, round(v / n, 2)]));
const total = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);
const round = (v: number, digits = 0): number => Math.round(v * 10 ** digits) / 10 ** digits;

// --- context -------------------------------------------------------------------------------------

interface Ctx {
  admin: Client;
  /** The operator's ServiceAccount, for the ceiling loop (same credentials, same client library). */
  saClient: Client;
  adminKc: KubeConfig;
  saKubeconfig: string;
  peerBinary: string;
  logDir: string;
}

async function createNamespace(ctx: Ctx, name: string): Promise<void> {
  await ctx.admin.create(Namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/** Creates labs [from, to) with CREATE_CONCURRENCY requests in flight; calls `created` with each. */
async function createLabs(
  ctx: Ctx,
  namespace: string,
  from: number,
  to: number,
  created?: (lab: StudyLab) => void,
): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      const lab = await ctx.admin.create<StudyLab>(StudyLabs, {
        apiVersion: 'studylab.io/v1alpha1',
        kind: 'StudyLab',
        metadata: { name: labName(i), namespace },
        spec: benchLabSpec(i),
      });
      created?.(lab);
    }
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, worker));
}

async function waitFor(
  what: string,
  fn: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 25,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await fn()) return performance.now();
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function startOperator(
  ctx: Ctx,
  name: OperatorName,
  namespace: string,
  tag: string,
): Promise<OperatorProcess> {
  return OperatorProcess.start(
    {
      name,
      peerBinary: ctx.peerBinary,
      kubeconfig: ctx.saKubeconfig,
      namespace,
      concurrency: CONCURRENCY,
      logDir: ctx.logDir,
      nodeArgs: flags['ours-node-args'].split(' ').filter(Boolean),
      logLevel: flags['ours-log-level'],
      extraArgs: flags['ours-args'].split(' ').filter(Boolean),
    },
    `${name}-${tag}`,
  );
}

/** Both operators busy with nothing: queue empty and no reconcile for `quietMs`. */
async function waitIdle(op: OperatorProcess, quietMs = 2000, timeoutMs = TIMEOUT_MS): Promise<void> {
  let last = await op.reconciles();
  let since = performance.now();
  await waitFor(
    `${op.name} idle`,
    async () => {
      const now = await op.reconciles();
      if (now !== last || (await op.queueDepth()) > 0) {
        last = now;
        since = performance.now();
        return false;
      }
      return performance.now() - since >= quietMs;
    },
    timeoutMs,
    200,
  );
}

// --- the raw write ceiling ----------------------------------------------------------------------

/** What a write loop sends per lab: its 4 children, or every write a lab's promises cost. */
type LoopWrites = 'children' | 'lab';

interface CeilingResult {
  n: number;
  /** 'children' is the raw write ceiling; 'lab' adds the status writes and Events of a lab. */
  writes: LoopWrites;
  seconds: number;
  writesPerSecond: number;
  requestsPerLab: Record<string, number>;
}

/**
 * The same labs created the same way, and the same 4N children (built by our
 * builders, applied with our client under our ServiceAccount) written by a
 * plain loop with the operator's concurrency: as fast as anything could make
 * these children, with no cache, no queue and no status.
 *
 * With `writes: 'lab'` the loop also sends what a lab promises besides its
 * children, as an operator must: one "Created" Event naming its children
 * (through the runtime's EventRecorder, as the operator sends it) and two status writes
 * (before its children exist and after). That is the floor for an operator
 * that keeps those promises; the raw ceiling is the floor for one that does not.
 */
async function ceiling(
  ctx: Ctx,
  n: number,
  writes: LoopWrites,
  ns = ceilingNamespace(n, writes),
): Promise<CeilingResult> {
  await createNamespace(ctx, ns);
  const queue: StudyLab[] = [];
  let creating = true;
  let sleepers: (() => void)[] = [];
  const wake = (): void => {
    const s = sleepers;
    sleepers = [];
    for (const w of s) w();
  };
  const events = new EventRecorder(
    ctx.saClient,
    { reportingController: 'studylab.io/bench-ceiling' },
    { logger: createLogger({ level: 'warn' }) },
  );
  const writeStatus = (lab: StudyLab, observed: Partial<Observed>): Promise<unknown> =>
    ctx.saClient.apply(
      StudyLabs,
      {
        apiVersion: lab.apiVersion,
        kind: lab.kind,
        metadata: { name: lab.metadata.name, namespace: lab.metadata.namespace },
        status: computeStatus(lab, { problems: [], applyErrors: [], ...observed }, new Date()),
      },
      { fieldManager: FIELD_MANAGER, force: true, subresource: 'status' },
    );
  const before = await apiServerRequests(ctx.adminKc);
  const t0 = performance.now();
  const creation = createLabs(ctx, ns, 0, n, (lab) => {
    queue.push(lab);
    wake();
  }).finally(() => {
    creating = false;
    wake();
  });
  const writer = async (): Promise<void> => {
    for (;;) {
      const lab = queue.shift();
      if (!lab) {
        if (!creating) return;
        await new Promise<void>((r) => sleepers.push(r));
        continue;
      }
      if (writes === 'lab') await writeStatus(lab, {});
      const applied: Partial<Observed> = {};
      const created: string[] = [];
      for (const [type, intent] of childIntents(lab)) {
        const child = await ctx.saClient.apply(type, withIntentHash(intent), {
          fieldManager: FIELD_MANAGER,
          force: true,
        });
        if (writes === 'children') continue;
        if (type === Deployments) applied.deployment = child;
        if (type === Services) applied.service = child;
        if (type === PersistentVolumeClaims) applied.pvc = child;
        created.push(type.kind);
      }
      if (writes === 'lab') {
        events.event(
          lab,
          'Normal',
          'Created',
          'Create',
          `Created ${created.join(', ')} ${lab.metadata.name}`,
        );
        await writeStatus(lab, applied);
      }
    }
  };
  await Promise.all([creation, ...Array.from({ length: CONCURRENCY }, writer)]);
  await events.flush();
  const seconds = (performance.now() - t0) / 1000;
  const delta = diffCounts(await apiServerRequests(ctx.adminKc), before);
  const byRequest = operatorRequests(delta, { 'POST studylabs': n });
  return {
    n,
    writes,
    seconds: round(seconds, 2),
    writesPerSecond: round(writesIn(byRequest) / seconds),
    requestsPerLab: perLab(byRequest, n),
  };
}

/** How the loop is called in the log and the table. */
const loopName = (writes: LoopWrites): string => (writes === 'children' ? 'ceiling' : 'lab-writes loop');
const ceilingNamespace = (n: number, writes: LoopWrites): string =>
  writes === 'children' ? `bench-ceiling-${n}` : `bench-lab-writes-${n}`;

function childIntents(lab: StudyLab): [ResourceType, KubeObject][] {
  return [
    [PersistentVolumeClaims, buildPersistentVolumeClaim(lab).intent],
    [Deployments, buildDeployment(lab)!],
    [Services, buildService(lab)!],
    [NetworkPolicies, buildNetworkPolicy(lab)!],
  ];
}

// --- one operator ----------------------------------------------------------------------------------

interface ConvergenceResult {
  n: number;
  /** First lab created -> every lab reports the current generation with every child applied. */
  reconciledSeconds: number;
  /** ... and phase Ready (needs the Deployment controller and the claim binder too). */
  readySeconds: number;
  createSeconds: number;
  reconcilesPerLab: number;
  reconcileErrors: number;
  requestsPerLab: Record<string, number>;
  requestsPerLabTotal: number;
  writesPerLab: number;
  /** The operator's CPU time (user + system) from the first create until all labs were Ready, per lab. */
  cpuMsPerLab: number;
}

async function converge(
  ctx: Ctx,
  op: OperatorProcess,
  ns: string,
  from: number,
  to: number,
): Promise<ConvergenceResult> {
  const n = to - from;
  const labs = new NamespaceWatch<StudyLab>(ctx.admin, StudyLabs, ns);
  await labs.start();
  const reconcilesBefore = await op.reconciles();
  const errorsBefore = await op.metric('controller_runtime_reconcile_errors_total', {
    controller: 'studylab',
  });
  const before = await apiServerRequests(ctx.adminKc);
  const cpuBefore = op.cpuSeconds();
  const t0 = performance.now();
  let created = 0;
  await createLabs(ctx, ns, from, to, () => created++);
  const tCreated = performance.now();
  const tReconciled = await labs.until(
    (m) => m.size >= to && countWhere(m, labReconciled) >= to,
    TIMEOUT_MS,
    `${to} labs reconciled by ${op.name}`,
  );
  const tReady = await labs
    .until((m) => m.size >= to && countWhere(m, labReady) >= to, TIMEOUT_MS, `${to} labs Ready by ${op.name}`)
    .catch((err: Error) => {
      const phases = groupBy([...labs.objects.values()], (l) => l.status?.phase ?? 'none');
      throw new Error(`${err.message}; phases: ${JSON.stringify(phases)}`);
    });
  const cpu = op.cpuSeconds() - cpuBefore;
  const after = await apiServerRequests(ctx.adminKc);
  writeFileSync(join(ctx.logDir, `${op.name}-${to}-metrics.txt`), await op.metrics());
  const reconciles = (await op.reconciles()) - reconcilesBefore;
  const errors =
    (await op.metric('controller_runtime_reconcile_errors_total', { controller: 'studylab' })) - errorsBefore;
  await labs.stop();
  const byRequest = operatorRequests(diffCounts(after, before), { 'POST studylabs': created });
  const writes = writesIn(byRequest);
  return {
    n,
    reconciledSeconds: round((tReconciled - t0) / 1000, 2),
    readySeconds: round((tReady - t0) / 1000, 2),
    createSeconds: round((tCreated - t0) / 1000, 2),
    reconcilesPerLab: round(reconciles / n, 2),
    reconcileErrors: errors,
    requestsPerLab: perLab(byRequest, n),
    requestsPerLabTotal: round(total(byRequest) / n, 2),
    writesPerLab: round(writes / n, 2),
    cpuMsPerLab: round((cpu * 1000) / n, 2),
  };
}

interface LatencyResult {
  edits: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Sequential spec edits (a new image) on converged labs, each timed from the
 * PATCH until the Deployment shows the new image. Between two edits the lab
 * settles (Ready at its new generation) and the operator goes idle, so each
 * edit is a single change on a quiet plane, not one in a stream.
 */
async function latency(
  ctx: Ctx,
  op: OperatorProcess,
  ns: string,
  n: number,
  edits: number,
): Promise<LatencyResult> {
  const deployments = new NamespaceWatch<V1Deployment>(
    ctx.admin,
    Deployments,
    ns,
    `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
  );
  const labs = new NamespaceWatch<StudyLab>(ctx.admin, StudyLabs, ns);
  await Promise.all([deployments.start(), labs.start()]);
  const samples: number[] = [];
  for (let e = 0; e < edits; e++) {
    const name = labName(e % n);
    const image = `registry.example/studylab/app:edit-${e}`;
    const t0 = performance.now();
    const edited = await ctx.admin.patch<StudyLab>(
      StudyLabs,
      ns,
      name,
      { spec: { app: { image } } },
      { type: 'merge' },
    );
    const t1 = await deployments.until(
      (m) => m.get(name)?.spec?.template?.spec?.containers?.[0]?.image === image,
      30_000,
      `Deployment ${name} with ${image}`,
    );
    samples.push(t1 - t0);
    if (process.env.BENCH_TRACE) log(`edit ${name}: ${(t1 - t0).toFixed(1)} ms`);
    await labs.until(
      (m) => {
        const lab = m.get(name);
        return !!lab && lab.metadata.generation === edited.metadata.generation && labReady(lab);
      },
      30_000,
      `${name} Ready after the edit`,
    );
    await waitIdle(op, 300);
  }
  await Promise.all([deployments.stop(), labs.stop()]);
  return {
    edits,
    p50Ms: round(percentile(samples, 50)!, 1),
    p99Ms: round(percentile(samples, 99)!, 1),
    maxMs: round(Math.max(...samples), 1),
  };
}

interface MemoryResult {
  labs: number;
  rssMiB: number;
  heapMiB: number;
  rssKiBPerLab: number;
  heapKiBPerLab: number;
}

async function memory(
  op: OperatorProcess,
  labs: number,
  baseline: { rss: number; heap: number },
): Promise<MemoryResult> {
  await waitIdle(op);
  const rss = op.rssBytes();
  const heap = await op.heapBytes();
  return {
    labs,
    rssMiB: round(rss / 2 ** 20, 1),
    heapMiB: round(heap / 2 ** 20, 1),
    // Per lab above the operator's own footprint with no lab cached.
    rssKiBPerLab: round((rss - baseline.rss) / 1024 / labs, 2),
    heapKiBPerLab: round((heap - baseline.heap) / 1024 / labs, 2),
  };
}

interface RestartResult {
  labs: number;
  syncedSeconds: number;
  firstReconcileSeconds: number;
  allReconciledSeconds: number;
  /** Writes to the operator's resources while it reconciled every converged lab again. */
  resyncWrites: number;
  resyncRequests: Record<string, number>;
}

async function restart(
  ctx: Ctx,
  old: OperatorProcess,
  ns: string,
  labs: number,
  tag: string,
): Promise<[RestartResult, OperatorProcess]> {
  await old.stop();
  const before = await apiServerRequests(ctx.adminKc);
  const t0 = performance.now();
  const op = await startOperator(ctx, old.name, ns, tag);
  let tSynced: number | undefined;
  let tFirst: number | undefined;
  const tAll = await waitFor(
    `${op.name} to reconcile ${labs} labs after a restart`,
    async () => {
      tSynced ??= (await op.isStarted()) ? performance.now() : undefined;
      const r = await op.reconciles().catch(() => 0);
      if (r >= 1) tFirst ??= performance.now();
      return r >= labs && (await op.queueDepth()) === 0;
    },
    TIMEOUT_MS,
  );
  await waitIdle(op);
  const delta = diffCounts(await apiServerRequests(ctx.adminKc), before);
  const byRequest = operatorRequests(delta);
  const writes = writesIn(byRequest);
  return [
    {
      labs,
      syncedSeconds: round(((tSynced ?? tAll) - t0) / 1000, 2),
      firstReconcileSeconds: round(((tFirst ?? tAll) - t0) / 1000, 2),
      allReconciledSeconds: round((tAll - t0) / 1000, 2),
      resyncWrites: writes,
      resyncRequests: byRequest,
    },
    op,
  ];
}

/**
 * Fairness check: every child the operator made equals what our builders
 * would apply for that lab (intent-hash annotation and every field the intent
 * sets), and the lab's status equals what our status.ts computes from those
 * children (transition times aside).
 */
async function equivalence(
  ctx: Ctx,
  ns: string,
): Promise<{ labs: number; equal: number; mismatches: string[] }> {
  const labs = (await ctx.admin.list<StudyLab>(StudyLabs, { namespace: ns })).items;
  const byName = async <T extends KubeObject>(t: ResourceType): Promise<Map<string, T>> =>
    new Map(
      (await ctx.admin.list<T>(t, { namespace: ns })).items.map((o) => [o.metadata!.name!, o] as [string, T]),
    );
  const [pvcs, deps, svcs, nps] = await Promise.all([
    byName<V1PersistentVolumeClaim>(PersistentVolumeClaims),
    byName<V1Deployment>(Deployments),
    byName<V1Service>(Services),
    byName<KubeObject>(NetworkPolicies),
  ]);
  const mismatches: string[] = [];
  let equal = 0;
  for (const lab of labs) {
    const name = lab.metadata.name!;
    const problems: string[] = [];
    // A claim's hash leaves out what its intent only carries over from the live claim (see withIntentHash).
    const claim = buildPersistentVolumeClaim(lab, pvcs.get(name));
    const live: [string, KubeObject | undefined, KubeObject, readonly string[]][] = [
      ['PersistentVolumeClaim', pvcs.get(name), claim.intent, claim.inherited],
      ['Deployment', deps.get(name), buildDeployment(lab)!, []],
      ['Service', svcs.get(name), buildService(lab)!, []],
      ['NetworkPolicy', nps.get(name), buildNetworkPolicy(lab)!, []],
    ];
    for (const [kind, obj, intent, unhashed] of live) {
      const d = decideApply(withIntentHash(intent, unhashed), obj);
      if (d.apply)
        problems.push(`${kind} ${d.reason}${d.drifted.length ? ` (${d.drifted.join(', ')})` : ''}`);
    }
    const expected = computeStatus(
      lab,
      {
        deployment: deps.get(name),
        service: svcs.get(name),
        pvc: pvcs.get(name),
        problems: [],
        applyErrors: [],
      },
      new Date(),
    );
    const a = canonical(withoutTimes(lab.status));
    const b = canonical(withoutTimes(expected));
    if (a !== b) problems.push(`status differs: ${a} vs ${b}`);
    if (problems.length === 0) equal++;
    else if (mismatches.length < 5) mismatches.push(`${name}: ${problems.join('; ')}`);
  }
  return { labs: labs.length, equal, mismatches };
}

/** JSON with sorted keys: the API server does not keep our key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function withoutTimes(s: StudyLabStatus | undefined): unknown {
  if (!s) return s;
  return {
    ...s,
    conditions: (s.conditions ?? [])
      .map(({ lastTransitionTime: _t, ...c }) => c)
      .sort((x, y) => x.type.localeCompare(y.type)),
  };
}

interface OperatorResults {
  convergence: ConvergenceResult[];
  latency?: LatencyResult;
  memory: MemoryResult[];
  restart?: RestartResult;
  equivalence?: { labs: number; equal: number; mismatches: string[] };
  idle: { rssMiB: number; heapMiB: number };
}

function emptyResults(): OperatorResults {
  return { convergence: [], memory: [], idle: { rssMiB: 0, heapMiB: 0 } };
}

/** An operator kept running after its largest size, to grow its namespace for the memory figures. */
interface Kept {
  op: OperatorProcess;
  ns: string;
  labs: number;
  baseline: { rss: number; heap: number };
}

/**
 * Convergence at size n in a fresh namespace with a fresh process, then at the
 * smallest size equivalence and latency, at the largest memory and restart.
 * Returns the process still running when larger memory sizes are asked for.
 */
async function benchOperatorAt(
  ctx: Ctx,
  name: OperatorName,
  n: number,
  results: OperatorResults,
): Promise<Kept | undefined> {
  const ns = `bench-${name}-${n}`;
  await createNamespace(ctx, ns);
  log(`${name}: starting against ${ns}`);
  let op = await startOperator(ctx, name, ns, `${n}`);
  let kept: Kept | undefined;
  try {
    await waitFor(`${name} started`, () => op.isStarted(), 120_000);
    await waitIdle(op, 1000);
    const baseline = { rss: op.rssBytes(), heap: await op.heapBytes() };
    if (n === SMALLEST)
      results.idle = { rssMiB: round(baseline.rss / 2 ** 20, 1), heapMiB: round(baseline.heap / 2 ** 20, 1) };
    log(`${name}: converging ${n} labs`);
    const conv = await converge(ctx, op, ns, 0, n);
    results.convergence.push(conv);
    log(`${name}: ${n} labs reconciled in ${conv.reconciledSeconds} s, Ready in ${conv.readySeconds} s`);
    if (n === SMALLEST) {
      results.equivalence = await equivalence(ctx, ns);
      log(
        `${name}: children and status as ours for ${results.equivalence.equal}/${results.equivalence.labs} labs`,
      );
      for (const m of results.equivalence.mismatches) log(`${name}:   ${m}`);
      log(`${name}: ${EDITS} single-change edits`);
      await waitIdle(op);
      results.latency = await latency(ctx, op, ns, n, EDITS);
      log(`${name}: latency p50 ${results.latency.p50Ms} ms, p99 ${results.latency.p99Ms} ms`);
    }
    if (n === LARGEST) {
      if (MEMORY_SIZES.includes(n)) results.memory.push(await memory(op, n, baseline));
      log(`${name}: restart with ${n} labs`);
      const [r, restarted] = await restart(ctx, op, ns, n, `${n}-restart`);
      op = restarted;
      results.restart = r;
      log(
        `${name}: restart: first reconcile ${r.firstReconcileSeconds} s, all ${r.allReconciledSeconds} s, ${r.resyncWrites} writes`,
      );
      if (MEMORY_SIZES.some((m) => m > n)) kept = { op, ns, labs: n, baseline };
    }
  } finally {
    if (!kept) await op.stop();
  }
  return kept;
}

/**
 * Grows a kept operator's namespace to each larger memory size and stops it.
 * This runs once every operator has converged the largest size, so no
 * operator's convergence is measured on a plane holding another's 5000 labs.
 */
async function growForMemory(
  ctx: Ctx,
  name: OperatorName,
  kept: Kept,
  results: OperatorResults,
): Promise<void> {
  const { op, ns, baseline } = kept;
  try {
    let have = kept.labs;
    for (const m of MEMORY_SIZES.filter((s) => s > have)) {
      log(`${name}: growing to ${m} labs for memory`);
      await converge(ctx, op, ns, have, m);
      have = m;
      results.memory.push(await memory(op, m, baseline));
      log(`${name}: memory at ${m} labs: RSS ${results.memory.at(-1)!.rssMiB} MiB`);
    }
  } finally {
    await op.stop();
  }
}

/** Waits until every claim in the namespace is Bound, so the claim binder is idle before the next measurement. */
async function claimsBound(ctx: Ctx, ns: string, n: number): Promise<void> {
  const claims = new NamespaceWatch<V1PersistentVolumeClaim>(ctx.admin, PersistentVolumeClaims, ns);
  await claims.start();
  await claims.until(
    (m) => countWhere(m, (c) => c.status?.phase === 'Bound') >= n,
    TIMEOUT_MS,
    `${n} claims Bound in ${ns}`,
  );
  await claims.stop();
}

// --- output -----------------------------------------------------------------------------------------

function groupBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r, i) => {
      const line = r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  ');
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

const fmtVerbs = (o: Record<string, number> | undefined): string =>
  o
    ? Object.entries(o)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
    : '-';

function render(report: Report): string {
  const ops = Object.keys(report.operators) as OperatorName[];
  const header = ['figure', ...ops, 'ceiling'];
  const rows: string[][] = [header];
  const get = (f: (r: OperatorResults) => string | number | undefined): string[] =>
    ops.map((o) => String(f(report.operators[o]!) ?? '-'));
  for (const n of SIZES) {
    const c = report.ceiling.find((x) => x.n === n && x.writes === 'children');
    const labLoop = report.ceiling.find((x) => x.n === n && x.writes === 'lab');
    const conv = (r: OperatorResults) => r.convergence.find((x) => x.n === n);
    rows.push([
      `convergence ${n} labs: all reconciled (s)`,
      ...get((r) => conv(r)?.reconciledSeconds),
      String(c?.seconds ?? '-'),
    ]);
    rows.push([
      `  x raw write ceiling`,
      ...get((r) => (c && conv(r) ? round(conv(r)!.reconciledSeconds / c.seconds, 2) : undefined)),
      '1',
    ]);
    rows.push([
      `  x loop of a lab's every write`,
      ...get((r) =>
        labLoop && conv(r) ? round(conv(r)!.reconciledSeconds / labLoop.seconds, 2) : undefined,
      ),
      labLoop ? `${labLoop.seconds} s` : '-',
    ]);
    rows.push([`convergence ${n} labs: all Ready (s)`, ...get((r) => conv(r)?.readySeconds), '-']);
    rows.push([
      `  x raw write ceiling`,
      ...get((r) => (c && conv(r) ? round(conv(r)!.readySeconds / c.seconds, 2) : undefined)),
      '1',
    ]);
    rows.push([
      `  API requests per lab`,
      ...get((r) => conv(r)?.requestsPerLabTotal),
      String(c ? round(total(c.requestsPerLab), 2) : '-'),
    ]);
    rows.push([
      `  writes per lab`,
      ...get((r) => conv(r)?.writesPerLab),
      String(c ? round(total(c.requestsPerLab), 2) : '-'),
    ]);
    rows.push([`  reconciles per lab`, ...get((r) => conv(r)?.reconcilesPerLab), '-']);
    rows.push([`  operator CPU per lab (ms)`, ...get((r) => conv(r)?.cpuMsPerLab), '-']);
    rows.push([`  reconcile errors`, ...get((r) => conv(r)?.reconcileErrors), '-']);
  }
  rows.push([`resync of ${LARGEST} converged labs: writes`, ...get((r) => r.restart?.resyncWrites), '-']);
  rows.push([`single change p50 (ms), ${EDITS} edits`, ...get((r) => r.latency?.p50Ms), '-']);
  rows.push([`single change p99 (ms)`, ...get((r) => r.latency?.p99Ms), '-']);
  rows.push([
    `memory idle, no lab: RSS / heap (MiB)`,
    ...get((r) => `${r.idle.rssMiB} / ${r.idle.heapMiB}`),
    '-',
  ]);
  for (const m of MEMORY_SIZES) {
    rows.push([
      `memory ${m} labs: RSS / heap (MiB)`,
      ...get((r) => {
        const x = r.memory.find((y) => y.labs === m);
        return x && `${x.rssMiB} / ${x.heapMiB}`;
      }),
      '-',
    ]);
    rows.push([
      `  per lab: RSS / heap (KiB)`,
      ...get((r) => {
        const x = r.memory.find((y) => y.labs === m);
        return x && `${x.rssKiBPerLab} / ${x.heapKiBPerLab}`;
      }),
      '-',
    ]);
  }
  rows.push([`restart ${LARGEST} labs: caches synced (s)`, ...get((r) => r.restart?.syncedSeconds), '-']);
  rows.push([`  first reconcile done (s)`, ...get((r) => r.restart?.firstReconcileSeconds), '-']);
  rows.push([`  all labs reconciled (s)`, ...get((r) => r.restart?.allReconciledSeconds), '-']);
  rows.push([
    `children and status equal to ours`,
    ...get((r) => r.equivalence && `${r.equivalence.equal}/${r.equivalence.labs}`),
    '-',
  ]);
  let out = table(rows);
  out +=
    "\n\nAPI requests per lab during convergence, by verb and resource (apiserver_request_total, the harness's own requests and kube-controller-manager's PUTs left out):\n";
  for (const n of SIZES) {
    for (const o of ops)
      out += `  ${o} ${n}: ${fmtVerbs(report.operators[o]!.convergence.find((x) => x.n === n)?.requestsPerLab)}\n`;
    for (const loop of report.ceiling.filter((x) => x.n === n))
      out += `  ${loopName(loop.writes)} ${n}: ${fmtVerbs(loop.requestsPerLab)}\n`;
  }
  out += `Requests during the resync of ${LARGEST} converged labs, by verb and resource:\n`;
  for (const o of ops) out += `  ${o}: ${fmtVerbs(report.operators[o]!.restart?.resyncRequests)}\n`;
  return out;
}

interface Report {
  date: string;
  quick: boolean;
  options: Record<string, unknown>;
  machine: Record<string, unknown>;
  versions: Record<string, string>;
  ceiling: CeilingResult[];
  operators: Partial<Record<OperatorName, OperatorResults>>;
}

function versions(peerBinary: string): Record<string, string> {
  const sh = (cmd: string, args: string[], cwd = REPO_ROOT): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  };
  const goMod = readFileSync(join(REPO_ROOT, 'bench', 'peers', 'studylab-go', 'go.mod'), 'utf8');
  const required = (m: string): string =>
    new RegExp(`${m.replace(/[./]/g, '\\$&')} (v\\S+)`).exec(goMod)?.[1] ?? '?';
  return {
    node: process.version,
    go: sh('go', ['version']),
    kubernetes: sh('bash', ['-c', 'grep ^KUBERNETES_VERSION hack/testenv/versions.env | cut -d= -f2']),
    studylabCommit: sh('git', ['rev-parse', '--short', 'HEAD']),
    peerModules: `controller-runtime ${required('sigs.k8s.io/controller-runtime')}, client-go ${required('k8s.io/client-go')}`,
    peerBinary,
    ours: 'node dist/src/main.js (compiled with tsc, not tsx)',
  };
}

/** What `kubectl apply -k deploy/` installs, minus the operator's Deployment; returns the ServiceAccount's kubeconfig. */
async function install(c: LocalControlPlane): Promise<string> {
  const objects = renderDeploy(c).filter(
    (o) =>
      !(
        o.kind === 'Deployment' && (o.metadata as { name?: string } | undefined)?.name === 'studylab-operator'
      ),
  );
  kubectl(
    c,
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    objects.map((o) => stringify(o)).join('---\n'),
  );
  kubectl(c, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/studylabs.studylab.io']);
  return (await c.serviceAccountKubeConfig(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, 6 * 3600)).path;
}

// --- main -------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const load = loadavg();
  log(`load average at start: ${load.map((l) => l.toFixed(2)).join(' ')}`);
  if (OPERATORS.includes('ours')) {
    log('compiling ours (tsc to dist/)');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  }
  if (OPERATORS.includes('peer')) log('building the Go peer (cached by hash)');
  const peerBinary = OPERATORS.includes('peer')
    ? execFileSync('bash', [join(REPO_ROOT, 'bench', 'peers', 'build.sh')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }).trim()
    : '';
  log('starting the local control plane');
  const c = await LocalControlPlane.start({
    // kube-controller-manager's client defaults to 20 requests/s per controller; at that rate the claim
    // binder and the Deployment controller, not the operators, would decide when 1000 labs are Ready.
    controllerManagerArgs: ['--kube-api-qps=1000', '--kube-api-burst=2000'],
  });
  const stopPlane = (): void => void c.stop();
  process.once('exit', stopPlane);
  const saKubeconfig = await install(c);
  const saKc = new KubeConfig();
  saKc.loadFromFile(saKubeconfig);
  const logDir = mkdtempSync(join(tmpdir(), 'studylab-bench-'));
  const ctx: Ctx = {
    admin: new Client(c.kubeConfig, { userAgent: 'studylab-bench' }),
    saClient: new Client(saKc, { userAgent: 'studylab-bench-ceiling' }),
    adminKc: c.kubeConfig,
    saKubeconfig,
    peerBinary,
    logDir,
  };
  const report: Report = {
    date: new Date().toISOString(),
    quick: QUICK,
    options: {
      sizes: SIZES,
      memorySizes: MEMORY_SIZES,
      edits: EDITS,
      concurrency: CONCURRENCY,
      createConcurrency: CREATE_CONCURRENCY,
      operators: OPERATORS,
    },
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      kernel: release(),
      loadAverageAtStart: load.map((l) => round(l, 2)),
      note: 'shared machine: other jobs ran at the same time, so figures are noisy',
    },
    versions: versions(peerBinary),
    ceiling: [],
    operators: {},
  };
  const kept = new Map<OperatorName, Kept>();
  try {
    for (const name of OPERATORS) report.operators[name] = emptyResults();
    // The first requests for a new CRD and the first writes of each kind are slow (handlers built,
    // schemas compiled): a small unmeasured ceiling run pays for that before anything is timed.
    log('warming up the API server');
    await ceiling(ctx, 10, 'lab', 'bench-warmup');
    for (const n of SIZES) {
      for (const writes of ['children', 'lab'] as const) {
        const what = loopName(writes);
        log(`${what}: ${n} labs`);
        const r = await ceiling(ctx, n, writes);
        report.ceiling.push(r);
        log(`${what}: ${r.seconds} s (${r.writesPerSecond} writes/s)`);
        await claimsBound(ctx, ceilingNamespace(n, writes), n);
      }
      // The peer goes first (by default): what an earlier run left on the plane weighs on the later one.
      for (const name of OPERATORS) {
        const k = await benchOperatorAt(ctx, name, n, report.operators[name]!);
        if (k) kept.set(name, k);
      }
    }
    // Taken out of `kept` first: growForMemory stops the process, the finally below only what is left.
    for (const [name, k] of [...kept]) {
      kept.delete(name);
      await growForMemory(ctx, name, k, report.operators[name]!);
    }
    report.machine.loadAverageAtEnd = loadavg().map((l) => round(l, 2));
  } finally {
    for (const k of kept.values()) await k.op.stop();
    if (!flags['keep-logs']) rmSync(logDir, { recursive: true, force: true });
    else log(`operator logs kept in ${logDir}`);
    await c.stop();
  }
  const text = render(report);
  process.stdout.write(`\n${text}\n`);
  mkdirSync(flags.out, { recursive: true });
  const file = join(flags.out, `bench-${report.date.replace(/[:.]/g, '-')}${QUICK ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify({ ...report, table: text.split('\n') }, null, 2)}\n`);
  log(`results written to ${file}`);
}

// Interrupted: exit through the 'exit' handlers, which stop the operators and the local plane.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
await main();
