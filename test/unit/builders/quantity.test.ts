import { expect } from 'chai';
import fc from 'fast-check';
import { compareQuantities, parseQuantity, QuantityError } from '../../../src/studylab/builders/index.js';

/** Whether `text` parses to exactly num/den. */
function valueOf(text: string): [bigint, bigint] {
  const q = parseQuantity(text);
  if (!q) throw new Error(`${text} did not parse`);
  return [q.numerator, q.denominator];
}
function expectValue(text: string, num: bigint, den = 1n): void {
  const [n, d] = valueOf(text);
  expect(d > 0n, `${text}: positive denominator`).to.be.true;
  expect(n * den, `${text} = ${num}/${den}`).to.equal(num * d);
}

describe('quantity', function () {
  describe('parseQuantity', function () {
    const binary: [string, bigint][] = [
      ['1Ki', 1024n],
      ['1Mi', 1024n ** 2n],
      ['1Gi', 1024n ** 3n],
      ['1Ti', 1024n ** 4n],
      ['1Pi', 1024n ** 5n],
      ['1Ei', 1024n ** 6n],
      ['500Mi', 500n * 1024n ** 2n],
      ['8Ei', 8n * 2n ** 60n],
    ];
    const decimal: [string, bigint][] = [
      ['1k', 1000n],
      ['1M', 10n ** 6n],
      ['1G', 10n ** 9n],
      ['1T', 10n ** 12n],
      ['1P', 10n ** 15n],
      ['1E', 10n ** 18n],
      ['42', 42n],
      ['0', 0n],
    ];
    for (const [text, value] of [...binary, ...decimal]) {
      it(`${text} = ${value}`, function () {
        expectValue(text, value);
      });
    }

    it('milli, micro and nano are fractions', function () {
      expectValue('100m', 1n, 10n);
      expectValue('1m', 1n, 1000n);
      expectValue('5u', 5n, 10n ** 6n);
      expectValue('7n', 7n, 10n ** 9n);
    });

    it('decimals, with every suffix kind', function () {
      expectValue('1.5Gi', 3n * 2n ** 29n);
      expectValue('0.5', 1n, 2n);
      expectValue('.5', 1n, 2n);
      expectValue('1.', 1n);
      expectValue('0.067G', 67n * 10n ** 6n);
      expectValue('2.5k', 2500n);
      expectValue('1.25m', 1n, 800n);
    });

    it('decimal exponents, either case, signed', function () {
      expectValue('1e3', 1000n);
      expectValue('1E3', 1000n);
      expectValue('1e+3', 1000n);
      expectValue('1E-3', 1n, 1000n);
      expectValue('1.5e2', 150n);
      expectValue('12e0', 12n);
    });

    it('signs', function () {
      expectValue('+1Ki', 1024n);
      expectValue('-1Ki', -1024n);
      expectValue('-.5', -1n, 2n);
    });

    for (const bad of [
      '',
      ' ',
      '1 Gi',
      ' 1Gi',
      '1Gi ',
      'Gi',
      '1GB',
      '1K',
      '1gi',
      '1KiB',
      '1.2.3',
      '.',
      '+',
      'e3',
      '1e',
      '1e1.5',
      '1Mi2',
      'lots',
      '0x10',
      '1e99999',
    ]) {
      it(`rejects ${JSON.stringify(bad)}`, function () {
        expect(parseQuantity(bad)).to.be.undefined;
      });
    }
  });

  describe('compareQuantities', function () {
    it('equal values in different units compare equal', function () {
      expect(compareQuantities('1Gi', '1024Mi')).to.equal(0);
      expect(compareQuantities('1Gi', '1073741824')).to.equal(0);
      expect(compareQuantities('1k', '1000')).to.equal(0);
      expect(compareQuantities('1e3', '1k')).to.equal(0);
      expect(compareQuantities('500m', '0.5')).to.equal(0);
      expect(compareQuantities('1.5Gi', '1536Mi')).to.equal(0);
    });

    it('is exact where floating point is not', function () {
      expect(compareQuantities('0.067G', '67M')).to.equal(0);
      expect(compareQuantities('67M', '0.067G')).to.equal(0);
      expect(compareQuantities('0.3', '300m')).to.equal(0);
      expect(compareQuantities('9007199254740993', '9007199254740992')).to.equal(1);
      expect(compareQuantities('8Ei', '9223372036854775809')).to.equal(-1);
    });

    it('orders across units', function () {
      expect(compareQuantities('1G', '1Gi')).to.equal(-1);
      expect(compareQuantities('1Gi', '1G')).to.equal(1);
      expect(compareQuantities('2Gi', '1500Mi')).to.equal(1);
      expect(compareQuantities('512Mi', '1Gi')).to.equal(-1);
      expect(compareQuantities('100m', '1')).to.equal(-1);
      expect(compareQuantities('-1', '0')).to.equal(-1);
    });

    it('throws QuantityError naming the string that is not a quantity', function () {
      expect(() => compareQuantities('1Gi', 'big')).to.throw(QuantityError, /not a quantity: "big"/);
      expect(() => compareQuantities('1 Gi', '1Gi')).to.throw(QuantityError, /"1 Gi"/);
    });

    it('agrees with integer arithmetic (property)', function () {
      const suffixes: [string, bigint][] = [
        ['', 1n],
        ['k', 1000n],
        ['Ki', 1024n],
        ['M', 10n ** 6n],
        ['Mi', 2n ** 20n],
        ['Gi', 2n ** 30n],
      ];
      fc.assert(
        fc.property(
          fc.nat({ max: 1_000_000 }),
          fc.constantFrom(...suffixes),
          fc.nat({ max: 1_000_000 }),
          fc.constantFrom(...suffixes),
          (a, [sa, ma], b, [sb, mb]) => {
            const x = BigInt(a) * ma;
            const y = BigInt(b) * mb;
            const expected = x < y ? -1 : x > y ? 1 : 0;
            expect(compareQuantities(`${a}${sa}`, `${b}${sb}`)).to.equal(expected);
          },
        ),
      );
    });

    it('is antisymmetric, and a decimal written with m equals its fraction (property)', function () {
      fc.assert(
        fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.nat({ max: 999 }), (whole, milli) => {
          const frac = String(milli).padStart(3, '0');
          const sign = whole < 0 ? '-' : '';
          const text = `${sign}${Math.abs(whole)}.${frac}`;
          const asMilli = `${sign}${Math.abs(whole) * 1000 + milli}m`;
          expect(compareQuantities(text, asMilli)).to.equal(0);
          expect(compareQuantities(text, '1')).to.equal(-compareQuantities('1', text));
        }),
      );
    });
  });
});
