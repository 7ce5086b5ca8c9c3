import { expect } from 'chai';
import fc from 'fast-check';
import { backoffDelay, exponentialDelay, jitter } from '../../src/runtime/backoff.js';

describe('backoffDelay', function () {
  const backoff = { initialMs: 100, maxMs: 1_000 };

  it('doubles per attempt from initialMs, jittered into [d/2, d)', function () {
    expect(backoffDelay(1, backoff, () => 0)).to.equal(50);
    expect(backoffDelay(1, backoff, () => 0.999999)).to.equal(99);
    expect(backoffDelay(2, backoff, () => 0)).to.equal(100);
    expect(backoffDelay(3, backoff, () => 0)).to.equal(200);
    expect(backoffDelay(4, backoff, () => 0.5)).to.equal(600);
  });

  it('is capped at maxMs, even for absurd attempt numbers', function () {
    expect(backoffDelay(5, backoff, () => 0)).to.equal(500);
    expect(backoffDelay(60, backoff, () => 0)).to.equal(500);
    expect(backoffDelay(10_000, backoff, () => 0.999999)).to.equal(999);
  });

  it('stays within [min(max, initial * 2^(n-1)) / 2, max) for every attempt and random value (property)', function () {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        (attempt, r, initialMs, extra) => {
          const maxMs = initialMs + extra;
          const d = backoffDelay(attempt, { initialMs, maxMs }, () => r);
          const ceiling = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
          expect(d).to.be.at.least(Math.floor(ceiling / 2));
          expect(d).to.be.at.most(ceiling);
          expect(d).to.be.at.most(maxMs);
        },
      ),
    );
  });
});

describe('exponentialDelay', function () {
  it('doubles from initialMs and stops at maxMs, without jitter', function () {
    const backoff = { initialMs: 5, maxMs: 1_000 };
    expect([1, 2, 3, 8, 9, 1_000].map((n) => exponentialDelay(n, backoff))).to.deep.equal([
      5, 10, 20, 640, 1_000, 1_000,
    ]);
  });
});

describe('jitter', function () {
  it('stretches a duration by up to maxFactor of itself', function () {
    expect(jitter(1_000, 1.2, () => 0)).to.equal(1_000);
    expect(jitter(1_000, 1.2, () => 0.5)).to.equal(1_600);
    expect(jitter(1_000, 1.2, () => 0.999)).to.be.below(2_200);
  });
});
