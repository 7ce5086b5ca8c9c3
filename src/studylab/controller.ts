/**
 * Wires the StudyLab reconciler into a manager: what it watches and how each
 * event becomes a lab's key in the queue.
 *
 * - StudyLabs, only when their generation changes: status writes (ours) and
 *   metadata edits do not ask for any work.
 * - Deployments, Services, NetworkPolicies it controls: a child's event
 *   enqueues its controller owner, which is how drift gets repaired.
 * - PersistentVolumeClaims by label, not by owner: a retained claim has no
 *   owner reference, and must still be watched.
 * - Pods by label (they are owned by ReplicaSets, not by the lab), and only
 *   when what explains them changed: status says why a lab is not Ready.
 * - Warning Events about claims (claim-events.ts): a Pending claim's last
 *   Warning is why it is Pending, and a new one wakes the claim's lab.
 */
import type { StudyLab } from '../api/v1alpha1/index.js';
import {
  ControllerBuilder,
  Deployments,
  NetworkPolicies,
  PersistentVolumeClaims,
  Pods,
  Services,
  generationChanged,
  type CacheByType,
  type Controller,
  type IndexFunc,
  type KubeObject,
  type Manager,
  type ResourceType,
  type Store,
} from '../runtime/index.js';
import {
  CLAIM_WARNING_INDEX,
  CLAIM_WARNINGS_SELECTOR,
  claimWarningIndex,
  CoreEvents,
  labOfClaimEvent,
  slimClaimEvent,
} from './claim-events.js';
import { labNamedBy, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './labels.js';
import { labOfPod, podExplanationChanged, podLabIndex, POD_LAB_INDEX, slimPod } from './pods.js';
import { registerLabsGauge } from './metrics.js';
import { StudyLabReconciler } from './reconciler.js';
import { StudyLabs } from './resources.js';

export const CONTROLLER_NAME = 'studylab';

/**
 * Cache only the children we label: the operator's memory grows with its labs,
 * not with every Deployment, Service, NetworkPolicy and claim in the cluster.
 * A child someone strips of the label drops out of the cache, which looks like
 * a deletion, and the apply that follows puts the label back.
 */
export const CHILD_CACHE: readonly CacheByType[] = [
  ...[Deployments, Services, NetworkPolicies, PersistentVolumeClaims, Pods].map((type) => ({
    type,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    // A pod is cached as the few fields that explain it (pods.ts): a full pod is many times larger.
    ...(type === Pods && { transform: slimPod }),
  })),
  // Events carry no labels of ours: the API server narrows them to Warnings about claims. It keeps
  // no watch cache of Events, so their watch gets no bookmarks.
  {
    type: CoreEvents,
    fieldSelector: CLAIM_WARNINGS_SELECTOR,
    transform: slimClaimEvent,
    serverSendsBookmarks: false,
  },
];

export interface StudyLabControllerOptions {
  /** @default STUDYLAB_CONTROLLER_DEFAULTS.maxConcurrentReconciles */
  maxConcurrentReconciles?: number;
  /** @default STUDYLAB_CONTROLLER_DEFAULTS.highPriorityWorkers */
  highPriorityWorkers?: number;
}

/**
 * As many workers kept for edits as there are for everything: a storm (a thousand labs created at
 * once) holds every general worker, a quarter of a second per new lab, and an edit then waited for
 * one of them (p99 0.6 s in the bench's create storm). Idle unless someone edits a lab.
 */
export const STUDYLAB_CONTROLLER_DEFAULTS = { maxConcurrentReconciles: 4, highPriorityWorkers: 4 } as const;

export function setupStudyLabController(
  manager: Manager,
  options: StudyLabControllerOptions = {},
): Controller {
  registerLabsGauge(manager.metrics.registry, manager.getStore<StudyLab>(StudyLabs));
  const reconciler = new StudyLabReconciler({
    client: manager.client,
    lister: manager.client,
    events: manager.eventRecorder(`studylab.io/${CONTROLLER_NAME}-controller`),
    caches: {
      labs: manager.getStore<StudyLab>(StudyLabs),
      deployments: manager.getStore(Deployments),
      services: manager.getStore(Services),
      networkPolicies: manager.getStore(NetworkPolicies),
      claims: manager.getStore(PersistentVolumeClaims),
      pods: indexedStore(manager, Pods, POD_LAB_INDEX, podLabIndex),
      claimWarnings: indexedStore(manager, CoreEvents, CLAIM_WARNING_INDEX, claimWarningIndex),
    },
  });
  return new ControllerBuilder(manager, CONTROLLER_NAME)
    .for(StudyLabs, { predicates: [generationChanged] })
    .owns(Deployments)
    .owns(Services)
    .owns(NetworkPolicies)
    .watches(PersistentVolumeClaims, labNamedBy)
    .watches(Pods, labOfPod, { predicates: [podExplanationChanged] })
    .watches(CoreEvents, labOfClaimEvent(manager.getStore(PersistentVolumeClaims)))
    .withOptions({
      maxConcurrentReconciles:
        options.maxConcurrentReconciles ?? STUDYLAB_CONTROLLER_DEFAULTS.maxConcurrentReconciles,
      highPriorityWorkers: options.highPriorityWorkers ?? STUDYLAB_CONTROLLER_DEFAULTS.highPriorityWorkers,
    })
    .complete(reconciler);
}

/** The cache of `type`, with the index the reconciler looks its objects up by. */
function indexedStore(manager: Manager, type: ResourceType, index: string, by: IndexFunc<KubeObject>): Store {
  const store = manager.getStore(type);
  if (!store.hasIndex(index)) store.addIndexer(index, by);
  return store;
}
