import { expect } from 'chai';
import {
  decideApply,
  driftedFields,
  foreignListPaths,
  patchReplacing,
  intentHash,
  withIntentHash,
  INTENT_HASH_ANNOTATION,
} from '../../src/studylab/intent.js';

describe('intent: when a child needs an apply', function () {
  const intent = withIntentHash({
    metadata: { name: 'web', labels: { a: '1' } },
    spec: {
      replicas: 2,
      template: {
        spec: { containers: [{ name: 'app', image: 'nginx:1.27', resources: { requests: { cpu: '0.5' } } }] },
      },
    },
  });

  it('hashes independently of key order', function () {
    expect(intentHash({ a: 1, b: { c: 2, d: 3 } })).to.equal(intentHash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(intentHash({ a: 1 })).to.not.equal(intentHash({ a: 2 }));
  });

  it('does not modify its input when adding the hash', function () {
    const input = { metadata: { name: 'x', annotations: { keep: 'me' } as Record<string, string> } };
    const out = withIntentHash(input);
    expect(input.metadata.annotations).to.deep.equal({ keep: 'me' });
    expect(out.metadata.annotations.keep).to.equal('me');
    expect(out.metadata.annotations[INTENT_HASH_ANNOTATION]).to.match(/^[0-9a-f]{16}$/);
  });

  it('leaves unhashed paths out of the hash, without changing the intent', function () {
    const hashOf = (o: object) =>
      (o as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[
        INTENT_HASH_ANNOTATION
      ];
    const base = { metadata: { name: 'c' }, spec: { size: '1Gi' } };
    const inherited = { metadata: { name: 'c' }, spec: { size: '1Gi', storageClassName: 'standard' } };
    const hashed = withIntentHash(inherited, ['spec.storageClassName']);
    expect(hashed.spec.storageClassName).to.equal('standard');
    expect(hashOf(hashed)).to.equal(hashOf(withIntentHash(base)));
    expect(hashOf(hashed)).to.not.equal(hashOf(withIntentHash(inherited)));
    expect(hashOf(withIntentHash(inherited, ['spec.missing']))).to.equal(hashOf(withIntentHash(inherited)));
  });

  it('applies when the child is absent', function () {
    expect(decideApply(intent, undefined)).to.deep.equal({ apply: true, reason: 'absent', drifted: [] });
  });

  it('skips a live object that carries the intent plus server defaults and other managers\u2019 fields', function () {
    const live = structuredClone(intent) as Record<string, any>;
    live.metadata.uid = 'u1';
    live.metadata.labels.other = 'tool';
    live.metadata.annotations['deployment.kubernetes.io/revision'] = '3';
    live.spec.template.spec.containers[0].imagePullPolicy = 'IfNotPresent';
    live.spec.template.spec.containers[0].resources.requests.cpu = '500m'; // normalised by the API server
    live.status = { readyReplicas: 2 };
    expect(decideApply(intent, live)).to.deep.equal({ apply: false, reason: 'in-sync', drifted: [] });
  });

  it('applies when a field we set was changed by someone else, naming the field', function () {
    const live = structuredClone(intent) as Record<string, any>;
    live.spec.replicas = 5;
    live.spec.template.spec.containers[0].image = 'nginx:latest';
    const d = decideApply(intent, live);
    expect(d.apply).to.be.true;
    expect(d.reason).to.equal('drift');
    expect(d.drifted).to.deep.equal(['spec.replicas', 'spec.template.spec.containers[0].image']);
  });

  it('applies when the intent changed even if no set field differs (a field was dropped from the spec)', function () {
    const live = structuredClone(intent) as Record<string, any>;
    live.metadata.annotations[INTENT_HASH_ANNOTATION] = 'stale';
    expect(decideApply(intent, live)).to.include({ apply: true, reason: 'intent-changed' });
  });

  it('treats an empty list or map as equal to an absent field (the API server drops them)', function () {
    expect(driftedFields({ spec: { ingress: [] } }, { spec: {} })).to.deep.equal([]);
    expect(driftedFields({ spec: { selector: {} } }, { spec: {} })).to.deep.equal([]);
    expect(driftedFields({ spec: { ingress: [{}] } }, { spec: {} })).to.deep.equal(['spec.ingress']);
  });

  it('treats the zero value of a field as equal to an absent field (the API server drops omitempty zeros)', function () {
    const probe = { readinessProbe: { initialDelaySeconds: 0, periodSeconds: 3 } };
    expect(driftedFields(probe, { readinessProbe: { periodSeconds: 3 } })).to.deep.equal([]);
    expect(driftedFields({ env: [{ name: 'A', value: '' }] }, { env: [{ name: 'A' }] })).to.deep.equal([]);
    expect(driftedFields({ spec: { paused: false } }, { spec: {} })).to.deep.equal([]);
    // A zero that is there, or another value where ours is absent, is still compared.
    expect(driftedFields({ a: 0 }, { a: 1 })).to.deep.equal(['a']);
    expect(driftedFields({ a: 1 }, {})).to.deep.equal(['a']);
  });

  it('treats a list of another length as drift', function () {
    expect(driftedFields({ a: [1, 2] }, { a: [1] })).to.deep.equal(['a']);
    expect(driftedFields({ a: [] }, { a: [] })).to.deep.equal([]);
  });

  it('compares quantities only under requests, limits and capacity', function () {
    expect(
      driftedFields({ requests: { memory: '1Gi' } }, { requests: { memory: '1073741824' } }),
    ).to.deep.equal([]);
    expect(driftedFields({ requests: { cpu: '0.067G' } }, { requests: { cpu: '67M' } })).to.deep.equal([]);
    expect(driftedFields({ env: { value: '1' } }, { env: { value: '1.0' } })).to.deep.equal(['env.value']);
  });

  it('compares a quantity written as a number (int-or-string) with the string the API server returns', function () {
    const size = (storage: unknown) => ({ spec: { resources: { requests: { storage } } } });
    expect(driftedFields(size(1073741824), size('1Gi'))).to.deep.equal([]);
    expect(driftedFields({ limits: { cpu: 2 } }, { limits: { cpu: '2' } })).to.deep.equal([]);
    expect(driftedFields(size(1073741824), size('2Gi'))).to.deep.equal(['spec.resources.requests.storage']);
  });

  describe('exclusive lists (Service ports)', function () {
    const svc = { spec: { ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }] } };
    const live = (...ports: object[]) => ({ spec: { ports } });

    it('finds a port someone re-numbered (kubectl edit 80 -> 8081), which an apply would only duplicate', function () {
      expect(
        foreignListPaths(
          'Service',
          svc,
          live({ name: 'http', port: 8081, protocol: 'TCP', targetPort: 'http', nodePort: 30080 }),
        ),
      ).to.deep.equal(['spec.ports']);
    });

    it('finds an extra port another manager added', function () {
      const ports = [
        { name: 'http', port: 80, protocol: 'TCP', targetPort: 'http', nodePort: 30080 },
        { name: 'debug', port: 6060 },
      ];
      expect(foreignListPaths('Service', svc, live(...ports))).to.deep.equal(['spec.ports']);
    });

    it('finds nothing when every live port is one of ours plus server defaults', function () {
      expect(
        foreignListPaths(
          'Service',
          svc,
          live({ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http', nodePort: 30080 }),
        ),
      ).to.deep.equal([]);
      expect(foreignListPaths('Service', svc, undefined)).to.deep.equal([]);
      expect(foreignListPaths('Deployment', svc, live({ port: 1 }))).to.deep.equal([]);
    });

    it('builds the merge patch that replaces just that list', function () {
      expect(patchReplacing(svc, 'spec.ports')).to.deep.equal({ spec: { ports: svc.spec.ports } });
    });
  });
});
