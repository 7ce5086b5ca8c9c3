import { expect } from 'chai';
import fc from 'fast-check';
import { compareResourceVersions, RecentWrites } from '../../src/runtime/recent-writes.js';
import type { KubeObject } from '../../src/runtime/resources.js';
import { Store } from '../../src/runtime/store.js';

function lab(rv: string, phase: string, uid = 'uid-1'): KubeObject & { status: { phase: string } } {
  return {
    metadata: {
      namespace: 'ns',
      name: 'a',
      uid,
      resourceVersion: rv,
      managedFields: [{ manager: 'studylab-operator', operation: 'Apply' }],
    },
    status: { phase },
  };
}

const phaseOf = (obj: KubeObject | undefined): string | undefined =>
  (obj as { status?: { phase?: string } } | undefined)?.status?.phase;

describe('compareResourceVersions', function () {
  it('orders canonical integers of different lengths by length, and of equal length digit by digit', function () {
    expect(compareResourceVersions('9', '10')).to.equal(-1);
    expect(compareResourceVersions('10', '9')).to.equal(1);
    expect(compareResourceVersions('123', '123')).to.equal(0);
    expect(compareResourceVersions('124', '123')).to.equal(1);
    // Beyond Number.MAX_SAFE_INTEGER, where parseInt would call them equal.
    expect(compareResourceVersions('90071992547409931', '90071992547409932')).to.equal(-1);
  });

  it('refuses what is not a canonical positive integer', function () {
    for (const bad of [undefined, '', '0', '012', '-1', '1.5', 'abc', ' 1']) {
      expect(compareResourceVersions(bad, '5'), String(bad)).to.equal(undefined);
      expect(compareResourceVersions('5', bad), String(bad)).to.equal(undefined);
    }
  });

  it('agrees with BigInt order on any two canonical integers', function () {
    const rv = fc.bigInt({ min: 1n, max: 10n ** 30n }).map(String);
    fc.assert(
      fc.property(rv, rv, (a, b) => {
        const expected = BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;
        expect(compareResourceVersions(a, b)).to.equal(expected);
      }),
    );
  });
});

describe('RecentWrites', function () {
  /** The store has a lab at resourceVersion 10 (Pending); our status write returned it at 12 (Progressing). */
  function afterOurWrite(): { store: Store; reads: RecentWrites } {
    const store = new Store();
    store.upsert(lab('10', 'Pending'));
    const reads = new RecentWrites(store);
    reads.record(lab('12', 'Progressing'));
    return { store, reads };
  }

  it('answers with our write while the store still has the older object', function () {
    const { store, reads } = afterOurWrite();
    expect(phaseOf(store.get('ns/a'))).to.equal('Pending');
    expect(phaseOf(reads.get('ns/a'))).to.equal('Progressing');
    expect(reads.size).to.equal(1);
  });

  it('keeps no managedFields of the objects it holds', function () {
    const { reads } = afterOurWrite();
    expect(reads.get('ns/a')?.metadata?.managedFields).to.equal(undefined);
  });

  it('answers with the store, and forgets the write, once the store has it or something newer', function () {
    const { store, reads } = afterOurWrite();
    store.upsert(lab('13', 'Ready'));
    expect(phaseOf(reads.get('ns/a'))).to.equal('Ready');
    expect(reads.size).to.equal(0);
    // The store going back (a relist served from an older cache) does not bring the write back.
    store.upsert(lab('11', 'Pending'));
    expect(phaseOf(reads.get('ns/a'))).to.equal('Pending');
  });

  it('reports an object the store no longer has as missing, whatever we wrote', function () {
    const { store, reads } = afterOurWrite();
    store.remove('ns/a');
    expect(reads.get('ns/a')).to.equal(undefined);
    expect(reads.size).to.equal(0);
  });

  it('takes a new object of the same name (another uid) as newer than our write', function () {
    const { store, reads } = afterOurWrite();
    store.upsert(lab('11', 'Pending', 'uid-2'));
    expect(phaseOf(reads.get('ns/a'))).to.equal('Pending');
  });

  it('overlays nothing when resourceVersions are not comparable integers', function () {
    const store = new Store();
    store.upsert(lab('opaque-1', 'Pending'));
    const reads = new RecentWrites(store);
    reads.record(lab('opaque-2', 'Progressing'));
    expect(phaseOf(reads.get('ns/a'))).to.equal('Pending');
    expect(reads.size).to.equal(0);
  });

  it('drops writes the store caught up with even when their keys are never read again', function () {
    const store = new Store();
    const reads = new RecentWrites(store);
    for (let i = 0; i < 1000; i++) {
      const obj = { metadata: { namespace: 'ns', name: `lab-${i}`, uid: `u${i}`, resourceVersion: '5' } };
      store.upsert(obj);
      reads.record(obj);
    }
    expect(reads.size).to.be.below(256);
  });
});
