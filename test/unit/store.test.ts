import { expect } from 'chai';
import fc from 'fast-check';
import { objectKey, requestFromKey } from '../../src/runtime/keys.js';
import type { KubeObject } from '../../src/runtime/resources.js';
import { Store, type IndexFunc } from '../../src/runtime/store.js';

function obj(
  namespace: string | undefined,
  name: string,
  extra: {
    rv?: string;
    labels?: Record<string, string>;
    owners?: { uid: string; controller?: boolean }[];
  } = {},
): KubeObject {
  return {
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      resourceVersion: extra.rv ?? '1',
      ...(extra.labels ? { labels: extra.labels } : {}),
      ...(extra.owners
        ? {
            ownerReferences: extra.owners.map((o) => ({
              apiVersion: 'v1',
              kind: 'Owner',
              name: `owner-${o.uid}`,
              uid: o.uid,
              ...(o.controller ? { controller: true } : {}),
            })),
          }
        : {}),
    },
  };
}

const names = (objs: KubeObject[]): string[] => objs.map((o) => o.metadata?.name ?? '').sort();

// The Store has no built-in indexes (nothing read them); these are what a caller would add.
const byNamespace: IndexFunc<KubeObject> = (o) => (o.metadata?.namespace ? [o.metadata.namespace] : []);
const byOwnerUid: IndexFunc<KubeObject> = (o) => [
  ...new Set((o.metadata?.ownerReferences ?? []).map((ref) => ref.uid)),
];
const byLabel =
  (label: string): IndexFunc<KubeObject> =>
  (o) => {
    const value = o.metadata?.labels?.[label];
    return value === undefined ? [] : [value];
  };

describe('Store', function () {
  describe('keys and lookups', function () {
    it('keys namespaced objects as namespace/name and cluster-scoped ones as name', function () {
      const store = new Store();
      store.upsert(obj('ns', 'a'));
      store.upsert(obj(undefined, 'node-1'));

      expect(store.keys().sort()).to.deep.equal(['node-1', 'ns/a']);
      expect(store.get('ns/a')?.metadata?.name).to.equal('a');
      expect(store.getByName('ns', 'a')?.metadata?.namespace).to.equal('ns');
      expect(store.getByName(undefined, 'node-1')?.metadata?.name).to.equal('node-1');
      expect(store.getByName('other', 'a')).to.equal(undefined);
      expect(store.size).to.equal(2);
    });

    it('upsert returns the object it replaced, remove the object it removed', function () {
      const store = new Store();
      expect(store.upsert(obj('ns', 'a', { rv: '1' }))).to.equal(undefined);
      const replaced = store.upsert(obj('ns', 'a', { rv: '2' }));
      expect(replaced?.metadata?.resourceVersion).to.equal('1');
      expect(store.get('ns/a')?.metadata?.resourceVersion).to.equal('2');

      expect(store.remove('ns/a')?.metadata?.resourceVersion).to.equal('2');
      expect(store.remove('ns/a')).to.equal(undefined);
      expect(store.size).to.equal(0);
    });

    it('list returns a new array each time', function () {
      const store = new Store();
      store.upsert(obj('ns', 'a'));
      const listed = store.list();
      listed.pop();
      expect(store.list()).to.have.length(1);
    });
  });

  describe('keys', function () {
    it('objectKey and requestFromKey are inverses, for namespaced and cluster-scoped objects', function () {
      expect(objectKey(obj('ns', 'a'))).to.equal('ns/a');
      expect(objectKey(obj(undefined, 'node-1'))).to.equal('node-1');
      expect(requestFromKey('ns/a')).to.deep.equal({ namespace: 'ns', name: 'a' });
      expect(requestFromKey('node-1')).to.deep.equal({ name: 'node-1' });
    });

    it('objectKey refuses an object without a name', function () {
      expect(() => objectKey({ kind: 'ConfigMap', metadata: {} })).to.throw(/ConfigMap has no metadata.name/);
    });
  });

  describe('indexes', function () {
    it('leaves out objects an index function files under no value', function () {
      const store = new Store({ namespace: byNamespace });
      store.upsert(obj('a', 'x'));
      store.upsert(obj('a', 'y'));
      store.upsert(obj('b', 'x'));
      store.upsert(obj(undefined, 'cluster-wide'));

      expect(names(store.byIndex('namespace', 'a'))).to.deep.equal(['x', 'y']);
      expect(names(store.byIndex('namespace', 'b'))).to.deep.equal(['x']);
      expect(store.indexValues('namespace').sort()).to.deep.equal(['a', 'b']);
    });

    it('files an object under every value its index function returns, once each', function () {
      const store = new Store({ owner: byOwnerUid });
      store.upsert(obj('ns', 'controlled', { owners: [{ uid: 'u1', controller: true }, { uid: 'u2' }] }));
      store.upsert(obj('ns', 'owned', { owners: [{ uid: 'u2' }, { uid: 'u2' }] }));
      store.upsert(obj('ns', 'orphan'));

      expect(names(store.byIndex('owner', 'u1'))).to.deep.equal(['controlled']);
      expect(names(store.byIndex('owner', 'u2'))).to.deep.equal(['controlled', 'owned']);
    });

    it('throws for an index that does not exist', function () {
      expect(() => new Store().byIndex('nope', 'x')).to.throw(/no index named 'nope'/);
    });

    it('keeps a label index consistent when the label changes and when the object goes', function () {
      const store = new Store();
      const index = 'app';
      store.addIndexer(index, byLabel('app'));

      store.upsert(obj('ns', 'a', { labels: { app: 'web' } }));
      store.upsert(obj('ns', 'b', { labels: { app: 'web' } }));
      expect(names(store.byIndex(index, 'web'))).to.deep.equal(['a', 'b']);

      store.upsert(obj('ns', 'a', { labels: { app: 'db' } }));
      expect(names(store.byIndex(index, 'web'))).to.deep.equal(['b']);
      expect(names(store.byIndex(index, 'db'))).to.deep.equal(['a']);

      store.remove('ns/b');
      expect(store.byIndex(index, 'web')).to.deep.equal([]);
      expect(store.indexValues(index), 'empty values are dropped').to.deep.equal(['db']);
    });

    it('indexes objects already cached when an index is added late', function () {
      const store = new Store();
      store.upsert(obj('ns', 'a', { labels: { tier: 'front' } }));
      store.upsert(obj('ns', 'b'));
      store.addIndexer('tier', byLabel('tier'));
      expect(names(store.byIndex('tier', 'front'))).to.deep.equal(['a']);
    });

    it('accepts indexers in the constructor and refuses a duplicate name', function () {
      const store = new Store({ byName: (o) => [o.metadata?.name ?? ''] });
      store.upsert(obj('x', 'same'));
      store.upsert(obj('y', 'same'));
      expect(store.byIndex('byName', 'same')).to.have.length(2);
      expect(() => store.addIndexer('byName', () => [])).to.throw(/already exists/);
    });

    it('an index function that throws leaves the store unchanged', function () {
      const store = new Store({
        namespace: byNamespace,
        picky: (o) => {
          if (o.metadata?.labels?.bad) throw new Error('bad label');
          return [];
        },
      });
      store.upsert(obj('ns', 'a', { rv: '1' }));
      expect(() => store.upsert(obj('ns', 'a', { rv: '2', labels: { bad: 'x' } }))).to.throw('bad label');
      expect(store.get('ns/a')?.metadata?.resourceVersion).to.equal('1');

      expect(() => store.replace([obj('ns', 'b', { labels: { bad: 'x' } })])).to.throw('bad label');
      expect(store.keys()).to.deep.equal(['ns/a']);
      expect(names(store.byIndex('namespace', 'ns'))).to.deep.equal(['a']);
    });
  });

  describe('replace', function () {
    it('returns what was added, updated (by resourceVersion) and deleted, and nothing for unchanged objects', function () {
      const store = new Store();
      store.upsert(obj('ns', 'same', { rv: '1' }));
      store.upsert(obj('ns', 'changed', { rv: '1' }));
      store.upsert(obj('ns', 'gone', { rv: '1' }));

      const diff = store.replace([
        obj('ns', 'same', { rv: '1' }),
        obj('ns', 'changed', { rv: '5' }),
        obj('ns', 'new', { rv: '6' }),
      ]);

      expect(names(diff.added)).to.deep.equal(['new']);
      expect(diff.updated).to.have.length(1);
      expect(diff.updated[0]?.oldObj.metadata?.resourceVersion).to.equal('1');
      expect(diff.updated[0]?.newObj.metadata?.resourceVersion).to.equal('5');
      expect(names(diff.deleted)).to.deep.equal(['gone']);
      expect(store.keys().sort()).to.deep.equal(['ns/changed', 'ns/new', 'ns/same']);
    });

    it('rebuilds the indexes from the new contents', function () {
      const store = new Store({ namespace: byNamespace, app: byLabel('app') });
      const index = 'app';
      store.upsert(obj('old-ns', 'a', { labels: { app: 'web' } }));
      store.replace([obj('new-ns', 'b', { labels: { app: 'api' } })]);

      expect(store.byIndex('namespace', 'old-ns')).to.deep.equal([]);
      expect(store.byIndex(index, 'web')).to.deep.equal([]);
      expect(names(store.byIndex(index, 'api'))).to.deep.equal(['b']);
    });

    it('an empty list deletes everything', function () {
      const store = new Store({ namespace: byNamespace });
      store.upsert(obj('ns', 'a'));
      const diff = store.replace([]);
      expect(names(diff.deleted)).to.deep.equal(['a']);
      expect(store.size).to.equal(0);
      expect(store.indexValues('namespace')).to.deep.equal([]);
    });
  });

  it('indexes always agree with a scan of the contents, whatever the sequence of changes (property)', function () {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('upsert' as const),
        ns: fc.constantFrom('a', 'b'),
        name: fc.constantFrom('x', 'y', 'z'),
        app: fc.option(fc.constantFrom('web', 'db'), { nil: undefined }),
        owner: fc.option(fc.constantFrom('u1', 'u2'), { nil: undefined }),
      }),
      fc.record({
        kind: fc.constant('remove' as const),
        ns: fc.constantFrom('a', 'b'),
        name: fc.constantFrom('x', 'y'),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const store = new Store({ namespace: byNamespace, owner: byOwnerUid });
        const appIndex = 'app';
        store.addIndexer(appIndex, byLabel('app'));
        for (const o of ops) {
          if (o.kind === 'remove') store.remove(`${o.ns}/${o.name}`);
          else
            store.upsert(
              obj(o.ns, o.name, {
                ...(o.app ? { labels: { app: o.app } } : {}),
                ...(o.owner ? { owners: [{ uid: o.owner, controller: true }] } : {}),
              }),
            );
        }
        const keysOf = (objs: KubeObject[]): string[] =>
          objs.map((x) => `${x.metadata?.namespace}/${x.metadata?.name}`).sort();
        for (const app of ['web', 'db']) {
          const scan = store.list().filter((x) => x.metadata?.labels?.app === app);
          expect(keysOf(store.byIndex(appIndex, app))).to.deep.equal(keysOf(scan));
        }
        for (const uid of ['u1', 'u2']) {
          const scan = store.list().filter((x) => x.metadata?.ownerReferences?.some((r) => r.uid === uid));
          expect(keysOf(store.byIndex('owner', uid))).to.deep.equal(keysOf(scan));
        }
        for (const ns of ['a', 'b']) {
          const scan = store.list().filter((x) => x.metadata?.namespace === ns);
          expect(keysOf(store.byIndex('namespace', ns))).to.deep.equal(keysOf(scan));
        }
      }),
    );
  });
});
