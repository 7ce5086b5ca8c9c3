import { expect } from 'chai';
import fc from 'fast-check';
import { objectKey, requestFromKey, requestKey, requestOf } from '../../src/runtime/keys.js';

/** DNS-1123 labels: what the API server accepts as namespaces and most names (no '/'). */
const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);

describe('keys', function () {
  it('requestKey is namespace/name, or the name alone for a cluster-scoped Request', function () {
    expect(requestKey({ namespace: 'ns', name: 'a' })).to.equal('ns/a');
    expect(requestKey({ name: 'node-1' })).to.equal('node-1');
    expect(requestKey({ namespace: '', name: 'node-1' }), 'an empty namespace is none').to.equal('node-1');
  });

  it('requestFromKey undoes requestKey, for namespaced and cluster-scoped Requests', function () {
    fc.assert(
      fc.property(fc.option(dnsLabel, { nil: undefined }), dnsLabel, (namespace, name) => {
        const req = namespace === undefined ? { name } : { namespace, name };
        expect(requestFromKey(requestKey(req))).to.deep.equal(req);
      }),
    );
  });

  it('an object and the Request naming it have the same key', function () {
    const cm = { kind: 'ConfigMap', metadata: { namespace: 'ns', name: 'a', uid: 'u' } };
    const node = { kind: 'Node', metadata: { name: 'node-1' } };
    expect(requestOf(cm)).to.deep.equal({ namespace: 'ns', name: 'a' });
    expect(requestOf(node)).to.deep.equal({ name: 'node-1' });
    expect(objectKey(cm)).to.equal(requestKey({ namespace: 'ns', name: 'a' }));
    expect(objectKey(node)).to.equal('node-1');
  });

  it('an object without a name has no Request, and objectKey refuses it', function () {
    expect(requestOf({ kind: 'ConfigMap', metadata: { namespace: 'ns' } })).to.equal(undefined);
    expect(() => objectKey({ kind: 'ConfigMap', metadata: { namespace: 'ns' } })).to.throw(
      /ConfigMap has no metadata.name/,
    );
  });
});
