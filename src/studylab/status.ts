/**
 * A lab's status, computed from what the reconciler observed: a pure
 * function of the lab, its children as read from the cache, the problems and
 * errors met on the way, and the time.
 *
 * Phase precedence: the first that applies wins, and Ready's reason is the
 * reason that decided it.
 *
 * 1. Paused: spec.paused is true.
 * 2. Invalid: the spec has problems (validation.ts): nothing was applied.
 * 3. Degraded: an object that is not the lab's holds a child's name (nothing
 *    is written to it), a storage change was refused (the rest was applied;
 *    the claim keeps its size, class and modes), an apply failed, the rollout
 *    exceeded its progress deadline, or the claim is Lost.
 * 4. Pending: a child the lab asks for (Deployment, Service, claim) does not
 *    exist yet.
 * 5. Progressing: the rollout is not complete (as `kubectl rollout status`
 *    decides), or the claim is not Bound yet.
 * 6. Ready: none of the above.
 *
 * While the rollout is not complete or the claim not Bound, Ready's reason and
 * message say what blocks the lab, in the terms of its pods and claim
 * (explain.ts: Unschedulable, ImagePullFailed, CrashLoopBackOff...), rather
 * than only that the rollout is in progress; a rollout past its deadline stays
 * Degraded whatever explains it.
 *
 * The children must be passed in every case, paused and invalid labs
 * included: an absent child is reported as missing, never as "not looked at".
 */
import type { V1Deployment, V1PersistentVolumeClaim, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Condition, Phase, StudyLab, StudyLabStatus } from '../api/v1alpha1/index.js';
import { deepEqual } from '../runtime/equality.js';
import { servicePortsOf, serviceTypeOf } from './builders/service.js';
import type { StorageRefusal } from './builders/pvc.js';
import { ConditionType, Reason, nextCondition, type ConditionUpdate } from './conditions.js';
import { explainNotReady, MAX_EXPLANATION_LENGTH, type ClaimWarning } from './explain.js';
import { describeConflicts, type ChildConflict } from './ownership.js';
import { rolloutStateOf } from './rollout.js';
import { joinWords } from './text.js';
import type { Problem } from './validation.js';

/** An apply the API server refused. */
export interface ApplyError {
  /** The child's kind: Deployment, Service... */
  readonly kind: string;
  readonly message: string;
  /** What the API server answered, kept as the cause of the error the reconcile throws. */
  readonly error?: unknown;
}

/**
 * What one reconcile saw and met. Mutable on purpose: the reconciler fills it
 * in as it goes through the children.
 */
export interface Observed {
  /** The lab's Deployment as read from the cache (or returned by the apply); absent when it does not exist. */
  deployment?: V1Deployment;
  service?: V1Service;
  pvc?: V1PersistentVolumeClaim;
  /** validateLab and missingConfigMapReferences results. */
  problems: Problem[];
  /** Applies the API server refused, one per child. */
  applyErrors: ApplyError[];
  /** Children whose name is taken by an object that is not the lab's: nothing was written to them. */
  conflicts?: ChildConflict[];
  /** ClaimPlan.refusal of this reconcile. */
  storageRefusal?: StorageRefusal;
  /** The lab's pods as the cache has them (slimmed), in name order; absent counts as none. */
  pods?: readonly V1Pod[];
  /** The claim's last Warning Event, read only while the claim is Pending. */
  claimWarning?: ClaimWarning;
  /** Taints the pods' nodes have and the pods do not tolerate, read only while the scheduler cites taints. */
  untoleratedTaints?: readonly string[];
}

export interface StatusOptions {
  /** The cluster's DNS domain, for the endpoint. @default DEFAULT_CLUSTER_DOMAIN */
  readonly clusterDomain?: string;
}

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** The phases, highest precedence first. */
export const PHASE_PRECEDENCE: readonly Phase[] = [
  'Paused',
  'Invalid',
  'Degraded',
  'Pending',
  'Progressing',
  'Ready',
];

/** A candidate for the phase, with the reason and message Ready reports if it wins. */
interface Verdict {
  readonly phase: Phase;
  readonly reason: string;
  readonly message: string;
}

/** The lab phase a claim state leads to; a Bound claim leads to none. */
const CLAIM_PHASE: Partial<Record<Reason, Phase>> = {
  [Reason.ClaimNotFound]: 'Pending',
  [Reason.ClaimLost]: 'Degraded',
  [Reason.ClaimPending]: 'Progressing',
};

/** The types computeStatus manages; conditions of other types in the old status are kept as they are. */
const MANAGED_TYPES: ReadonlySet<string> = new Set(Object.values(ConditionType));

/** The new status of `lab`. Deterministic: the same inputs give an equal status (see statusEqual). */
export function computeStatus(
  lab: StudyLab,
  observed: Observed,
  now: Date,
  options: StatusOptions = {},
): StudyLabStatus {
  const generation = lab.metadata.generation;
  const verdicts = [...specVerdicts(lab, observed), ...childVerdicts(lab, observed, now)];
  const phase = decidePhase(verdicts);
  const endpoint = endpointOf(lab, observed.service, options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN);

  const updates: ConditionUpdate[] = [
    readyCondition(phase, lab, observed, endpoint),
    reconciledCondition(lab, observed),
    ...(lab.spec.app
      ? [availableCondition(observed.deployment), progressingCondition(observed.deployment)].map((u) =>
          unlessConflict(u, observed, 'Deployment'),
        )
      : []),
    ...(lab.spec.storage
      ? [
          unlessConflict(
            storageBoundCondition(observed.pvc, lab.metadata.name ?? '', observed.claimWarning),
            observed,
            'PersistentVolumeClaim',
          ),
        ]
      : []),
  ].map((u) => ({ ...u, ...(generation !== undefined && { observedGeneration: generation }) }));

  const previous = lab.status?.conditions ?? [];
  const conditions: Condition[] = [
    ...updates.map((u) =>
      nextCondition(
        previous.find((c) => c.type === u.type),
        u,
        now,
      ),
    ),
    ...previous.filter((c) => !MANAGED_TYPES.has(c.type)).map((c) => ({ ...c })),
  ];

  const deploymentStatus = observed.deployment?.status;
  return {
    ...(generation !== undefined && { observedGeneration: generation }),
    phase: phase.phase,
    ...(lab.spec.app && {
      replicas: deploymentStatus?.replicas ?? 0,
      readyReplicas: deploymentStatus?.readyReplicas ?? 0,
    }),
    ...(endpoint !== undefined && { endpoint }),
    conditions,
  };
}

function decidePhase(verdicts: readonly Verdict[]): Verdict {
  for (const phase of PHASE_PRECEDENCE) {
    const found = verdicts.find((v) => v.phase === phase);
    if (found) return found;
  }
  return { phase: 'Ready', reason: Reason.LabReady, message: '' };
}

/** Verdicts about the spec and the operator's own work. */
function specVerdicts(lab: StudyLab, observed: Observed): Verdict[] {
  const verdicts: Verdict[] = [];
  if (lab.spec.paused) {
    verdicts.push({
      phase: 'Paused',
      reason: Reason.Paused,
      message: 'spec.paused is true: the operator changes nothing until it is false',
    });
  }
  if (observed.problems.length > 0) {
    verdicts.push({ phase: 'Invalid', ...summarizeProblems(observed.problems) });
  }
  const conflicts = observed.conflicts ?? [];
  if (conflicts.length > 0) {
    verdicts.push({ phase: 'Degraded', reason: Reason.ChildConflict, message: describeConflicts(conflicts) });
  }
  if (observed.storageRefusal) {
    verdicts.push({
      phase: 'Degraded',
      reason: observed.storageRefusal.reason,
      message: observed.storageRefusal.message,
    });
  }
  const applyErrors = observed.applyErrors;
  if (applyErrors.length > 0) {
    verdicts.push({
      phase: 'Degraded',
      reason: Reason.ApplyFailed,
      message: describeApplyErrors(applyErrors),
    });
  }
  return verdicts;
}

/** Verdicts about the children as observed. */
function childVerdicts(lab: StudyLab, observed: Observed, now: Date): Verdict[] {
  const name = lab.metadata.name ?? '';
  const verdicts: Verdict[] = [];
  const rollout = lab.spec.app && observed.deployment ? rolloutStateOf(observed.deployment) : undefined;
  if (lab.spec.app && !observed.deployment) {
    verdicts.push({
      phase: 'Pending',
      reason: Reason.DeploymentNotFound,
      message: `Deployment ${name} does not exist yet`,
    });
  }
  if (serviceTypeOf(lab) !== 'None' && !observed.service) {
    verdicts.push({
      phase: 'Pending',
      reason: Reason.ServiceNotFound,
      message: `Service ${name} does not exist yet`,
    });
  }
  let claimPending = false;
  if (lab.spec.storage) {
    const claim = claimStateOf(observed.pvc, name, observed.claimWarning);
    claimPending = claim.reason === Reason.ClaimPending;
    const phase = CLAIM_PHASE[claim.reason];
    if (phase && !claimPending) verdicts.push({ phase, reason: claim.reason, message: claim.message });
  }
  if (claimPending || (rollout && rollout.state !== 'complete')) {
    const blocker = explainNotReady({
      lab,
      ...(lab.spec.app && observed.deployment && { deployment: observed.deployment }),
      ...(lab.spec.storage && observed.pvc && { claim: observed.pvc }),
      pods: lab.spec.app ? (observed.pods ?? []) : [],
      ...(observed.claimWarning && { claimWarning: observed.claimWarning }),
      ...(observed.untoleratedTaints && { untoleratedTaints: observed.untoleratedTaints }),
      now,
    });
    verdicts.push({
      phase: rollout?.state === 'stalled' ? 'Degraded' : 'Progressing',
      reason: blocker?.reason ?? Reason.RolloutInProgress,
      message: blocker?.message ?? rollout?.message ?? '',
    });
  }
  return verdicts;
}

function readyCondition(
  verdict: Verdict,
  lab: StudyLab,
  observed: Observed,
  endpoint: string | undefined,
): ConditionUpdate {
  if (verdict.phase !== 'Ready') {
    return { type: ConditionType.Ready, status: 'False', reason: verdict.reason, message: verdict.message };
  }
  const parts: string[] = [];
  if (lab.spec.app) {
    const s = observed.deployment?.status;
    parts.push(`${s?.readyReplicas ?? 0} of ${observed.deployment?.spec?.replicas ?? 1} pods ready`);
  }
  if (endpoint !== undefined) parts.push(`endpoint ${endpoint}`);
  if (lab.spec.storage) parts.push('storage bound');
  return {
    type: ConditionType.Ready,
    status: 'True',
    reason: Reason.LabReady,
    message: parts.length > 0 ? `the lab is ready: ${parts.join(', ')}` : 'the lab is ready',
  };
}

function reconciledCondition(lab: StudyLab, observed: Observed): ConditionUpdate {
  const type = ConditionType.Reconciled;
  if (lab.spec.paused) {
    return {
      type,
      status: 'False',
      reason: Reason.Paused,
      message: 'spec.paused is true: the children are left as they are',
    };
  }
  if (observed.problems.length > 0) {
    return { type, status: 'False', ...summarizeProblems(observed.problems) };
  }
  const applyErrors = observed.applyErrors;
  const refusal = observed.storageRefusal;
  const conflicts = observed.conflicts ?? [];
  if (conflicts.length > 0 || refusal || applyErrors.length > 0) {
    const messages = [
      ...(conflicts.length > 0 ? [describeConflicts(conflicts)] : []),
      ...(refusal ? [refusal.message] : []),
      ...(applyErrors.length > 0 ? [describeApplyErrors(applyErrors)] : []),
    ];
    const reason =
      conflicts.length > 0 ? Reason.ChildConflict : refusal ? refusal.reason : Reason.ApplyFailed;
    return { type, status: 'False', reason, message: messages.join('; ') };
  }
  const kinds = childKindsOf(lab);
  return {
    type,
    status: 'True',
    reason: Reason.ChildrenApplied,
    message:
      kinds.length > 0
        ? `${joinWords(kinds)} match${kinds.length === 1 ? 'es' : ''} generation ${lab.metadata.generation ?? '?'} of the spec`
        : `nothing to apply for generation ${lab.metadata.generation ?? '?'} of the spec`,
  };
}

/**
 * A condition about a child whose name another object holds says so (Unknown: the lab has no such
 * child to report on), rather than "does not exist", which the user can see is false.
 */
function unlessConflict(update: ConditionUpdate, observed: Observed, kind: string): ConditionUpdate {
  const conflict = observed.conflicts?.find((c) => c.kind === kind);
  if (!conflict) return update;
  return {
    type: update.type,
    status: 'Unknown',
    reason: Reason.ChildConflict,
    message: describeConflicts([conflict]),
  };
}

/** What the Available and Progressing conditions say before the Deployment exists. */
const NO_DEPLOYMENT = { reason: Reason.DeploymentNotFound, message: 'the Deployment does not exist yet' };

function availableCondition(deployment: V1Deployment | undefined): ConditionUpdate {
  const type = ConditionType.Available;
  if (!deployment) return { type, status: 'False', ...NO_DEPLOYMENT };
  const available = deployment.status?.availableReplicas ?? 0;
  const desired = deployment.spec?.replicas ?? 1;
  const counts = `${available} of ${desired} pods available`;
  const cond = deployment.status?.conditions?.find((c) => c.type === 'Available');
  if (cond?.status === 'True') {
    return {
      type,
      status: 'True',
      reason: Reason.MinimumReplicasAvailable,
      message: `the Deployment has minimum availability: ${counts}`,
    };
  }
  if (cond?.status === 'False') {
    return {
      type,
      status: 'False',
      reason: Reason.MinimumReplicasUnavailable,
      message: `the Deployment does not have minimum availability: ${counts}`,
    };
  }
  return {
    type,
    status: 'Unknown',
    reason: Reason.AwaitingDeploymentStatus,
    message: `the Deployment controller has not reported availability yet: ${counts}`,
  };
}

function progressingCondition(deployment: V1Deployment | undefined): ConditionUpdate {
  const type = ConditionType.Progressing;
  if (!deployment) return { type, status: 'Unknown', ...NO_DEPLOYMENT };
  const rollout = rolloutStateOf(deployment);
  switch (rollout.state) {
    case 'progressing':
      return { type, status: 'True', reason: Reason.RolloutInProgress, message: rollout.message };
    case 'stalled':
      return { type, status: 'False', reason: Reason.ProgressDeadlineExceeded, message: rollout.message };
    case 'complete':
      return { type, status: 'False', reason: Reason.RolloutComplete, message: rollout.message };
  }
}

function storageBoundCondition(
  pvc: V1PersistentVolumeClaim | undefined,
  name: string,
  warning: ClaimWarning | undefined,
): ConditionUpdate {
  const claim = claimStateOf(pvc, name, warning);
  return {
    type: ConditionType.StorageBound,
    status: claim.reason === Reason.ClaimBound ? 'True' : 'False',
    reason: claim.reason,
    message: claim.message,
  };
}

function claimStateOf(
  pvc: V1PersistentVolumeClaim | undefined,
  name: string,
  warning?: ClaimWarning,
): { reason: Reason; message: string } {
  if (!pvc) {
    return { reason: Reason.ClaimNotFound, message: `PersistentVolumeClaim ${name} does not exist yet` };
  }
  const volume = pvc.spec?.volumeName;
  switch (pvc.status?.phase) {
    case 'Bound': {
      const capacity = pvc.status.capacity?.storage;
      const requested = pvc.spec?.resources?.requests?.storage;
      const resizing = capacity !== undefined && requested !== undefined && capacity !== requested;
      return {
        reason: Reason.ClaimBound,
        message: `bound to PersistentVolume ${volume ?? '?'}${capacity ? ` with a capacity of ${capacity}` : ''}${resizing ? ` (${requested} requested: expanding)` : ''}`,
      };
    }
    case 'Lost':
      return {
        reason: Reason.ClaimLost,
        message: `the claim lost its PersistentVolume${volume ? ` ${volume}` : ''}: its data cannot be reached`,
      };
    default:
      if (warning) {
        const text = `waiting for a PersistentVolume: ${warning.reason}: ${warning.message.replace(/\s+/g, ' ').trim()}`;
        return {
          reason: Reason.ClaimPending,
          message:
            text.length > MAX_EXPLANATION_LENGTH ? `${text.slice(0, MAX_EXPLANATION_LENGTH - 3)}...` : text,
        };
      }
      return {
        reason: Reason.ClaimPending,
        message:
          'waiting for a PersistentVolume: with a WaitForFirstConsumer StorageClass the claim binds once a pod is scheduled; without a default StorageClass it never does',
      };
  }
}

/**
 * Where to reach the lab, or undefined when it has no Service.
 * - ClusterIP: `<name>.<namespace>.svc.<domain>:<port>` (the first port).
 * - NodePort, LoadBalancer: plus `, node port <n>` once known, and for a
 *   LoadBalancer `, load balancer <ip or hostname>:<port>` once provisioned.
 * - Headless: the DNS name resolves to pod IPs and nothing translates ports,
 *   so the port shown is the pods' (the target port), marked `(headless)`.
 * - ExternalName: the external name.
 */
export function endpointOf(
  lab: StudyLab,
  service: V1Service | undefined,
  clusterDomain = DEFAULT_CLUSTER_DOMAIN,
): string | undefined {
  const type = serviceTypeOf(lab);
  if (type === 'None') return undefined;
  if (type === 'ExternalName') return lab.spec.service?.externalName ?? service?.spec?.externalName;
  const host = `${lab.metadata.name ?? ''}.${lab.metadata.namespace ?? ''}.svc.${clusterDomain}`;
  const port = servicePortsOf(lab)[0];
  if (type === 'Headless') {
    const target = port ? containerPortFor(lab, port.targetPort ?? port.port) : undefined;
    return `${target !== undefined ? `${host}:${target}` : host} (headless)`;
  }
  if (!port) return host;
  let endpoint = `${host}:${port.port}`;
  if (type === 'NodePort' || type === 'LoadBalancer') {
    const live = service?.spec?.ports?.find((p) => p.name === port.name) ?? service?.spec?.ports?.[0];
    const nodePort = live?.nodePort ?? port.nodePort;
    if (nodePort !== undefined) endpoint += `, node port ${nodePort}`;
  }
  if (type === 'LoadBalancer') {
    const ingress = service?.status?.loadBalancer?.ingress?.[0];
    const address = ingress?.ip ?? ingress?.hostname;
    if (address) endpoint += `, load balancer ${address}:${port.port}`;
  }
  return endpoint;
}

/** A targetPort as the pods' port number: a name is looked up in spec.app.ports. */
function containerPortFor(lab: StudyLab, target: number | string): number | undefined {
  if (typeof target === 'number') return target;
  return lab.spec.app?.ports?.find((p) => p.name === target)?.containerPort;
}

/**
 * The part of `status` this operator writes: everything but the conditions of types it does not
 * manage. Under server-side apply the conditions list is a map keyed by type, so leaving another
 * writer's conditions out of our apply leaves them theirs; sending them, with force, would take
 * them over.
 */
export function ownedStatus(status: StudyLabStatus): StudyLabStatus {
  return { ...status, conditions: (status.conditions ?? []).filter((c) => MANAGED_TYPES.has(c.type)) };
}

/**
 * Whether two statuses are the same, so the reconciler writes only a
 * changed one. Nothing is ignored (a new lastTransitionTime or message is a
 * change); object key order is, and so is a key whose value is undefined,
 * which JSON does not carry.
 */
export function statusEqual(a: StudyLabStatus | undefined, b: StudyLabStatus | undefined): boolean {
  return deepEqual(a, b);
}

/**
 * What differs between two statuses, one short line per field or condition, for traces:
 * `phase: Pending -> Ready`, `Ready: False -> True (Available)`.
 */
export function statusChanges(before: StudyLabStatus | undefined, after: StudyLabStatus): string[] {
  const changes: string[] = [];
  const fields = ['observedGeneration', 'phase', 'replicas', 'readyReplicas', 'endpoint'] as const;
  for (const field of fields) {
    const a = before?.[field];
    const b = after[field];
    if (a !== b) changes.push(`${field}: ${String(a ?? '-')} -> ${String(b ?? '-')}`);
  }
  const old = new Map((before?.conditions ?? []).map((c) => [c.type, c]));
  for (const c of after.conditions ?? []) {
    const o = old.get(c.type);
    old.delete(c.type);
    if (o?.status !== c.status || o.reason !== c.reason) {
      changes.push(`${c.type}: ${o?.status ?? '-'} -> ${c.status} (${c.reason})`);
    } else if (!deepEqual(o, c)) {
      changes.push(`${c.type}: ${c.status} (${c.reason}), message or generation updated`);
    }
  }
  for (const type of old.keys()) changes.push(`${type}: removed`);
  return changes;
}

function summarizeProblems(problems: readonly Problem[]): { reason: string; message: string } {
  const reasons = new Set(problems.map((p) => p.reason));
  const [only] = reasons;
  return {
    reason: reasons.size === 1 && only !== undefined ? only : Reason.InvalidSpec,
    message: problems.map((p) => `${p.field}: ${p.message}`).join('; '),
  };
}

function describeApplyErrors(errors: readonly ApplyError[]): string {
  return errors.map((e) => `applying the ${e.kind} failed: ${e.message}`).join('; ');
}

function childKindsOf(lab: StudyLab): string[] {
  return [
    ...(lab.spec.storage ? ['PersistentVolumeClaim'] : []),
    ...(lab.spec.app ? ['Deployment'] : []),
    ...(serviceTypeOf(lab) !== 'None' ? ['Service'] : []),
    ...(lab.spec.networkPolicy ? ['NetworkPolicy'] : []),
  ];
}
