/**
 * What Kubernetes declares about its own types that @kubernetes/client-node's
 * models leave out: which string fields are resource.Quantity, which lists are
 * atomic or maps, which structs are atomic. Keyed by client-node class name and
 * wire (JSON) field name.
 *
 * Taken from Kubernetes v1.34's api/openapi-spec/swagger.json
 * (`$ref: resource.Quantity`, `x-kubernetes-list-type`,
 * `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`). The list and struct
 * markers cover the types StudyLab embeds; a list not named here gets no
 * marker, which a CRD treats as atomic, the conservative choice.
 */

/** Fields holding resource.Quantity values (directly, or as the values of a map). */
export const QUANTITY_FIELDS: ReadonlySet<string> = new Set([
  'V1ResourceRequirements.limits',
  'V1ResourceRequirements.requests',
  'V1VolumeResourceRequirements.limits',
  'V1VolumeResourceRequirements.requests',
  'V1ResourceFieldSelector.divisor',
  'V1EmptyDirVolumeSource.sizeLimit',
  'V1ContainerStatus.allocatedResources',
  'V1LimitRangeItem.default',
  'V1LimitRangeItem.defaultRequest',
  'V1LimitRangeItem.max',
  'V1LimitRangeItem.maxLimitRequestRatio',
  'V1LimitRangeItem.min',
  'V1NodeStatus.allocatable',
  'V1NodeStatus.capacity',
  'V1PersistentVolumeClaimStatus.allocatedResources',
  'V1PersistentVolumeClaimStatus.capacity',
  'V1PersistentVolumeSpec.capacity',
  'V1PodSpec.overhead',
  'V1ResourceQuotaSpec.hard',
  'V1ResourceQuotaStatus.hard',
  'V1ResourceQuotaStatus.used',
  'V1Overhead.podFixed',
  'V1CSIStorageCapacity.capacity',
  'V1CSIStorageCapacity.maximumVolumeSize',
  'V2HPAScalingRules.tolerance',
  'V2MetricTarget.averageValue',
  'V2MetricTarget.value',
  'V2MetricValueStatus.averageValue',
  'V2MetricValueStatus.value',
]);

export interface ListMarker {
  type: 'atomic' | 'set' | 'map';
  keys?: readonly string[];
}

const ATOMIC: ListMarker = { type: 'atomic' };

export const LIST_MARKERS: ReadonlyMap<string, ListMarker> = new Map([
  ['V1ExecAction.command', ATOMIC],
  ['V1HTTPGetAction.httpHeaders', ATOMIC],
  ['V1NodeAffinity.preferredDuringSchedulingIgnoredDuringExecution', ATOMIC],
  ['V1NodeSelector.nodeSelectorTerms', ATOMIC],
  ['V1NodeSelectorTerm.matchExpressions', ATOMIC],
  ['V1NodeSelectorTerm.matchFields', ATOMIC],
  ['V1NodeSelectorRequirement.values', ATOMIC],
  ['V1PodAffinity.preferredDuringSchedulingIgnoredDuringExecution', ATOMIC],
  ['V1PodAffinity.requiredDuringSchedulingIgnoredDuringExecution', ATOMIC],
  ['V1PodAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution', ATOMIC],
  ['V1PodAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution', ATOMIC],
  ['V1PodAffinityTerm.matchLabelKeys', ATOMIC],
  ['V1PodAffinityTerm.mismatchLabelKeys', ATOMIC],
  ['V1PodAffinityTerm.namespaces', ATOMIC],
  ['V1LabelSelector.matchExpressions', ATOMIC],
  ['V1LabelSelectorRequirement.values', ATOMIC],
  ['V1NetworkPolicyIngressRule.from', ATOMIC],
  ['V1NetworkPolicyIngressRule.ports', ATOMIC],
  ['V1NetworkPolicyEgressRule.to', ATOMIC],
  ['V1NetworkPolicyEgressRule.ports', ATOMIC],
  ['V1IPBlock.except', ATOMIC],
  ['V1Capabilities.add', ATOMIC],
  ['V1Capabilities.drop', ATOMIC],
  // ResourceClaim.name is required, as a map key must be.
  ['V1ResourceRequirements.claims', { type: 'map', keys: ['name'] }],
]);

/** Structs Kubernetes replaces as a whole in a server-side apply merge (`+structType=atomic`). */
export const ATOMIC_STRUCTS: ReadonlySet<string> = new Set([
  'V1ConfigMapKeySelector',
  'V1SecretKeySelector',
  'V1ObjectFieldSelector',
  'V1ResourceFieldSelector',
  'V1FileKeySelector',
  'V1LocalObjectReference',
  'V1LabelSelector',
  'V1NodeSelector',
  'V1NodeSelectorTerm',
]);
