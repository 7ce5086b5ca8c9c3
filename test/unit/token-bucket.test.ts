import { expect } from 'chai';
import { PerKeyTokenBucket } from '../../src/runtime/token-bucket.js';

const MINUTE = 60_000;

describe('PerKeyTokenBucket', () => {
  it('allows a burst per key, then one per refill period', () => {
    const bucket = new PerKeyTokenBucket(3, MINUTE, 100);
    const at0 = [0, 1, 2, 3].map(() => bucket.take('obj', 0));
    expect(at0).to.deep.equal([true, true, true, false]);
    expect(bucket.take('other', 0), 'per key').to.equal(true);
    expect(bucket.take('obj', MINUTE - 1)).to.equal(false);
    expect(bucket.take('obj', MINUTE)).to.equal(true);
    expect(bucket.take('obj', MINUTE)).to.equal(false);
  });
});
