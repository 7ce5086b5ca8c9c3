import { expect } from 'chai';
import type { V1NetworkPolicyEgressRule, V1NetworkPolicyIngressRule } from '@kubernetes/client-node';
import type { NetworkPolicySpec } from '../../../src/api/v1alpha1/index.js';
import { buildNetworkPolicy } from '../../../src/studylab/builders/index.js';
import { deepFreeze, fullLab, ingressRule, LAB_NAME, LAB_NAMESPACE, LAB_UID, labWith } from './fixtures.js';

const INGRESS: V1NetworkPolicyIngressRule[] = [
  ingressRule({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'frontend' } } }],
    ports: [{ protocol: 'TCP', port: 'http' }],
  }),
];
const EGRESS: V1NetworkPolicyEgressRule[] = [
  {
    to: [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
        podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
      },
    ],
    ports: [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ],
  },
];

function build(networkPolicy: NetworkPolicySpec) {
  const np = buildNetworkPolicy(labWith({ app: { image: 'x' }, networkPolicy }));
  if (!np) throw new Error('expected a NetworkPolicy');
  return np;
}

describe('buildNetworkPolicy', function () {
  it('is undefined without spec.networkPolicy', function () {
    expect(buildNetworkPolicy(labWith({ app: { image: 'x' } }))).to.be.undefined;
  });

  describe('object and metadata', function () {
    const np = build({ ingress: [] });

    it('is a networking.k8s.io/v1 NetworkPolicy named after the lab, in its namespace', function () {
      expect(np.apiVersion).to.equal('networking.k8s.io/v1');
      expect(np.kind).to.equal('NetworkPolicy');
      expect(np.metadata!.name).to.equal(LAB_NAME);
      expect(np.metadata!.namespace).to.equal(LAB_NAMESPACE);
    });

    it('carries the labels and the controller reference to the lab', function () {
      expect(np.metadata!.labels!['app.kubernetes.io/managed-by']).to.equal('studylab-operator');
      expect(np.metadata!.ownerReferences).to.deep.equal([
        {
          apiVersion: 'studylab.io/v1alpha1',
          kind: 'StudyLab',
          name: LAB_NAME,
          uid: LAB_UID,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    });

    it("selects the lab's pods with the stable selector labels", function () {
      expect(np.spec!.podSelector).to.deep.equal({
        matchLabels: { 'app.kubernetes.io/name': 'studylab', 'app.kubernetes.io/instance': LAB_NAME },
      });
    });
  });

  describe('policy types and rules', function () {
    it('ingress only: policy type Ingress, the rules, no egress', function () {
      const spec = build({ ingress: INGRESS }).spec!;
      expect(spec.policyTypes).to.deep.equal(['Ingress']);
      expect(spec.ingress).to.deep.equal(INGRESS);
      expect(spec).to.not.have.property('egress');
    });

    it('ingress: [] stays an empty list with policy type Ingress: deny all ingress', function () {
      const spec = build({ ingress: [] }).spec!;
      expect(spec.policyTypes).to.deep.equal(['Ingress']);
      expect(spec).to.have.property('ingress').that.deep.equals([]);
      expect(spec).to.not.have.property('egress');
    });

    it('egress only: policy type Egress, the rules, no ingress (ingress unrestricted)', function () {
      const spec = build({ egress: EGRESS }).spec!;
      expect(spec.policyTypes).to.deep.equal(['Egress']);
      expect(spec.egress).to.deep.equal(EGRESS);
      expect(spec).to.not.have.property('ingress');
    });

    it('egress: [] stays an empty list with policy type Egress: deny all egress', function () {
      const spec = build({ egress: [] }).spec!;
      expect(spec.policyTypes).to.deep.equal(['Egress']);
      expect(spec).to.have.property('egress').that.deep.equals([]);
    });

    it('both: Ingress and Egress, each with its rules', function () {
      const spec = build({ ingress: INGRESS, egress: EGRESS }).spec!;
      expect(spec.policyTypes).to.deep.equal(['Ingress', 'Egress']);
      expect(spec.ingress).to.deep.equal(INGRESS);
      expect(spec.egress).to.deep.equal(EGRESS);
    });

    it('both empty: deny all in both directions', function () {
      const spec = build({ ingress: [], egress: [] }).spec!;
      expect(spec.policyTypes).to.deep.equal(['Ingress', 'Egress']);
      expect(spec.ingress).to.deep.equal([]);
      expect(spec.egress).to.deep.equal([]);
    });
  });

  describe('wire names', function () {
    const PEERS = [{ ipBlock: { cidr: '10.0.0.0/8' } }];

    it('keeps `from` as JSON from the API server has it', function () {
      const rule = build({ ingress: [ingressRule({ from: PEERS })] }).spec!.ingress![0]!;
      expect(rule).to.deep.equal({ from: PEERS });
    });

    it("sends client-node's `_from` as `from`, so a lab built in TypeScript keeps its peers", function () {
      const rule = build({ ingress: [{ _from: PEERS, ports: [{ port: 80 }] }] }).spec!.ingress![0]!;
      expect(rule).to.deep.equal({ from: PEERS, ports: [{ port: 80 }] });
      expect(rule).to.not.have.property('_from');
    });

    it('adds no `from` to a rule without peers (all sources, some ports)', function () {
      const rule = build({ ingress: [{ ports: [{ port: 80 }] }] }).spec!.ingress![0]!;
      expect(rule).to.deep.equal({ ports: [{ port: 80 }] });
    });

    it('survives JSON: what is sent is what was built', function () {
      const np = build({ ingress: INGRESS, egress: EGRESS });
      expect(JSON.parse(JSON.stringify(np))).to.deep.equal(np);
    });
  });

  describe('purity', function () {
    it('builds from a deep-frozen lab, sharing no object with it', function () {
      const lab = deepFreeze(fullLab());
      const np = buildNetworkPolicy(lab)!;
      expect(() => {
        np.spec!.ingress![0]!.ports![0]!.port = 1;
        (np.spec!.ingress![0] as { from?: unknown[] }).from!.push({});
        np.spec!.egress!.push({});
        np.spec!.policyTypes!.push('x');
        np.spec!.podSelector!.matchLabels!.x = 'y';
      }).to.not.throw();
      expect(lab.spec.networkPolicy!.ingress![0]!.ports![0]!.port).to.equal('http');
    });
  });
});
