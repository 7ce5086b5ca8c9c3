import { expect } from 'chai';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { DEFAULTS, type StorageSpec } from '../../../src/api/v1alpha1/index.js';
import {
  BuilderInputError,
  buildPersistentVolumeClaim,
  StorageRefusalReason,
} from '../../../src/studylab/builders/index.js';
import { deepFreeze, fullLab, LAB_NAME, LAB_NAMESPACE, LAB_UID, labWith } from './fixtures.js';
import { INTENT_HASH_ANNOTATION, withIntentHash } from '../../../src/studylab/intent.js';

const OWNER = {
  apiVersion: 'studylab.io/v1alpha1',
  kind: 'StudyLab',
  name: LAB_NAME,
  uid: LAB_UID,
  controller: true,
  blockOwnerDeletion: true,
};

function plan(storage: StorageSpec, existing?: V1PersistentVolumeClaim) {
  return buildPersistentVolumeClaim(labWith({ app: { image: 'x' }, storage }), existing);
}

/** A claim as the API server returns it, with the fields the decisions read. */
function claim(spec: {
  size?: string;
  storageClassName?: string;
  accessModes?: string[];
}): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: LAB_NAME, namespace: LAB_NAMESPACE, uid: 'claim-uid', ownerReferences: [OWNER] },
    spec: {
      accessModes: spec.accessModes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: spec.size ?? '1Gi' } },
      ...(spec.storageClassName !== undefined && { storageClassName: spec.storageClassName }),
      volumeName: 'pvc-123',
      volumeMode: 'Filesystem',
    },
    status: { phase: 'Bound', capacity: { storage: spec.size ?? '1Gi' } },
  };
}

describe('buildPersistentVolumeClaim', function () {
  describe('a new claim', function () {
    const { intent, refusals, refusal, expansion } = plan({ size: '1Gi' });

    it('is a v1 PersistentVolumeClaim named after the lab, in its namespace, with the labels', function () {
      expect(intent.apiVersion).to.equal('v1');
      expect(intent.kind).to.equal('PersistentVolumeClaim');
      expect(intent.metadata!.name).to.equal(LAB_NAME);
      expect(intent.metadata!.namespace).to.equal(LAB_NAMESPACE);
      expect(intent.metadata!.labels).to.deep.equal({
        'app.kubernetes.io/name': 'studylab',
        'app.kubernetes.io/instance': LAB_NAME,
        'app.kubernetes.io/managed-by': 'studylab-operator',
      });
    });

    it('requests the size', function () {
      expect(intent.spec!.resources).to.deep.equal({ requests: { storage: '1Gi' } });
    });

    it('has the default access modes', function () {
      expect(intent.spec!.accessModes).to.deep.equal([...DEFAULTS.accessModes]);
      expect(intent.spec!.accessModes).to.deep.equal(['ReadWriteOnce']);
    });

    it('has no storageClassName when the lab names none (the default class applies)', function () {
      expect(intent.spec).to.not.have.property('storageClassName');
    });

    it('sets only the fields we own', function () {
      expect(Object.keys(intent.spec!).sort()).to.deep.equal(['accessModes', 'resources']);
      expect(intent).to.not.have.property('status');
    });

    it('decides nothing: no refusal, no expansion', function () {
      expect(refusals).to.deep.equal([]);
      expect(refusal).to.be.undefined;
      expect(expansion).to.be.undefined;
    });

    it('sets storageClassName and access modes when given', function () {
      const p = plan({
        size: '5Gi',
        storageClassName: 'fast',
        accessModes: ['ReadWriteMany', 'ReadOnlyMany'],
      });
      expect(p.intent.spec).to.deep.equal({
        accessModes: ['ReadWriteMany', 'ReadOnlyMany'],
        resources: { requests: { storage: '5Gi' } },
        storageClassName: 'fast',
      });
    });
  });

  describe('retention and owner references', function () {
    it('Delete: the claim is controlled by the lab', function () {
      expect(plan({ size: '1Gi', retentionPolicy: 'Delete' }).intent.metadata!.ownerReferences).to.deep.equal(
        [OWNER],
      );
    });

    it('Retain: no ownerReferences field at all (not an empty list)', function () {
      expect(plan({ size: '1Gi', retentionPolicy: 'Retain' }).intent.metadata).to.not.have.property(
        'ownerReferences',
      );
    });

    it('Retain is the default', function () {
      expect(DEFAULTS.retentionPolicy).to.equal('Retain');
      expect(plan({ size: '1Gi' }).intent.metadata).to.not.have.property('ownerReferences');
    });

    it('Delete -> Retain: the intent for a claim we own omits the reference, which SSA then removes', function () {
      const existing = claim({});
      expect(existing.metadata!.ownerReferences).to.deep.equal([OWNER]);
      const p = plan({ size: '1Gi', retentionPolicy: 'Retain' }, existing);
      expect(p.intent.metadata).to.not.have.property('ownerReferences');
      expect(p.refusals).to.deep.equal([]);
    });

    it('Retain -> Delete: an adopted claim gets the reference', function () {
      const existing = claim({});
      delete existing.metadata!.ownerReferences;
      expect(
        plan({ size: '1Gi', retentionPolicy: 'Delete' }, existing).intent.metadata!.ownerReferences,
      ).to.deep.equal([OWNER]);
    });
  });

  describe('size against an existing claim', function () {
    it('the same size: applied, no decision', function () {
      const p = plan({ size: '1Gi' }, claim({ size: '1Gi' }));
      expect(p.intent.spec!.resources!.requests!.storage).to.equal('1Gi');
      expect(p.refusals).to.deep.equal([]);
      expect(p.expansion).to.be.undefined;
    });

    it('the same size written differently (1024Mi vs 1Gi): no expansion, no refusal', function () {
      const p = plan({ size: '1024Mi' }, claim({ size: '1Gi' }));
      expect(p.refusals).to.deep.equal([]);
      expect(p.expansion).to.be.undefined;
    });

    it('decimal sizes that floats get wrong (0.067G vs 67M) compare equal', function () {
      const p = plan({ size: '0.067G' }, claim({ size: '67M' }));
      expect(p.refusals).to.deep.equal([]);
      expect(p.expansion).to.be.undefined;
    });

    it('an increase is applied and reported as an expansion', function () {
      const p = plan({ size: '2Gi' }, claim({ size: '1Gi' }));
      expect(p.intent.spec!.resources!.requests!.storage).to.equal('2Gi');
      expect(p.expansion).to.deep.equal({ from: '1Gi', to: '2Gi' });
      expect(p.refusals).to.deep.equal([]);
    });

    it('a decrease is refused: the claim keeps its size', function () {
      const p = plan({ size: '512Mi' }, claim({ size: '1Gi' }));
      expect(p.intent.spec!.resources!.requests!.storage).to.equal('1Gi');
      expect(p.expansion).to.be.undefined;
      expect(p.refusals).to.have.length(1);
      expect(p.refusal).to.deep.equal(p.refusals[0]);
      expect(p.refusal!.field).to.equal('spec.storage.size');
      expect(p.refusal!.reason).to.equal(StorageRefusalReason.ShrinkRefused);
      expect(p.refusal!.reason).to.equal('StorageShrinkRefused');
      expect(p.refusal!.message).to.include('512Mi').and.include('1Gi').and.include('cannot shrink');
    });

    it('a decrease across units (1G < 1Gi) is refused', function () {
      const p = plan({ size: '1G' }, claim({ size: '1Gi' }));
      expect(p.refusal!.reason).to.equal(StorageRefusalReason.ShrinkRefused);
      expect(p.intent.spec!.resources!.requests!.storage).to.equal('1Gi');
    });

    it('a size that cannot be compared keeps the claim size and is refused', function () {
      const p = plan({ size: '1Gi' }, claim({ size: 'a lot' }));
      expect(p.intent.spec!.resources!.requests!.storage).to.equal('a lot');
      expect(p.refusal!.reason).to.equal(StorageRefusalReason.SizeNotComparable);
      expect(p.refusal!.field).to.equal('spec.storage.size');
    });

    it('an existing claim without a request takes the size as asked', function () {
      const existing = claim({});
      delete existing.spec!.resources;
      const p = plan({ size: '3Gi' }, existing);
      expect(p.intent.spec!.resources!.requests!.storage).to.equal('3Gi');
      expect(p.refusals).to.deep.equal([]);
    });
  });

  describe('storage class against an existing claim', function () {
    it('the same class: kept, no refusal', function () {
      const p = plan({ size: '1Gi', storageClassName: 'fast' }, claim({ storageClassName: 'fast' }));
      expect(p.intent.spec!.storageClassName).to.equal('fast');
      expect(p.refusals).to.deep.equal([]);
    });

    it('another class is refused: the claim keeps its own', function () {
      const p = plan({ size: '1Gi', storageClassName: 'slow' }, claim({ storageClassName: 'fast' }));
      expect(p.intent.spec!.storageClassName).to.equal('fast');
      expect(p.refusal!.reason).to.equal(StorageRefusalReason.StorageClassChangeRefused);
      expect(p.refusal!.reason).to.equal('StorageClassChangeRefused');
      expect(p.refusal!.field).to.equal('spec.storage.storageClassName');
      expect(p.refusal!.message).to.include('"fast"').and.include('"slow"').and.include('immutable');
    });

    it('no class in the lab: the claim keeps the class it has (a default filled in, or one applied before), no refusal', function () {
      const p = plan({ size: '1Gi' }, claim({ storageClassName: 'standard' }));
      expect(p.intent.spec!.storageClassName).to.equal('standard');
      expect(p.refusals).to.deep.equal([]);
    });

    it('marks a class kept only from the claim as inherited, so it stays out of the intent hash', function () {
      const fresh = plan({ size: '1Gi' });
      const bound = plan({ size: '1Gi' }, claim({ storageClassName: 'standard' }));
      expect(fresh.inherited).to.deep.equal([]);
      expect(bound.inherited).to.deep.equal(['spec.storageClassName']);
      const hashOf = (p: typeof fresh, unhashed: readonly string[]) =>
        withIntentHash(p.intent, unhashed).metadata!.annotations![INTENT_HASH_ANNOTATION];
      // The first apply (no class yet) and the next reconcile (class filled in) carry the same hash.
      expect(hashOf(bound, bound.inherited)).to.equal(hashOf(fresh, fresh.inherited));
      expect(hashOf(bound, [])).to.not.equal(hashOf(fresh, []));
    });

    it("a class the lab names is not inherited, even when it equals the claim's", function () {
      expect(
        plan({ size: '1Gi', storageClassName: 'fast' }, claim({ storageClassName: 'fast' })).inherited,
      ).to.deep.equal([]);
    });

    it('a class for a claim that has none is refused, and the intent names none', function () {
      const p = plan({ size: '1Gi', storageClassName: 'fast' }, claim({}));
      expect(p.intent.spec).to.not.have.property('storageClassName');
      expect(p.refusal!.reason).to.equal(StorageRefusalReason.StorageClassChangeRefused);
      expect(p.refusal!.message).to.include('without a StorageClass');
    });

    it('the empty class ("" = no dynamic provisioning) is a class like the others', function () {
      const p = plan({ size: '1Gi', storageClassName: 'fast' }, claim({ storageClassName: '' }));
      expect(p.intent.spec!.storageClassName).to.equal('');
      expect(p.refusal!.reason).to.equal(StorageRefusalReason.StorageClassChangeRefused);
    });
  });

  describe('access modes against an existing claim', function () {
    it('the same modes in another order: no refusal, the claim order kept', function () {
      const p = plan(
        { size: '1Gi', accessModes: ['ReadOnlyMany', 'ReadWriteMany'] },
        claim({ accessModes: ['ReadWriteMany', 'ReadOnlyMany'] }),
      );
      expect(p.refusals).to.deep.equal([]);
      expect(p.intent.spec!.accessModes).to.deep.equal(['ReadWriteMany', 'ReadOnlyMany']);
    });

    it('other modes are refused: the claim keeps its own', function () {
      const p = plan(
        { size: '1Gi', accessModes: ['ReadWriteMany'] },
        claim({ accessModes: ['ReadWriteOnce'] }),
      );
      expect(p.intent.spec!.accessModes).to.deep.equal(['ReadWriteOnce']);
      expect(p.refusal!.reason).to.equal(StorageRefusalReason.AccessModesChangeRefused);
      expect(p.refusal!.reason).to.equal('AccessModesChangeRefused');
      expect(p.refusal!.field).to.equal('spec.storage.accessModes');
      expect(p.refusal!.message).to.include('ReadWriteOnce').and.include('ReadWriteMany');
    });

    it('the default modes count as asked: ReadWriteOnce against a ReadWriteMany claim is refused', function () {
      const p = plan({ size: '1Gi' }, claim({ accessModes: ['ReadWriteMany'] }));
      expect(p.refusal!.reason).to.equal(StorageRefusalReason.AccessModesChangeRefused);
      expect(p.intent.spec!.accessModes).to.deep.equal(['ReadWriteMany']);
    });
  });

  describe('several refusals at once', function () {
    const p = plan(
      { size: '100Mi', storageClassName: 'slow', accessModes: ['ReadWriteMany'] },
      claim({ size: '1Gi', storageClassName: 'fast', accessModes: ['ReadWriteOnce'] }),
    );

    it('lists each refusal', function () {
      expect(p.refusals.map((r) => r.reason)).to.deep.equal([
        'StorageShrinkRefused',
        'StorageClassChangeRefused',
        'AccessModesChangeRefused',
      ]);
    });

    it('summarizes them as one, naming every field', function () {
      expect(p.refusal!.reason).to.equal(StorageRefusalReason.ChangesRefused);
      expect(p.refusal!.field).to.equal('spec.storage');
      for (const field of [
        'spec.storage.size',
        'spec.storage.storageClassName',
        'spec.storage.accessModes',
      ]) {
        expect(p.refusal!.message).to.include(field);
      }
    });

    it('keeps every existing value', function () {
      expect(p.intent.spec).to.deep.equal({
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
        storageClassName: 'fast',
      });
    });
  });

  describe('preconditions and purity', function () {
    it('throws BuilderInputError for a lab without storage', function () {
      expect(() => buildPersistentVolumeClaim(labWith({ app: { image: 'x' } }))).to.throw(
        BuilderInputError,
        /spec.storage/,
      );
    });

    it('reads a deep-frozen lab and claim without writing to them, sharing no object', function () {
      const lab = deepFreeze(fullLab());
      const existing = deepFreeze(
        claim({ size: '1Gi', storageClassName: 'standard', accessModes: ['ReadWriteOnce'] }),
      );
      const p = buildPersistentVolumeClaim(lab, existing);
      expect(() => {
        p.intent.spec!.accessModes!.push('ReadWriteMany');
        p.intent.spec!.resources!.requests!.storage = '9Gi';
        p.intent.metadata!.labels!.x = 'y';
      }).to.not.throw();
      expect(existing.spec!.accessModes).to.deep.equal(['ReadWriteOnce']);
    });

    it('builds the full lab (Delete, a class, a mount path) field by field', function () {
      const { intent } = buildPersistentVolumeClaim(fullLab());
      expect(intent.metadata!.ownerReferences).to.deep.equal([OWNER]);
      expect(intent.spec).to.deep.equal({
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
        storageClassName: 'standard',
      });
    });
  });
});
