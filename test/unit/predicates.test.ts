import { expect } from 'chai';
import {
  enqueueControllerOwner,
  enqueueObject,
  groupOf,
  toInformerHandler,
} from '../../src/runtime/handlers.js';
import {
  and,
  annotationsChanged,
  generationChanged,
  labelsChanged,
  matching,
  not,
  or,
  passesCreate,
  passesDelete,
  passesUpdate,
  resourceVersionChanged,
  type Predicate,
} from '../../src/runtime/predicates.js';
import type { Request } from '../../src/runtime/reconcile.js';
import type { KubeObject } from '../../src/runtime/resources.js';

function obj(meta: NonNullable<KubeObject['metadata']>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'ns', name: 'x', ...meta } };
}

describe('predicates', () => {
  describe('generationChanged', () => {
    it('passes an update only when metadata.generation changed', () => {
      expect(passesUpdate(generationChanged, obj({ generation: 1 }), obj({ generation: 2 }))).to.equal(true);
      expect(passesUpdate(generationChanged, obj({ generation: 2 }), obj({ generation: 2 }))).to.equal(false);
    });

    it('drops status-only and metadata-only updates (same generation, new resourceVersion)', () => {
      const before = obj({ generation: 3, resourceVersion: '10', labels: { a: '1' } });
      const after = obj({ generation: 3, resourceVersion: '11', labels: { a: '2' } });
      expect(passesUpdate(generationChanged, before, after)).to.equal(false);
    });

    it('passes every create and delete', () => {
      expect(passesCreate(generationChanged, obj({}))).to.equal(true);
      expect(passesDelete(generationChanged, obj({}))).to.equal(true);
    });
  });

  it('labelsChanged passes only label changes, ignoring key order', () => {
    const a = obj({ labels: { x: '1', y: '2' } });
    expect(passesUpdate(labelsChanged, a, obj({ labels: { y: '2', x: '1' } }))).to.equal(false);
    expect(passesUpdate(labelsChanged, a, obj({ labels: { x: '1' } }))).to.equal(true);
    expect(passesUpdate(labelsChanged, obj({}), obj({ labels: {} })), 'absent equals empty').to.equal(false);
  });

  it('annotationsChanged passes only annotation changes', () => {
    expect(
      passesUpdate(annotationsChanged, obj({ annotations: { a: '1' } }), obj({ annotations: { a: '2' } })),
    ).to.equal(true);
    expect(
      passesUpdate(annotationsChanged, obj({ labels: { a: '1' } }), obj({ labels: { a: '2' } })),
    ).to.equal(false);
  });

  it('resourceVersionChanged drops resyncs', () => {
    expect(
      passesUpdate(resourceVersionChanged, obj({ resourceVersion: '5' }), obj({ resourceVersion: '5' })),
    ).to.equal(false);
    expect(
      passesUpdate(resourceVersionChanged, obj({ resourceVersion: '5' }), obj({ resourceVersion: '6' })),
    ).to.equal(true);
  });

  it('matching tests the new object of updates', () => {
    const managed = matching<KubeObject>((o) => o.metadata?.labels?.managed === 'yes');
    expect(passesCreate(managed, obj({ labels: { managed: 'yes' } }))).to.equal(true);
    expect(passesDelete(managed, obj({}))).to.equal(false);
    expect(passesUpdate(managed, obj({}), obj({ labels: { managed: 'yes' } }))).to.equal(true);
    expect(passesUpdate(managed, obj({ labels: { managed: 'yes' } }), obj({}))).to.equal(false);
  });

  describe('combinators', () => {
    const yes: Predicate<KubeObject> = { create: () => true, update: () => true, delete: () => true };
    const no: Predicate<KubeObject> = { create: () => false, update: () => false, delete: () => false };
    const o = obj({});

    it('and needs all, or needs one', () => {
      expect(passesCreate(and(yes, no), o)).to.equal(false);
      expect(passesCreate(and(yes, yes), o)).to.equal(true);
      expect(passesUpdate(or(no, yes), o, o)).to.equal(true);
      expect(passesDelete(or(no, no), o)).to.equal(false);
    });

    it('treats an absent method as passing, also inside and/or/not', () => {
      const updatesOnly: Predicate<KubeObject> = { update: () => false };
      expect(passesCreate(updatesOnly, o)).to.equal(true);
      expect(passesCreate(and(updatesOnly, yes), o)).to.equal(true);
      expect(passesCreate(not(updatesOnly), o)).to.equal(false);
      expect(passesUpdate(not(updatesOnly), o, o)).to.equal(true);
    });
  });
});

describe('handlers', () => {
  const owned = (refs: NonNullable<NonNullable<KubeObject['metadata']>['ownerReferences']>): KubeObject =>
    obj({ name: 'child', ownerReferences: refs });
  const ref = { apiVersion: 'studylab.io/v1alpha1', kind: 'StudyLab', name: 'web', uid: 'u1' };
  const studyLabs = { group: 'studylab.io', kind: 'StudyLab' };

  it('enqueueObject yields the object own key, without namespace for cluster-scoped objects', () => {
    expect(enqueueObject()(obj({ name: 'a' }))).to.deep.equal([{ namespace: 'ns', name: 'a' }]);
    expect(enqueueObject()({ metadata: { name: 'node-1' } })).to.deep.equal([{ name: 'node-1' }]);
    expect(enqueueObject()({ metadata: {} })).to.deep.equal([]);
  });

  it('enqueueControllerOwner maps a child to its controller owner of the right group and kind', () => {
    const map = enqueueControllerOwner(studyLabs);
    expect(map(owned([{ ...ref, controller: true }]))).to.deep.equal([{ namespace: 'ns', name: 'web' }]);
  });

  it('enqueueControllerOwner ignores non-controller owners and other kinds or groups', () => {
    const map = enqueueControllerOwner(studyLabs);
    expect(map(owned([{ ...ref, controller: false }])), 'not the controller').to.deep.equal([]);
    expect(map(owned([{ ...ref }])), 'controller unset').to.deep.equal([]);
    expect(map(owned([{ ...ref, kind: 'Other', controller: true }])), 'other kind').to.deep.equal([]);
    expect(
      map(owned([{ ...ref, apiVersion: 'other.io/v1', controller: true }])),
      'other group',
    ).to.deep.equal([]);
    expect(map(obj({})), 'no owners').to.deep.equal([]);
  });

  it('enqueueControllerOwner matches the core group and cluster-scoped owners', () => {
    const map = enqueueControllerOwner({ group: '', kind: 'Namespace', namespaced: false });
    const child = owned([
      { apiVersion: 'v1', kind: 'Namespace', name: 'team-a', uid: 'u', controller: true },
    ]);
    expect(map(child)).to.deep.equal([{ name: 'team-a' }]);
  });

  it('groupOf splits apiVersion', () => {
    expect(groupOf('apps/v1')).to.equal('apps');
    expect(groupOf('v1')).to.equal('');
  });

  describe('toInformerHandler', () => {
    const collect = (predicates: Predicate<KubeObject>[] = []) => {
      const got: Request[] = [];
      const h = toInformerHandler(enqueueControllerOwner(studyLabs), predicates, (r) => got.push(r));
      return { h, got };
    };
    const ownedBy = (name: string, generation = 1): KubeObject => ({
      metadata: {
        namespace: 'ns',
        name: 'child',
        generation,
        ownerReferences: [{ ...ref, name, controller: true }],
      },
    });

    it('maps both the old and the new object of an update, so the old owner hears of a lost child', () => {
      const { h, got } = collect();
      h.onUpdate?.(ownedBy('old-owner'), ownedBy('new-owner'));
      expect(got).to.deep.equal([
        { namespace: 'ns', name: 'old-owner' },
        { namespace: 'ns', name: 'new-owner' },
      ]);
    });

    it('maps adds and deletes', () => {
      const { h, got } = collect();
      h.onAdd?.(ownedBy('a'), false);
      h.onDelete?.(ownedBy('b'));
      expect(got.map((r) => r.name)).to.deep.equal(['a', 'b']);
    });

    it('applies every predicate before mapping', () => {
      const { h, got } = collect([generationChanged]);
      h.onUpdate?.(ownedBy('a', 1), ownedBy('a', 1));
      expect(got).to.deep.equal([]);
      h.onUpdate?.(ownedBy('a', 1), ownedBy('a', 2));
      expect(got, 'old and new map to one owner: enqueued once').to.deep.equal([
        { namespace: 'ns', name: 'a' },
      ]);
    });

    it('asks high for a new generation of a primary (also one the initial list shows unserved), normal for a new primary and any deletion, low for the initial list, a resync and a child changed', () => {
      const asked: string[] = [];
      const lab = (rv: string, generation: number): KubeObject => obj({ resourceVersion: rv, generation });
      const primary = toInformerHandler(
        enqueueObject(),
        [],
        (_r, event, _o, priority) => asked.push(`${event} ${priority}`),
        undefined,
        { primary: true },
      );
      primary.onAdd?.(lab('1', 1), true);
      primary.onAdd?.({ ...lab('1', 3), status: { observedGeneration: 3 } } as KubeObject, true);
      primary.onAdd?.({ ...lab('1', 3), status: { observedGeneration: 2 } } as KubeObject, true);
      primary.onAdd?.(lab('2', 1), false);
      primary.onUpdate?.(lab('2', 1), lab('2', 1));
      primary.onUpdate?.(lab('2', 1), lab('3', 2));
      primary.onUpdate?.(lab('3', 2), lab('4', 2));
      primary.onDelete?.(lab('4', 2));
      expect(asked).to.deep.equal([
        'add low',
        'add low',
        'add high', // in the initial list, but its status has not seen its generation: an edit not served
        'add normal',
        'update low',
        'update high',
        'update normal',
        'delete normal',
      ]);
      asked.length = 0;
      const child = toInformerHandler(enqueueControllerOwner(studyLabs), [], (_r, event, _o, priority) =>
        asked.push(`${event} ${priority}`),
      );
      child.onAdd?.(ownedBy('a'), true);
      child.onAdd?.(ownedBy('a'), false);
      child.onUpdate?.(ownedBy('a', 1), ownedBy('a', 2));
      child.onDelete?.(ownedBy('a', 2));
      expect(asked, "a child's add or update only reports a state; its deletion is an outage").to.deep.equal([
        'add low',
        'add low',
        'update low',
        'delete normal',
      ]);
    });
  });
});
