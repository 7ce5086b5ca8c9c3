/**
 * Reliability 3: a silent watch. The proxy between the operator and the API
 * server stops delivering on every open connection without closing it, which
 * is what a half-open TCP connection looks like from the client. Only the
 * informers' watchdog can notice; without it the operator would learn nothing
 * until the server-side watch timeout (5 to 10 minutes). How long it took to
 * catch up is printed with the suite's figures.
 */
import { expect } from 'chai';
import { WATCHER_DEFAULTS } from '../../src/runtime/watcher.js';
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
/**
 * The earliest a silent watch could end without the watchdog: the API server closes a watch after the
 * timeout the informer asked for (at least WATCHER_DEFAULTS.watchTimeoutSeconds), and the proxy passes
 * that close on. Catching up sooner proves the watchdog did it, however loaded the machine.
 */
const SERVER_WATCH_TIMEOUT_MS = WATCHER_DEFAULTS.watchTimeoutSeconds * 1000;

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
    this.timeout(SERVER_WATCH_TIMEOUT_MS + 240_000);
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
    await s.waitConverged(SERVER_WATCH_TIMEOUT_MS, null);
    const recoverMs = msSince(frozenAt);
    await s.waitConverged(180_000);
    const silent = timedLogs(op.process).filter(
      (l) => l.at >= frozenAt && l.msg === 'Watch went silent; restarting it',
    );
    const kinds = [...new Set(silent.map((l) => String(l.informer)))].sort();
    expect(kinds, 'informers whose watchdog fired').to.include.members(['Deployment', 'StudyLab']);
    expect(op.proxy.silencedClosed, 'the operator closed the silenced connections itself').to.be.at.least(2);
    // Sooner than the server-side watch timeout, the only other way out of a silent watch.
    expect(recoverMs, 'caught up after the freeze').to.be.below(SERVER_WATCH_TIMEOUT_MS);
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
