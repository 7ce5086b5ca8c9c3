/**
 * Why a lab is not Ready, in the terms of the topic it teaches: the first thing
 * blocking it, found in its claim, its pods and its Deployment. A pure
 * function of what the cache holds (plus the claim's last Warning Event, which
 * the reconciler reads when the claim is Pending).
 *
 * The order, first match wins:
 *
 * 1. ClaimPending: the claim is not Bound (with its last Warning Event, e.g.
 *    the provisioner's "storageclass ... not found").
 * 2. Unschedulable: a pod cannot be scheduled (the scheduler's message: which
 *    nodes failed which predicate, taints named).
 * 3. ImagePullFailed: a container's image cannot be pulled (the image named).
 * 4. CrashLoopBackOff: a container keeps crashing (its last exit code and reason).
 * 5. ReadinessFailing: a container runs but its readiness probe does not pass,
 *    longer than the probe's grace (initialDelaySeconds + periodSeconds x
 *    failureThreshold): a pod that is merely starting is not failing.
 * 6. ProgressDeadlineExceeded: the rollout is past its progress deadline.
 *
 * Guarantees: the message is at most MAX_EXPLANATION_LENGTH characters, holds
 * no counter that moves with each restart (restart counts, timestamps, the
 * number of failing pods) so a crash loop costs no status write per restart,
 * and repeats no free text a container wrote (a termination message may hold
 * anything, secrets included). Pods are looked at in name order, so the same
 * pods always give the same explanation.
 */
import type {
  V1ContainerStatus,
  V1Deployment,
  V1Node,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Taint,
  V1Toleration,
} from '@kubernetes/client-node';
import type { StudyLab } from '../api/v1alpha1/index.js';
import { Reason } from './conditions.js';
import { rolloutStateOf } from './rollout.js';

/** A Warning Event seen on the claim (from the PV controller or an external provisioner). */
export interface ClaimWarning {
  readonly reason: string;
  readonly message: string;
}

export interface ExplainInput {
  readonly lab: StudyLab;
  readonly deployment?: V1Deployment;
  readonly claim?: V1PersistentVolumeClaim;
  /** The lab's pods (slimPod is enough), in name order. */
  readonly pods: readonly V1Pod[];
  /** The claim's last Warning Event, when the claim is Pending and one was read. */
  readonly claimWarning?: ClaimWarning;
  /** The time, to tell a readiness probe still in its grace period from one that fails. */
  readonly now: Date;
  /**
   * Taints of the nodes the pods may go to (by their nodeSelector) that the pods
   * do not tolerate, as `key=value:Effect`, when the reconciler read them: the
   * scheduler's message says only "had untolerated taint(s)" since Kubernetes 1.32.
   */
  readonly untoleratedTaints?: readonly string[];
}

export interface Blocker {
  readonly reason: BlockingReason;
  readonly message: string;
}

/** The blocking reasons, in the order they are looked for. */
export const BLOCKING_REASONS = [
  Reason.ClaimPending,
  Reason.Unschedulable,
  Reason.ImagePullFailed,
  Reason.CrashLoopBackOff,
  Reason.ReadinessFailing,
  Reason.ProgressDeadlineExceeded,
] as const;
export type BlockingReason = (typeof BLOCKING_REASONS)[number];

/** Short enough for one or two lines of a terminal, in `kubectl get slab -o wide` and `describe`. */
export const MAX_EXPLANATION_LENGTH = 256;

/** The kubelet's waiting reasons for an image it cannot get. ErrImagePull and ImagePullBackOff alternate. */
const IMAGE_PULL_REASONS: ReadonlySet<string> = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
]);

/** The first thing keeping the lab from Ready, or undefined when nothing in this list does. */
export function explainNotReady(input: ExplainInput): Blocker | undefined {
  const pods = input.pods.filter((p) => !p.metadata?.deletionTimestamp);
  const found =
    claimBlocker(input) ??
    firstOf(pods, (pod) => unschedulable(pod, input.untoleratedTaints ?? [])) ??
    firstOf(pods, imagePullFailure) ??
    firstOf(pods, crashLoop) ??
    firstOf(pods, (pod) => readinessFailure(pod, input.lab, input.now)) ??
    deadlineBlocker(input.deployment);
  return found && { reason: found.reason, message: boundMessage(found.message) };
}

function claimBlocker({ claim, claimWarning }: ExplainInput): Blocker | undefined {
  if (!claim || claim.status?.phase === 'Bound' || claim.status?.phase === 'Lost') return undefined;
  const name = claim.metadata?.name ?? '';
  const warning = claimWarning ? `: ${claimWarning.reason}: ${oneLine(claimWarning.message)}` : '';
  return {
    reason: Reason.ClaimPending,
    message: warning
      ? `PersistentVolumeClaim ${name} is Pending${warning}`
      : `PersistentVolumeClaim ${name} is Pending: no PersistentVolume is bound to it yet`,
  };
}

function unschedulable(pod: V1Pod, untoleratedTaints: readonly string[]): Blocker | undefined {
  const message = schedulerMessageOf(pod);
  if (message === undefined) return undefined;
  const why = schedulerSummary(message);
  const named = untoleratedTaints.slice(0, MAX_TAINTS_NAMED).join(', ');
  const more = untoleratedTaints.length > MAX_TAINTS_NAMED ? ', ...' : '';
  const taints = named && mentionsTaints(message) ? `; not tolerated: ${named}${more}` : '';
  return {
    reason: Reason.Unschedulable,
    message: `pod ${podName(pod)} cannot be scheduled${why ? `: ${why}` : ''}${taints}`,
  };
}

/** The scheduler's message of an Unschedulable pod; undefined for a pod that is not. */
export function schedulerMessageOf(pod: V1Pod): string | undefined {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status !== 'False' || scheduled.reason !== 'Unschedulable') return undefined;
  return scheduled.message ?? '';
}

/** Whether the scheduler turned a node down for a taint (its message no longer says which). */
export function mentionsTaints(schedulerMessage: string): boolean {
  return schedulerMessage.includes('untolerated taint');
}

const MAX_TAINTS_NAMED = 3;

function imagePullFailure(pod: V1Pod): Blocker | undefined {
  const c = containersOf(pod).find((s) => IMAGE_PULL_REASONS.has(s.state?.waiting?.reason ?? ''));
  if (!c) return undefined;
  // The waiting reason is left out on purpose: the kubelet alternates ErrImagePull and ImagePullBackOff.
  return {
    reason: Reason.ImagePullFailed,
    message: `pod ${podName(pod)}: container ${c.name} cannot pull image "${c.image}" (kubectl describe pod shows the registry's answer)`,
  };
}

function crashLoop(pod: V1Pod): Blocker | undefined {
  const c = containersOf(pod).find(isCrashing);
  if (!c) return undefined;
  const last = c.state?.terminated ?? c.lastState?.terminated;
  const exit = last ? `: last exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}` : '';
  return {
    reason: Reason.CrashLoopBackOff,
    message: `pod ${podName(pod)}: container ${c.name} keeps crashing${exit}`,
  };
}

/**
 * A container in CrashLoopBackOff, and also one between two crashes (just
 * terminated, or started again but not ready yet): the state cycles through
 * all three, and the explanation must not change with it.
 */
function isCrashing(c: V1ContainerStatus): boolean {
  if (c.state?.waiting?.reason === 'CrashLoopBackOff') return true;
  if (c.ready || c.restartCount === 0) return false;
  const last = c.state?.terminated ?? c.lastState?.terminated;
  return last !== undefined && (last.exitCode !== 0 || last.reason === 'OOMKilled');
}

function readinessFailure(pod: V1Pod, lab: StudyLab, now: Date): Blocker | undefined {
  const graceMs = readinessGraceMs(lab);
  if (graceMs === undefined || pod.status?.phase !== 'Running') return undefined;
  const c = (pod.status.containerStatuses ?? []).find(
    (s) => unreadySince(s) !== undefined && now.getTime() - unreadySince(s)! >= graceMs,
  );
  if (!c) return undefined;
  return {
    reason: Reason.ReadinessFailing,
    message: `pod ${podName(pod)}: container ${c.name} is running but not ready: its readiness probe does not pass`,
  };
}

/** When a running, started, unready container started; undefined for any other container. */
function unreadySince(c: V1ContainerStatus): number | undefined {
  const started = c.state?.running?.startedAt;
  if (c.ready || c.started === false || started === undefined) return undefined;
  const at = new Date(started).getTime();
  return Number.isNaN(at) ? undefined : at;
}

/**
 * How long the kubelet may take to find a container ready: the first probe after
 * initialDelaySeconds, then failureThreshold failures periodSeconds apart. No
 * readiness probe: a running container is ready at once, so no grace is known.
 */
function readinessGraceMs(lab: StudyLab): number | undefined {
  const probe = lab.spec.app?.probes?.readiness;
  if (!probe) return undefined;
  return (
    ((probe.initialDelaySeconds ?? 0) + (probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3)) * 1000
  );
}

/**
 * When a container still within its readiness grace will have exhausted it:
 * nothing announces that moment (the kubelet writes no pod status while a
 * probe keeps failing), so the reconciler looks again then.
 */
export function readinessRecheckMs(lab: StudyLab, pods: readonly V1Pod[], now: Date): number | undefined {
  const graceMs = readinessGraceMs(lab);
  if (graceMs === undefined) return undefined;
  let soonest: number | undefined;
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running') continue;
    for (const c of pod.status.containerStatuses ?? []) {
      const since = unreadySince(c);
      if (since === undefined) continue;
      const left = since + graceMs - now.getTime();
      if (left > 0 && (soonest === undefined || left < soonest)) soonest = left;
    }
  }
  return soonest;
}

function deadlineBlocker(deployment: V1Deployment | undefined): Blocker | undefined {
  if (!deployment) return undefined;
  const rollout = rolloutStateOf(deployment);
  if (rollout.state !== 'stalled') return undefined;
  return { reason: Reason.ProgressDeadlineExceeded, message: rollout.message };
}

function firstOf(pods: readonly V1Pod[], test: (pod: V1Pod) => Blocker | undefined): Blocker | undefined {
  for (const pod of pods) {
    const found = test(pod);
    if (found) return found;
  }
  return undefined;
}

function containersOf(pod: V1Pod): V1ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

function podName(pod: V1Pod): string {
  return pod.metadata?.name ?? '?';
}

/**
 * The scheduler's first sentence, "0/3 nodes are available: 3 node(s) didn't
 * match Pod's node affinity/selector", without what its other phases append
 * ("no new claims to deallocate, preemption: 0/3 nodes are available: 3
 * Preemption is not helpful for scheduling."), which says nothing about the pod.
 */
export function schedulerSummary(message: string): string {
  const text = oneLine(message);
  const sentence = /^\d+\/\d+ nodes are available: /.test(text) ? text.indexOf('. ') : -1;
  const cut = sentence >= 0 ? sentence : text.indexOf(' preemption:');
  return (cut >= 0 ? text.slice(0, cut) : text).replace(/[.,]$/, '');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function boundMessage(message: string): string {
  if (message.length <= MAX_EXPLANATION_LENGTH) return message;
  return `${message.slice(0, MAX_EXPLANATION_LENGTH - 3)}...`;
}

/**
 * The taints of `nodes` that `tolerations` do not tolerate and that keep pods
 * off (NoSchedule, NoExecute), as `key=value:Effect`, sorted and distinct. The
 * matching rules are the scheduler's (v1.Toleration.ToleratesTaint).
 */
export function untoleratedTaintsOf(
  nodes: readonly V1Node[],
  tolerations: readonly V1Toleration[],
): string[] {
  const found = new Set<string>();
  for (const node of nodes) {
    for (const taint of node.spec?.taints ?? []) {
      if (taint.effect === 'PreferNoSchedule') continue;
      if (tolerations.some((t) => tolerates(t, taint))) continue;
      found.add(`${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`);
    }
  }
  return [...found].sort();
}

function tolerates(t: V1Toleration, taint: V1Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (t.operator === 'Exists') return true;
  // Equal is the default operator; an empty key only goes with Exists.
  return Boolean(t.key) && (t.value ?? '') === (taint.value ?? '');
}
