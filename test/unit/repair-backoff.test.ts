import { expect } from 'chai';
import { RepairBackoff } from '../../src/studylab/repair-backoff.js';

describe('RepairBackoff', function () {
  let t: number;
  let backoff: RepairBackoff;
  beforeEach(function () {
    t = 1_000_000;
    backoff = new RepairBackoff(() => t, { baseMs: 1000, maxMs: 8000, resetAfterMs: 60_000 });
  });

  it('repairs a first drift at once', function () {
    expect(backoff.waitMs('ns/lab/Deployment')).to.equal(0);
  });

  it('doubles the wait while the same child keeps drifting, up to the maximum', function () {
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      backoff.record('k');
      waits.push(backoff.waitMs('k'));
      t += backoff.waitMs('k');
    }
    expect(waits).to.deep.equal([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('counts down the wait as time passes', function () {
    backoff.record('k');
    t += 400;
    expect(backoff.waitMs('k')).to.equal(600);
  });

  it('starts over once the child was left alone long enough', function () {
    backoff.record('k');
    backoff.record('k');
    t += 60_001;
    expect(backoff.waitMs('k')).to.equal(0);
    expect(backoff.record('k')).to.equal(1);
  });

  it('keeps children apart', function () {
    backoff.record('a');
    expect(backoff.waitMs('b')).to.equal(0);
  });
});
