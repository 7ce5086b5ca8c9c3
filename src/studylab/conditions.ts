/**
 * The conditions a lab reports, and helpers that follow the Kubernetes API
 * conventions for metav1.Condition: one entry per type, `lastTransitionTime`
 * changes only when `status` does, `observedGeneration` says which spec the
 * condition describes, and reasons are CamelCase words a program can match.
 *
 * | type         | True means                                   | present when     |
 * | ------------ | -------------------------------------------- | ---------------- |
 * | Ready        | the lab is as asked and serving (phase Ready)| always           |
 * | Reconciled   | every child was applied for this generation  | always           |
 * | Available    | the Deployment has minimum availability      | spec.app is set  |
 * | Progressing  | a rollout is under way                       | spec.app is set  |
 * | StorageBound | the claim is bound to a volume               | spec.storage set |
 *
 * `kubectl wait --for=condition=Ready studylab/<name>` is the way to wait for a lab.
 */
import type { Condition } from '../api/v1alpha1/index.js';

export const ConditionType = {
  /** The summary: True exactly when phase is Ready. Its reason is the one that decided the phase. */
  Ready: 'Ready',
  /** Whether the operator made every child match this generation of the spec. */
  Reconciled: 'Reconciled',
  /** The lab's Deployment has minimum availability (its own Available condition). */
  Available: 'Available',
  /** A rollout of the Deployment is under way; decided the way `kubectl rollout status` decides. */
  Progressing: 'Progressing',
  /** The lab's PersistentVolumeClaim is Bound. */
  StorageBound: 'StorageBound',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Reasons, by the condition type they appear on. Ready reuses the reason that decided the phase. */
export const Reason = {
  // Ready
  /** Ready True: everything is as asked. */
  LabReady: 'LabReady',
  /** Ready False: a Service the lab asks for does not exist yet. */
  ServiceNotFound: 'ServiceNotFound',
  /** Ready False: a pod cannot be scheduled; the message is the scheduler's (explain.ts). */
  Unschedulable: 'Unschedulable',
  /** Ready False: a container's image cannot be pulled (ErrImagePull or ImagePullBackOff); the message names the image. */
  ImagePullFailed: 'ImagePullFailed',
  /** Ready False: a container keeps crashing; the message gives its last exit code and reason. */
  CrashLoopBackOff: 'CrashLoopBackOff',
  /** Ready False: a container runs but its readiness probe does not pass. */
  ReadinessFailing: 'ReadinessFailing',

  // Ready and Reconciled
  /** spec.paused is true: the operator changes nothing. */
  Paused: 'Paused',
  /** The spec has problems (several reasons); the message lists them. A single problem reports its own reason. */
  InvalidSpec: 'InvalidSpec',
  /** The API server refused an apply; the message names the child and the error. */
  ApplyFailed: 'ApplyFailed',
  /** An object that is not the lab's holds a child's name; the message names it and says why. Nothing is written to it. */
  ChildConflict: 'ChildConflict',

  // Events only
  /** Children were created; the note names them all. */
  Created: 'Created',
  /** Children were updated to a new generation of the spec; the note names them all. */
  Updated: 'Updated',

  // Reconciled (storage refusals report their own StorageRefusalReason)
  /** Reconciled True: every child was applied as asked. */
  ChildrenApplied: 'ChildrenApplied',

  // Available
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  /** The lab's Deployment does not exist (yet). */
  DeploymentNotFound: 'DeploymentNotFound',
  /** The Deployment exists but its controller has not reported on it yet. */
  AwaitingDeploymentStatus: 'AwaitingDeploymentStatus',

  // Progressing
  /** Progressing True: new pods are being rolled out or old ones removed. */
  RolloutInProgress: 'RolloutInProgress',
  /** Progressing False: every pod runs the current template and is available. */
  RolloutComplete: 'RolloutComplete',
  /** Progressing False: the Deployment made no progress within progressDeadlineSeconds. */
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',

  // StorageBound
  ClaimBound: 'ClaimBound',
  /** The claim waits for a volume (with WaitForFirstConsumer, for a pod to be scheduled). */
  ClaimPending: 'ClaimPending',
  /** The claim's volume is gone: the data is not reachable. */
  ClaimLost: 'ClaimLost',
  /** The claim does not exist (yet). */
  ClaimNotFound: 'ClaimNotFound',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** A condition as a caller states it: lastTransitionTime is decided by nextCondition. */
export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

/** The schema's limit on a condition message; longer ones are cut, or the status write would be rejected. */
export const MAX_CONDITION_MESSAGE_LENGTH = 32768;

/**
 * The condition `update` makes of `previous` (the same type, or none): lastTransitionTime is kept when
 * the status did not change, and is `now` when it did or the condition is new.
 */
export function nextCondition(
  previous: Condition | undefined,
  update: ConditionUpdate,
  now: Date,
): Condition {
  return {
    type: update.type,
    status: update.status,
    ...(update.observedGeneration !== undefined && { observedGeneration: update.observedGeneration }),
    lastTransitionTime:
      previous && previous.status === update.status ? previous.lastTransitionTime : formatConditionTime(now),
    reason: update.reason,
    message: truncateMessage(update.message),
  };
}

/** RFC 3339 in UTC with second precision, as metav1.Time serializes. */
function formatConditionTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function truncateMessage(message: string): string {
  if (message.length <= MAX_CONDITION_MESSAGE_LENGTH) return message;
  const marker = '... (truncated)';
  return message.slice(0, MAX_CONDITION_MESSAGE_LENGTH - marker.length) + marker;
}
