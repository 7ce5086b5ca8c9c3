/**
 * Reliability 3: a silent watch. The proxy between the operator and the API
 * server stops delivering on every open connection without closing it, which
 * is what a half-open TCP connection looks like from the client. Only the
 * informers' watchdog can notice; without it the operator would learn nothing
 * until the server-side watch timeout (5 to 10 minutes).
 */
import { expect } from 'chai';
import { Services } from '../../src/runtime/index.js';
import {
  Scenario,
  inParallel,
  lightSpec,
  msSince,
  recordFault,
  revisionPatch,
  throughOutage,
  timedLogs,
  type ProxiedOperator,
} from './support.js';

const SILENCE_SECONDS = 8;

describe('reliability 3: a watch that goes silent without closing', function () {
  this.timeout(300_000);
  let s: Scenario;
  let op: ProxiedOperator;
  const names = Array.from({ length: 10 }, (_, i) => `lab-${i}`);

  before(async function () {
    s = await Scenario.start('silent');
    op = await s.startOperator({ logLevel: 'debug', args: [`--watch-silence-timeout=${SILENCE_SECONDS}`] });
    await op.process.waitReady();
    await inParallel(names, 5, (name, i) => s.createLab(name, lightSpec(i)));
    await s.waitConverged(120_000);
    await s.recordClaims();
  });

  it('the watchdog notices, reopens the watches and the operator catches up', async function () {
    const frozen = op.proxy.freeze();
    const frozenAt = Date.now();
    expect(frozen, 'connections open when the proxy froze').to.be.at.least(1);
    // Changes only a live watch can tell the operator about: new labs, edited labs, a drifted child.
    await inParallel(['late-1', 'late-2', 'late-3'], 3, (name, i) => s.createLab(name, lightSpec(i + 1)));
    await inParallel(names.slice(0, 5), 5, (name) => s.patchLab(name, revisionPatch(1)));
    // A Service, not the Deployment: a rolled and rolled-back Deployment can wait minutes for the
    // Deployment controller on this plane, which would time kube-controller-manager, not the watchdog.
    await throughOutage(() =>
      s.admin.patch(
        Services,
        s.namespace,
        'lab-8',
        [{ op: 'replace', path: '/spec/ports/0/port', value: 8081 }],
        { type: 'json' },
      ),
    );

    // The operator's part (children and observedGeneration) is what the watchdog decides; Ready also waits
    // for kube-controller-manager, which may still be busy with the previous scenarios' namespaces.
    await s.waitConverged(120_000, null);
    const recoverMs = msSince(frozenAt);
    await s.waitConverged(180_000);
    const silent = timedLogs(op.process).filter(
      (l) => l.at >= frozenAt && l.msg === 'Watch went silent; restarting it',
    );
    const kinds = [...new Set(silent.map((l) => String(l.informer)))].sort();
    expect(kinds, 'informers whose watchdog fired').to.include.members(['Deployment', 'StudyLab']);
    expect(op.proxy.silencedClosed, 'the operator closed the silenced connections itself').to.be.at.least(2);
    // Far sooner than the server-side watch timeout (>= 300 s) that would end a silent watch otherwise.
    expect(recoverMs).to.be.below(90_000);
    recordFault({
      scenario: '3 silent',
      fault: `proxy froze ${frozen} open connections`,
      injected: 1,
      survived: 1,
      recoverMs,
      note: `watchdog ${SILENCE_SECONDS} s; ${op.proxy.silencedClosed} silenced connections closed by the operator`,
    });
    expect(await s.verifyClaims()).to.deep.equal([]);
  });
});
