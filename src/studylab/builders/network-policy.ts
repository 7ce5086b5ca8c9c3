/** The desired NetworkPolicy of a lab: `spec.networkPolicy`'s rules, selecting the lab's pods. */
import type {
  V1NetworkPolicy,
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPeer,
} from '@kubernetes/client-node';
import type { StudyLab } from '../../api/v1alpha1/index.js';
import { selectorLabelsFor } from '../labels.js';
import { childMetadata, copyOf, identityOf } from './metadata.js';

/**
 * The NetworkPolicy the lab asks for, or undefined without `spec.networkPolicy`.
 *
 * policyTypes is written out rather than left to the API server's inference,
 * because the inference gets one case wrong for us: it always adds Ingress.
 * Here Ingress is listed iff `ingress` is set, Egress iff `egress` is set.
 * An empty list is kept as an empty list: `ingress: []` with policy type
 * Ingress denies all ingress, which is what the lab asked for.
 */
export function buildNetworkPolicy(lab: StudyLab): V1NetworkPolicy | undefined {
  const np = lab.spec.networkPolicy;
  if (!np) return undefined;
  const id = identityOf(lab);
  const policyTypes = [...(np.ingress ? ['Ingress'] : []), ...(np.egress ? ['Egress'] : [])];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMetadata(id, true),
    spec: {
      podSelector: { matchLabels: selectorLabelsFor(id.name) },
      policyTypes,
      ...(np.ingress && { ingress: np.ingress.map(toWireIngressRule) }),
      ...(np.egress && { egress: copyOf(np.egress) }),
    },
  };
}

/** An ingress rule with its peers under `from`, the name the API uses. */
type WireIngressRule = Omit<V1NetworkPolicyIngressRule, '_from'> & { from?: V1NetworkPolicyPeer[] };

/**
 * Intents are JSON as the API server reads it (the runtime sends them with
 * JSON.stringify, not client-node's ObjectSerializer). client-node's model
 * names the peers of an ingress rule `_from` (`from` is reserved in its
 * generator), while a lab read from the API server has `from`. A rule that
 * comes with `_from` (a lab built in TypeScript) is given the wire name, or
 * the API server would never see its peers. The result still types as the
 * client-node rule (`from` is an extra property to it), though it has no `_from`.
 */
function toWireIngressRule(rule: V1NetworkPolicyIngressRule): V1NetworkPolicyIngressRule {
  const { _from, ...rest } = rule as V1NetworkPolicyIngressRule & { from?: V1NetworkPolicyPeer[] };
  const { from, ...others } = rest;
  const peers = from ?? _from;
  const wire: WireIngressRule = { ...copyOf(others), ...(peers && { from: copyOf(peers) }) };
  return wire;
}
