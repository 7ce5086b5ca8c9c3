/**
 * The lab's pods, as the status needs them: why a lab is not Ready is mostly
 * written in its pods (the scheduler's message, the kubelet's waiting reasons),
 * not in its Deployment.
 *
 * Pods are the largest and busiest objects the operator looks at (a full pod is
 * several kilobytes, and its status changes at every probe or restart), so the
 * cache keeps a slim copy (slimPod) and only status-relevant changes wake the
 * lab (podExplanationChanged).
 */
import type { V1ContainerState, V1ContainerStatus, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import type { StudyLab } from '../api/v1alpha1/index.js';
import type { KubeObject, Predicate, StoreReader } from '../runtime/index.js';
import { deepEqual } from '../runtime/equality.js';
import { objectKey, requestKey } from '../runtime/keys.js';
import { INSTANCE_LABEL, labNamedBy, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './labels.js';

/** The pods index: a pod is filed under `namespace/<instance label>`, the key of the lab it belongs to. */
export const POD_LAB_INDEX = 'studylab-lab';

/** The key of the lab a pod belongs to, by our labels; none for a pod we do not manage. */
export function labKeyOfPod(pod: KubeObject): string | undefined {
  const labels = pod.metadata?.labels ?? {};
  const instance = labels[INSTANCE_LABEL];
  const namespace = pod.metadata?.namespace;
  if (labels[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE || !instance || !namespace) return undefined;
  return requestKey({ namespace, name: instance });
}

/** For the pods store: file a pod under its lab's key. */
export function podLabIndex(pod: KubeObject): string[] {
  const key = labKeyOfPod(pod);
  return key ? [key] : [];
}

/** A pod wakes the lab named by its instance label (pods are owned by ReplicaSets, not by the lab). */
export const labOfPod = labNamedBy;

/**
 * The lab's pods from the cache, in name order (so "the first pod" is the same pod on every reconcile).
 * By code unit, not localeCompare: pod names are ASCII, and the first localeCompare pulls node's ICU
 * collation data in (3 MiB of RSS for the life of the process).
 */
export function podsOfLab(store: StoreReader, lab: StudyLab): V1Pod[] {
  const nameOf = (pod: V1Pod): string => pod.metadata?.name ?? '';
  return (store.byIndex(POD_LAB_INDEX, objectKey(lab)) as V1Pod[]).sort((a, b) =>
    nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0,
  );
}

/**
 * What the cache keeps of a pod: identity and labels (to map it to its lab),
 * deletionTimestamp (a terminating pod explains nothing), phase, conditions
 * without their times, and per container its image, readiness, restart count
 * and the reasons and exit codes of its states. Dropped: the spec, managed
 * fields, annotations, IPs, timestamps and every free-text message but the
 * scheduler's (a container's termination message is written by the app
 * itself and may hold anything, secrets included).
 */
export function slimPod(obj: KubeObject): KubeObject {
  const pod = obj as V1Pod;
  const m = pod.metadata ?? {};
  const s = pod.status;
  const slim: V1Pod = {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.labels && { labels: m.labels }),
      ...(m.deletionTimestamp && { deletionTimestamp: m.deletionTimestamp }),
    },
  };
  if (s) {
    slim.status = {
      ...(s.phase && { phase: s.phase }),
      ...(s.conditions && { conditions: s.conditions.map(slimCondition) }),
      ...(s.initContainerStatuses && { initContainerStatuses: s.initContainerStatuses.map(slimContainer) }),
      ...(s.containerStatuses && { containerStatuses: s.containerStatuses.map(slimContainer) }),
    };
  }
  return slim;
}

function slimCondition(c: V1PodCondition): V1PodCondition {
  return {
    type: c.type,
    status: c.status,
    ...(c.reason && { reason: c.reason }),
    // Only the scheduler's message is kept: it is the explanation of an Unschedulable pod.
    ...(c.type === 'PodScheduled' && c.message && { message: c.message }),
  };
}

function slimContainer(c: V1ContainerStatus): V1ContainerStatus {
  return {
    name: c.name,
    image: c.image,
    ready: c.ready,
    restartCount: c.restartCount,
    ...(c.started !== undefined && { started: c.started }),
    ...(c.state && { state: slimState(c.state) }),
    ...(c.lastState && { lastState: slimState(c.lastState) }),
  } as V1ContainerStatus;
}

function slimState(s: V1ContainerState): V1ContainerState {
  return {
    ...(s.waiting && { waiting: { ...(s.waiting.reason && { reason: s.waiting.reason }) } }),
    // startedAt tells a readiness probe still in its grace period from a failing one.
    ...(s.running && { running: s.running.startedAt ? { startedAt: s.running.startedAt } : {} }),
    ...(s.terminated && {
      terminated: {
        exitCode: s.terminated.exitCode,
        ...(s.terminated.reason && { reason: s.terminated.reason }),
        ...(s.terminated.signal !== undefined && { signal: s.terminated.signal }),
      },
    }),
  };
}

/**
 * Pod updates pass only when what slimPod keeps changed, resourceVersion aside:
 * a kubelet heartbeat or an IP assignment changes a pod, not its explanation.
 * Restart counts are kept (and so pass): a reconcile costs no write unless the
 * status it computes differs, and the status holds no counter.
 */
export const podExplanationChanged: Predicate<KubeObject> = {
  update: (oldO, newO) =>
    !deepEqual((oldO as V1Pod).status ?? {}, (newO as V1Pod).status ?? {}) ||
    !deepEqual(oldO.metadata?.labels ?? {}, newO.metadata?.labels ?? {}) ||
    oldO.metadata?.deletionTimestamp !== newO.metadata?.deletionTimestamp,
};
