/** Resource types: which REST endpoint serves a kind, and the shape objects of every kind share. */
import type { V1ObjectMeta } from '@kubernetes/client-node';

/** What the client needs to address a kind; the API server's discovery document says the same. */
export interface ResourceType {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Lower-case plural used in URLs: 'deployments'. */
  readonly plural: string;
  readonly namespaced: boolean;
}

/** The shape every Kubernetes object shares; kind-specific fields stay opaque. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  // No index signature on purpose: with one, typed interfaces (V1Deployment, StudyLab) would not be
  // KubeObjects, since TypeScript gives interfaces no implicit index signature.
}

export const Deployments: ResourceType = {
  group: 'apps',
  version: 'v1',
  kind: 'Deployment',
  plural: 'deployments',
  namespaced: true,
};
export const Services: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Service',
  plural: 'services',
  namespaced: true,
};
export const NetworkPolicies: ResourceType = {
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'NetworkPolicy',
  plural: 'networkpolicies',
  namespaced: true,
};
export const PersistentVolumeClaims: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'PersistentVolumeClaim',
  plural: 'persistentvolumeclaims',
  namespaced: true,
};
export const Pods: ResourceType = { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true };
export const Leases: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  plural: 'leases',
  namespaced: true,
};
export const EventsV1: ResourceType = {
  group: 'events.k8s.io',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  namespaced: true,
};
export const ConfigMaps: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  namespaced: true,
};
export const Namespaces: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  namespaced: false,
};

/** Asked by the secure endpoints (delegated-auth.ts): who a bearer token belongs to... */
export const TokenReviews: ResourceType = {
  group: 'authentication.k8s.io',
  version: 'v1',
  kind: 'TokenReview',
  plural: 'tokenreviews',
  namespaced: false,
};
/** ...and whether that user may do what the request does. */
export const SubjectAccessReviews: ResourceType = {
  group: 'authorization.k8s.io',
  version: 'v1',
  kind: 'SubjectAccessReview',
  plural: 'subjectaccessreviews',
  namespaced: false,
};

/** 'apps/v1' for a named group, 'v1' for the core group. */
export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/**
 * The URL path of a collection, an object or one of its subresources:
 * /api/v1/namespaces/ns/configmaps/name, /apis/apps/v1/deployments (all namespaces).
 * Without `namespace` a namespaced kind addresses the collection across all namespaces.
 */
export function resourcePath(
  t: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  if (subresource !== undefined && name === undefined) {
    throw new TypeError(`resourcePath: subresource '${subresource}' needs an object name`);
  }
  if (!t.namespaced && namespace !== undefined) {
    throw new TypeError(`resourcePath: ${t.kind} is cluster-scoped, got namespace '${namespace}'`);
  }
  const parts = [t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`];
  if (namespace !== undefined) parts.push('namespaces', encodeURIComponent(namespace));
  parts.push(t.plural);
  if (name !== undefined) parts.push(encodeURIComponent(name));
  if (subresource !== undefined) parts.push(subresource);
  return parts.join('/');
}
