import { expect } from 'chai';
import { compareQuantities, parseQuantity } from '../../src/studylab/quantity.js';

describe('quantity', function () {
  const cases: [string, number][] = [
    ['1Gi', 2 ** 30],
    ['500Mi', 500 * 2 ** 20],
    ['1Ki', 1024],
    ['2Ti', 2 * 2 ** 40],
    ['1G', 1e9],
    ['1k', 1e3],
    ['100m', 0.1],
    ['0.5', 0.5],
    ['.5', 0.5],
    ['1e3', 1000],
    ['1E-3', 0.001],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['0', 0],
  ];
  for (const [q, v] of cases) {
    it(`parses ${q}`, function () {
      expect(parseQuantity(q)).to.be.closeTo(v, v * 1e-12);
    });
  }
  for (const bad of ['', 'lots', '1GB', '1 Gi', 'Gi', '1.2.3']) {
    it(`rejects ${JSON.stringify(bad)}`, function () {
      expect(parseQuantity(bad)).to.be.undefined;
    });
  }
  it('compares across units', function () {
    expect(compareQuantities('1Gi', '1024Mi')).to.equal(0);
    expect(compareQuantities('1G', '1Gi')).to.equal(-1);
    expect(compareQuantities('2Gi', '1500Mi')).to.equal(1);
    expect(() => compareQuantities('1Gi', 'big')).to.throw(/not a quantity: big/);
  });
});
