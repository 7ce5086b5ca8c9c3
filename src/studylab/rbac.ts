/**
 * Every permission the operator needs, and nothing more: the source of
 * deploy/base/cluster-role.yaml, the leader-election Role and the roles that
 * read the operator's secure endpoints (`make generate`; a check fails when
 * they are stale). The end-to-end suite
 * runs the operator with exactly these, and asserts it never gets a 403.
 *
 * Deliberately absent: any access to Secrets (env from a Secret is resolved
 * by the kubelet, not by us), `delete` on PersistentVolumeClaims (a user's
 * data is never removed by the operator: garbage collection removes a claim
 * whose lab says Delete).
 *
 * `get` on the children's kinds is there for one read: the caches hold only
 * objects with our labels, so a child the cache lacks is looked up by name
 * before it is created, to find a name taken by someone else's object.
 * `update` on studylabs/finalizers is what the OwnerReferencesPermissionEnforcement
 * admission plugin (OpenShift, some hardened clusters) asks of whoever sets
 * `blockOwnerDeletion: true` on a reference to a StudyLab, as our children do.
 * The admission policy that keeps a lab from asking for more than its author
 * may (deploy/base/admission-policy.yaml) needs nothing of the operator: the
 * API server runs it.
 */
import { DEBUG_DEFAULTS } from '../runtime/debug.js';
import { PROFILING_DEFAULTS } from '../runtime/profiling.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** A rule on paths the API server does not map to resources: the operator's own endpoints. */
export interface NonResourceRule {
  nonResourceURLs: string[];
  verbs: string[];
}

const WATCH = ['list', 'watch'];
/** The cache, plus one read of a child the cache lacks (see above). */
const READ = ['get', ...WATCH];
/** Server-side apply is a PATCH; creating through apply also needs `create`. */
const APPLY = ['create', 'patch'];

export const CLUSTER_RULES: readonly PolicyRule[] = [
  { apiGroups: ['studylab.io'], resources: ['studylabs'], verbs: WATCH },
  { apiGroups: ['studylab.io'], resources: ['studylabs/status'], verbs: ['patch'] },
  { apiGroups: ['studylab.io'], resources: ['studylabs/finalizers'], verbs: ['update'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: [...READ, ...APPLY, 'delete'] },
  { apiGroups: [''], resources: ['services'], verbs: [...READ, ...APPLY, 'delete'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: [...READ, ...APPLY, 'delete'] },
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: [...READ, ...APPLY] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
  // Pods only to explain a lab that is not Ready (the cache holds ours, by label); never written.
  { apiGroups: [''], resources: ['pods'], verbs: [...WATCH] },
  // core/v1 Events only to read a Pending claim's warnings (watched through a field selector: Warnings about claims).
  { apiGroups: [''], resources: ['events'], verbs: [...WATCH] },
  // Nodes only to name the taint a lab's pods do not tolerate (the scheduler's message no longer does).
  { apiGroups: [''], resources: ['nodes'], verbs: ['list'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  // The secure endpoints ask the API server who a caller is and what they may read (delegated-auth.ts).
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
];

/** In the operator's own namespace only. */
export const LEADER_ELECTION_RULES: readonly PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/**
 * Who may read what on the secure server, one ClusterRole each, bound by whoever installs the
 * operator (the Prometheus overlay binds the first to Prometheus). Separate, because they reveal
 * different things: metrics are counts; the debug page shows lab keys and error messages; a heap
 * snapshot holds all the operator's memory, its own token included, so reading one is as strong as
 * being the operator.
 */
export const ENDPOINT_READER_ROLES: Readonly<Record<string, readonly NonResourceRule[]>> = {
  'studylab-metrics-reader': [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }],
  // The page, and under it the live page, its stream and the history (live.ts).
  'studylab-debug-reader': [
    { nonResourceURLs: [DEBUG_DEFAULTS.path, `${DEBUG_DEFAULTS.path}/*`], verbs: ['get'] },
  ],
  'studylab-profiler': [
    { nonResourceURLs: [PROFILING_DEFAULTS.heapPath, PROFILING_DEFAULTS.profilePath], verbs: ['get'] },
  ],
};
