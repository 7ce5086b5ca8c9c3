import { expect } from 'chai';
import {
  diffCounts,
  groupCounts,
  meanOf,
  parseRequestTotals,
  percentile,
  requestKey,
} from '../../bench/lib/stats.js';

describe('bench stats', function () {
  it('percentile by nearest rank', function () {
    const samples = Array.from({ length: 200 }, (_, i) => 200 - i); // 200..1, unsorted
    expect(percentile(samples, 50)).to.equal(100);
    expect(percentile(samples, 99)).to.equal(198);
    expect(percentile(samples, 100)).to.equal(200);
    expect(percentile(samples, 0)).to.equal(1);
    expect(percentile([7], 99)).to.equal(7);
    expect(percentile([], 50)).to.equal(undefined);
    expect(() => percentile([1], 101)).to.throw(RangeError);
  });

  it('apiserver_request_total summed over codes, diffed and grouped', function () {
    const before = parseRequestTotals(
      [
        '# TYPE apiserver_request_total counter',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 3',
        'apiserver_request_total{code="201",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 1',
      ].join('\n'),
    );
    const after = parseRequestTotals(
      [
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 10',
        'apiserver_request_total{code="201",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 1',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="GET",version="v1"} 2',
        'apiserver_request_longrunning_count 5',
      ].join('\n'),
    );
    const applyKey = requestKey({ verb: 'APPLY', group: 'apps', resource: 'deployments', subresource: '' });
    expect(before.get(applyKey)).to.equal(4);
    const delta = diffCounts(after, before);
    expect(delta.get(applyKey)).to.equal(7);
    expect(groupCounts(delta, (k) => k.verb)).to.deep.equal({ APPLY: 7, GET: 2 });
    expect(
      groupCounts(
        delta,
        (k) => k.resource,
        (k) => k.group === '',
      ),
    ).to.deep.equal({ services: 2 });
  });

  it('meanOf averages numbers and records of numbers field by field, and keeps the rest from the first run', function () {
    const runs = [
      { n: 1000, seconds: 46.37, perVerb: { APPLY: 4, POST: 1 }, op: 'peer', notes: ['a'] },
      { n: 1000, seconds: 58.98, perVerb: { APPLY: 4.2, PATCH: 2 }, op: 'ours', notes: ['b'] },
    ];
    expect(meanOf(runs)).to.deep.equal({
      n: 1000,
      seconds: 52.68, // 52.675 rounded to 2 decimals
      perVerb: { APPLY: 4.1, PATCH: 1, POST: 0.5 }, // a key one run lacks counts as 0 there
      op: 'peer',
      notes: ['a'],
    });
    expect(meanOf([runs[1]!])).to.deep.equal(runs[1]);
    expect(() => meanOf([])).to.throw(RangeError);
  });
});
