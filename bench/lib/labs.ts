/**
 * The lab the bench creates, and how: the same spec for every operator and write loop, created
 * with many requests in flight, so every figure is for the same shape and the creation rate is
 * the harness's, not the operator's.
 */
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { StudyLab, StudyLabSpec } from '../../src/api/v1alpha1/index.js';
import {
  Deployments,
  NetworkPolicies,
  PersistentVolumeClaims,
  Services,
  type KubeObject,
  type ResourceType,
} from '../../src/runtime/index.js';
import {
  buildDeployment,
  buildNetworkPolicy,
  buildPersistentVolumeClaim,
  buildService,
} from '../../src/studylab/builders/index.js';
import { StudyLabs } from '../../src/studylab/resources.js';
import type { Bench } from './plane.js';
import { countWhere, NamespaceWatch } from './watch.js';

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

export const labName = (i: number): string => `lab-${String(i).padStart(5, '0')}`;

export interface ChildIntent {
  type: ResourceType;
  intent: KubeObject;
  /** Fields the intent only carries over from the live object, which its hash leaves out (see withIntentHash). */
  unhashed: readonly string[];
}

/**
 * A lab's four children as our builders make them: what the write loops apply, and what every
 * operator's children are compared with. `liveClaim` is the claim as it is, which a claim's intent
 * carries some fields over from.
 */
export function childIntents(lab: StudyLab, liveClaim?: V1PersistentVolumeClaim): ChildIntent[] {
  const claim = buildPersistentVolumeClaim(lab, liveClaim);
  return [
    { type: PersistentVolumeClaims, intent: claim.intent, unhashed: claim.inherited },
    { type: Deployments, intent: buildDeployment(lab)!, unhashed: [] },
    { type: Services, intent: buildService(lab)!, unhashed: [] },
    { type: NetworkPolicies, intent: buildNetworkPolicy(lab)!, unhashed: [] },
  ];
}

/** Creates labs [from, to) with the options' createConcurrency requests in flight; calls `created` with each. */
export async function createLabs(
  bench: Bench,
  namespace: string,
  from: number,
  to: number,
  created?: (lab: StudyLab) => void,
): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      const lab = await bench.plane.admin.create<StudyLab>(StudyLabs, {
        apiVersion: 'studylab.io/v1alpha1',
        kind: 'StudyLab',
        metadata: { name: labName(i), namespace },
        spec: benchLabSpec(i),
      });
      created?.(lab);
    }
  };
  await Promise.all(Array.from({ length: bench.options.createConcurrency }, worker));
}

/** Waits until every claim in the namespace is Bound, so the claim binder is idle before the next measurement. */
export async function claimsBound(bench: Bench, ns: string, n: number): Promise<void> {
  const claims = new NamespaceWatch<V1PersistentVolumeClaim>(bench.plane.admin, PersistentVolumeClaims, ns);
  await claims.start();
  await claims.until(
    (m) => countWhere(m, (c) => c.status?.phase === 'Bound') >= n,
    bench.options.timeoutMs,
    `${n} claims Bound in ${ns}`,
  );
  await claims.stop();
}
