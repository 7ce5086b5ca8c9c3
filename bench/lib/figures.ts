/**
 * The figures and how they are taken: the operators' requests to the API server by verb and
 * resource (from kube-apiserver's own apiserver_request_total, so both operators are counted the
 * same way whatever their client library), writes per lab, RSS and heap, and whether what an
 * operator made equals what our builders and status.ts would make (the fairness check: a faster
 * operator that made something else would prove nothing).
 */
import type { V1Deployment, V1PersistentVolumeClaim, V1Service } from '@kubernetes/client-node';
import type { StudyLab, StudyLabStatus } from '../../src/api/v1alpha1/index.js';
import {
  Deployments,
  NetworkPolicies,
  PersistentVolumeClaims,
  Services,
  type KubeObject,
  type ResourceType,
} from '../../src/runtime/index.js';
import { decideApply, withIntentHash } from '../../src/studylab/intent.js';
import { StudyLabs } from '../../src/studylab/resources.js';
import { computeStatus } from '../../src/studylab/status.js';
import { childIntents } from './labs.js';
import type { OperatorProcess } from './operator-process.js';
import type { Plane, PlaneComponent } from './plane.js';
import { diffCounts, groupCounts, type RequestKey } from './stats.js';
import { apiServerRequests } from './watch.js';

// --- requests and writes ---------------------------------------------------------------------------

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
 * What ours only reads, to explain a lab: core Events (a Pending claim's Warnings), pods, nodes.
 * Their writes are other components' (the PV controller's Events, the scheduler's and kwok's pods).
 * Ours listed a Pending claim's Events on every reconcile until 2026-12-07, and no figure showed it.
 */
const OPERATOR_READ_ONLY = new Set(['core/events', 'core/pods', 'core/nodes']);
const READ_VERBS = new Set(['GET', 'LIST', 'WATCH']);
/**
 * kube-controller-manager updates Deployment status and binds claims with PUT
 * (Update); neither operator ever sends a PUT (they apply, patch, create
 * Events and delete), so PUTs are left out of the operators' figures.
 */
const operatorRequest = (k: RequestKey): boolean => {
  const resource = `${k.group || 'core'}/${k.resource}`;
  if (OPERATOR_READ_ONLY.has(resource)) return READ_VERBS.has(k.verb);
  return OPERATOR_RESOURCES.has(resource) && k.verb !== 'PUT';
};
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'UPDATE', 'CREATE']);

/** `APPLY studylabs/status`: a verb and what it was sent to, so a status write is told apart from a child's. */
const verbAndResource = (k: RequestKey): string =>
  `${k.verb} ${k.resource}${k.subresource ? `/${k.subresource}` : ''}`;
const isWrite = (verbAndResourceKey: string): boolean => WRITE_VERBS.has(verbAndResourceKey.split(' ')[0]!);
export const writesIn = (byRequest: Record<string, number>): number =>
  Object.entries(byRequest)
    .filter(([k]) => isWrite(k))
    .reduce((a, [, c]) => a + c, 0);

/** Requests the harness itself made, by verbAndResource, to subtract from the API server's counts. */
export type Own = Record<string, number>;

/**
 * Counts the operators' requests from now on: `take` returns them by verb and resource since the
 * call, less `own` (what the harness sent on the same resources, such as the labs it created).
 */
export async function countRequests(
  plane: Plane,
): Promise<{ take: (own?: Own) => Promise<Record<string, number>> }> {
  const before = await apiServerRequests(plane.adminKc);
  return {
    take: async (own = {}) => {
      const delta = diffCounts(await apiServerRequests(plane.adminKc), before);
      const byRequest = groupCounts(delta, verbAndResource, operatorRequest);
      for (const [key, n] of Object.entries(own)) byRequest[key] = (byRequest[key] ?? 0) - n;
      for (const k of Object.keys(byRequest)) if (byRequest[k] === 0) delete byRequest[k];
      return byRequest;
    },
  };
}

export const perLab = (byRequest: Record<string, number>, n: number): Record<string, number> =>
  Object.fromEntries(Object.entries(byRequest).map(([k, v]) => [k, round(v / n, 2)]));
export const total = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);
export const round = (v: number, digits = 0): number => Math.round(v * 10 ** digits) / 10 ** digits;

// --- what each loop yields ---------------------------------------------------------------------------

/** What a write loop sends per lab: its 4 children, or every write a lab's promises cost. */
export type LoopWrites = 'children' | 'lab';

/** How a write loop is called in the log and the table. */
export const loopName = (writes: LoopWrites): string =>
  writes === 'children' ? 'ceiling' : 'lab-writes loop';

export interface CeilingResult {
  n: number;
  /** 'children' is the raw write ceiling; 'lab' adds the status writes and Events of a lab. */
  writes: LoopWrites;
  seconds: number;
  writesPerSecond: number;
  requestsPerLab: Record<string, number>;
}

export interface ConvergenceResult {
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
  /**
   * The plane's CPU time over the same span, per lab: what the operator's requests and watches cost
   * the API server and etcd, and the controller manager's work on the children. On two cores the
   * plane's CPU, not the operator's, is what runs out first.
   */
  planeCpuMsPerLab: Record<PlaneComponent, number>;
  /**
   * With more than one operator, each size is converged twice per operator, in both orders (A B B A):
   * each run here, with its place in its pass (1 = the first operator to converge in that pass).
   * The figures above are then the mean of these runs.
   */
  passes?: ConvergencePass[];
}

export type ConvergencePass = Omit<ConvergenceResult, 'passes'> & { position: number };

export interface LatencyResult {
  edits: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface MemoryResult {
  labs: number;
  rssMiB: number;
  heapMiB: number;
  rssKiBPerLab: number;
  heapKiBPerLab: number;
  /** The API server's and etcd's RSS at that moment: they hold every lab of the run so far, of both operators. */
  plane?: { apiServerMiB: number; etcdMiB: number };
}

/** Labs added to a converged namespace (from -> to), timed as a convergence is. */
export interface GrowthResult extends ConvergenceResult {
  from: number;
  to: number;
}

/**
 * Spec edits made while the operator is busy with many labs, each timed from its PATCH until the
 * Deployment shows the new image: what a user waits for during a storm.
 */
export interface StormResult {
  /** Labs the operator worked through: converged labs it restarted onto, or labs created at once. */
  labs: number;
  edits: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** How long the storm lasted: started -> every lab reconciled once (restart), first create -> all reconciled (create). */
  seconds: number;
}

/** A restart onto converged labs with one way of listing: what it cost us and the API server. */
export interface ListModeResult {
  mode: 'paginate' | 'stream';
  labs: number;
  syncedSeconds: number;
  allReconciledSeconds: number;
  /** Our process's peak RSS from its start until every lab was reconciled (VmHWM). */
  peakRssMiB: number;
  /** The API server's peak RSS over the same span (its VmHWM, reset when the restart began). */
  apiServerPeakRssMiB: number;
}

export interface RestartResult {
  labs: number;
  syncedSeconds: number;
  firstReconcileSeconds: number;
  allReconciledSeconds: number;
  /** Writes to the operator's resources while it reconciled every converged lab again. */
  resyncWrites: number;
  resyncRequests: Record<string, number>;
}

export interface EquivalenceResult {
  labs: number;
  equal: number;
  mismatches: string[];
}

export interface OperatorResults {
  convergence: ConvergenceResult[];
  latency?: LatencyResult;
  memory: MemoryResult[];
  /** The restart onto the most labs of the run (10 000 in a full run); every restart is in `restarts`. */
  restart?: RestartResult;
  /** Every restart, by labs: at the largest convergence size, during the storm, at the largest memory size. */
  restarts: RestartResult[];
  /** Each growth of the namespace to a larger memory size. */
  growth: GrowthResult[];
  storm: { restart?: StormResult; create?: StormResult };
  /** Ours only: the restart onto the most labs with each way of listing. */
  listModes?: ListModeResult[];
  equivalence?: EquivalenceResult;
  idle: { rssMiB: number; heapMiB: number };
}

export function emptyResults(): OperatorResults {
  return {
    convergence: [],
    memory: [],
    restarts: [],
    growth: [],
    storm: {},
    idle: { rssMiB: 0, heapMiB: 0 },
  };
}

// --- memory --------------------------------------------------------------------------------------------

/** RSS (from /proc) and live heap (from the operator's /metrics), in bytes. */
export interface Footprint {
  rss: number;
  heap: number;
}

export async function footprint(op: OperatorProcess): Promise<Footprint> {
  return { rss: op.rssBytes(), heap: await op.heapBytes() };
}

/** Memory at `labs` cached labs, and per lab above the operator's footprint with no lab (`baseline`). */
export async function memory(op: OperatorProcess, labs: number, baseline: Footprint): Promise<MemoryResult> {
  const { rss, heap } = await footprint(op);
  return {
    labs,
    rssMiB: round(rss / 2 ** 20, 1),
    heapMiB: round(heap / 2 ** 20, 1),
    rssKiBPerLab: round((rss - baseline.rss) / 1024 / labs, 2),
    heapKiBPerLab: round((heap - baseline.heap) / 1024 / labs, 2),
  };
}

// --- equivalence ---------------------------------------------------------------------------------------

/**
 * Fairness check: every child the operator made equals what our builders
 * would apply for that lab (intent-hash annotation and every field the intent
 * sets), and the lab's status equals what our status.ts computes from those
 * children (transition times aside).
 */
export async function equivalence(plane: Plane, ns: string): Promise<EquivalenceResult> {
  const labs = (await plane.admin.list<StudyLab>(StudyLabs, { namespace: ns })).items;
  const byName = async <T extends KubeObject>(t: ResourceType): Promise<Map<string, T>> =>
    new Map(
      (await plane.admin.list<T>(t, { namespace: ns })).items.map(
        (o) => [o.metadata!.name!, o] as [string, T],
      ),
    );
  const [pvcs, deps, svcs, nps] = await Promise.all([
    byName<V1PersistentVolumeClaim>(PersistentVolumeClaims),
    byName<V1Deployment>(Deployments),
    byName<V1Service>(Services),
    byName<KubeObject>(NetworkPolicies),
  ]);
  const live = new Map<ResourceType, Map<string, KubeObject>>([
    [PersistentVolumeClaims, pvcs],
    [Deployments, deps],
    [Services, svcs],
    [NetworkPolicies, nps],
  ]);
  const mismatches: string[] = [];
  let equal = 0;
  for (const lab of labs) {
    const name = lab.metadata.name!;
    const problems: string[] = [];
    for (const { type, intent, unhashed } of childIntents(lab, pvcs.get(name))) {
      const d = decideApply(withIntentHash(intent, unhashed), live.get(type)!.get(name));
      if (d.apply)
        problems.push(`${type.kind} ${d.reason}${d.drifted.length ? ` (${d.drifted.join(', ')})` : ''}`);
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
