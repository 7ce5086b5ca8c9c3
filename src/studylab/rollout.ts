/**
 * Where a Deployment's rollout stands, read as `kubectl rollout status` reads it. Its own module
 * because two readers need it: status.ts (the Ready condition) and explain.ts (why a lab waits).
 */
import type { V1Deployment } from '@kubernetes/client-node';

/** Where a rollout stands: the same checks, in the same order, as `kubectl rollout status`. */
export interface RolloutState {
  readonly state: 'complete' | 'progressing' | 'stalled';
  readonly message: string;
}

/**
 * `kubectl rollout status` logic: until the Deployment controller has observed
 * the current generation nothing is known; then a Progressing condition with
 * reason ProgressDeadlineExceeded means stalled; then the rollout is complete
 * once every desired pod is updated, no old pod remains, and every updated pod
 * is available.
 *
 * Caveat, the same as kubectl's: pods that fail after a complete rollout make
 * it "progressing" again (available < updated), not stalled; the Deployment
 * only times out while it rolls out.
 */
export function rolloutStateOf(deployment: V1Deployment): RolloutState {
  const generation = deployment.metadata?.generation ?? 0;
  const s = deployment.status ?? {};
  if (generation > (s.observedGeneration ?? 0)) {
    return {
      state: 'progressing',
      message: `waiting for the Deployment controller to observe generation ${generation}`,
    };
  }
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      state: 'stalled',
      message: `the rollout exceeded its progress deadline${progressing.message ? `: ${progressing.message}` : ''}`,
    };
  }
  const updated = s.updatedReplicas ?? 0;
  const desired = deployment.spec?.replicas;
  if (desired !== undefined && updated < desired) {
    return { state: 'progressing', message: `rolling out: ${updated} of ${desired} new pods updated` };
  }
  const total = s.replicas ?? 0;
  if (total > updated) {
    return { state: 'progressing', message: `rolling out: ${total - updated} old pods pending termination` };
  }
  const available = s.availableReplicas ?? 0;
  if (available < updated) {
    return {
      state: 'progressing',
      message: `rolling out: ${available} of ${updated} updated pods available`,
    };
  }
  return { state: 'complete', message: `rolled out: ${updated} of ${updated} pods updated and available` };
}
