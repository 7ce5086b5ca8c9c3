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
    expect(backoff.waitMs('ns/lab', 'Deployment')).to.equal(0);
  });

  it('doubles the wait while the same child keeps drifting, up to the maximum', function () {
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      backoff.record('ns/lab', 'k');
      waits.push(backoff.waitMs('ns/lab', 'k'));
      t += backoff.waitMs('ns/lab', 'k');
    }
    expect(waits).to.deep.equal([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('counts down the wait as time passes', function () {
    backoff.record('ns/lab', 'k');
    t += 400;
    expect(backoff.waitMs('ns/lab', 'k')).to.equal(600);
  });

  it('starts over once the child was left alone long enough, and drops its entry', function () {
    backoff.record('ns/lab', 'k');
    backoff.record('ns/lab', 'k');
    t += 60_001;
    expect(backoff.waitMs('ns/lab', 'k')).to.equal(0);
    expect(backoff.size).to.equal(0);
    expect(backoff.record('ns/lab', 'k')).to.equal(1);
  });

  it('keeps children and labs apart', function () {
    backoff.record('ns/a', 'Service');
    expect(backoff.waitMs('ns/a', 'Deployment')).to.equal(0);
    expect(backoff.waitMs('ns/b', 'Service')).to.equal(0);
  });

  it('forgets every child of a deleted lab, so its memory does not grow with labs ever deleted', function () {
    for (let i = 0; i < 100; i++) {
      backoff.record(`ns/lab-${i}`, 'Deployment');
      backoff.record(`ns/lab-${i}`, 'Service');
    }
    expect(backoff.size).to.equal(100);
    for (let i = 0; i < 100; i++) backoff.forget(`ns/lab-${i}`);
    expect(backoff.size).to.equal(0);
    expect(backoff.waitMs('ns/lab-7', 'Service')).to.equal(0);
  });

  it('drops the entries of labs left alone, without a forget, so memory does not grow with labs ever repaired', function () {
    for (let i = 0; i < 100; i++) backoff.record(`ns/lab-${i}`, 'Deployment');
    t += 30_000;
    backoff.record('ns/recent', 'Deployment');
    t += 30_001;
    backoff.record('ns/another', 'Service');
    expect(backoff.size, 'the hundred labs repaired over a minute ago are gone').to.equal(2);
    expect(
      backoff.waitMs('ns/recent', 'Deployment'),
      'a lab repaired within the minute keeps its streak',
    ).to.equal(0);
    expect(backoff.record('ns/recent', 'Deployment')).to.equal(2);
    t += 60_001;
    backoff.record('ns/last', 'Service');
    expect(backoff.size).to.equal(1);
  });

  it('keeps a lab whose other child was repaired lately, and its streak', function () {
    backoff.record('ns/a', 'Deployment');
    backoff.record('ns/a', 'Deployment');
    t += 50_000;
    backoff.record('ns/a', 'Service');
    t += 20_000;
    backoff.record('ns/b', 'Service');
    expect(backoff.size).to.equal(2);
    expect(backoff.record('ns/a', 'Service')).to.equal(2);
    expect(backoff.record('ns/a', 'Deployment'), 'its own streak is over').to.equal(1);
  });
});
