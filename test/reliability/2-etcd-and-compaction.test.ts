/**
 * Reliability 2: etcd restarted under load; and watch history compacted away
 * while the operator is cut off, so its watches come back to 410 Gone and it
 * must relist to learn what changed.
 */
import { expect } from 'chai';
import {
  Scenario,
  inParallel,
  lightSpec,
  msSince,
  recordFault,
  revisionPatch,
  timedLogs,
  until,
  type ProxiedOperator,
} from './support.js';

const LABS = 40;

describe('reliability 2: etcd restarted, and watch history compacted (410 Gone)', function () {
  this.timeout(400_000);
  let s: Scenario;
  let op: ProxiedOperator;
  const names = Array.from({ length: LABS }, (_, i) => `lab-${i}`);

  before(async function () {
    s = await Scenario.start('etcd');
    op = await s.startOperator();
    await op.process.waitReady();
    await inParallel(names, 8, (name, i) => s.createLab(name, lightSpec(i)));
    await s.waitConverged(120_000);
    await s.recordClaims();
  });

  it('converges after etcd is SIGKILLed and restarted in the middle of an edit burst', async function () {
    let done = 0;
    const burst = inParallel(names, 4, async (name) => {
      await s.patchLab(name, revisionPatch(1));
      done++;
    });
    await until(
      () => `${done} edits`,
      () => !(done < 10),
      60_000,
    );
    const killedAt = Date.now();
    const editedBeforeKill = done;
    await s.local.restartEtcd('SIGKILL');
    const backAt = Date.now();
    await burst;
    await s.waitConverged(180_000);
    recordFault({
      scenario: '2 etcd',
      fault: `SIGKILL etcd at ${editedBeforeKill}/${LABS} edits, restart`,
      injected: 1,
      survived: 1,
      recoverMs: msSince(backAt),
      note: `etcd and kube-apiserver ready again after ${((backAt - killedAt) / 1000).toFixed(1)} s`,
    });
  });

  it('relists after its watches get 410 Gone, and converges on what changed while it was cut off', async function () {
    const relistsBefore = await op.process.metricValue('informer_relists_total');
    // Cut the operator off, change things behind its back, and make the history it would resume from vanish:
    // compact etcd, and restart kube-apiserver so its watch cache starts after the compaction too.
    op.proxy.block();
    const cutAt = Date.now();
    await until(
      'the operator noticed the cut',
      () => timedLogs(op.process).some((l) => l.at >= cutAt && l.msg === 'Watch failed; reconnecting'),
      30_000,
    );
    await inParallel(names, 8, (name) => s.patchLab(name, revisionPatch(2)));
    await inParallel([40, 41, 42, 43, 44], 5, (i) => s.createLab(`lab-${i}`, lightSpec(i + 1)));
    // lab-5 has no claim; lab-30 has a Retain claim, which must stay.
    await s.deleteLab('lab-5');
    await s.deleteLab('lab-30');
    const compacted = await s.local.compactEtcd();
    await s.local.stopApiServer();
    await s.local.startApiServer();
    op.proxy.unblock();
    const reconnectAt = Date.now();

    await s.waitConverged(180_000);
    const gone = timedLogs(op.process).filter(
      (l) => l.at >= cutAt && l.msg === 'Watch resourceVersion expired (410); relisting',
    );
    expect(gone.length, 'a watch got 410 Gone and relisted').to.be.at.least(1);
    const relists = (await op.process.metricValue('informer_relists_total')) - relistsBefore;
    expect(relists, 'informer_relists_total moved').to.be.at.least(1);
    recordFault({
      scenario: '2 etcd',
      fault: 'partition + etcd compaction + apiserver restart (410)',
      injected: 1,
      survived: 1,
      recoverMs: msSince(reconnectAt),
      note: `compacted at revision ${compacted}; ${gone.length} watches got 410, ${relists} relists`,
    });
    expect(await s.verifyClaims()).to.deep.equal([]);
  });
});
