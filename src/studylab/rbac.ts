/**
 * Every permission the operator needs, and nothing more: the source of
 * deploy/base/cluster-role.yaml and the leader-election Role
 * (`make generate`; a check fails when they are stale). The end-to-end suite
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
 */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
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
  // core/v1 Events only to read a Pending claim's warnings (listed with a field selector, never watched).
  { apiGroups: [''], resources: ['events'], verbs: ['list'] },
  // Nodes only to name the taint a lab's pods do not tolerate (the scheduler's message no longer does).
  { apiGroups: [''], resources: ['nodes'], verbs: ['list'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

/** In the operator's own namespace only. */
export const LEADER_ELECTION_RULES: readonly PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];
