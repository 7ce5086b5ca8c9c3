/**
 * Reliability 1: kube-apiserver SIGKILLed and restarted, twice, while 200 labs
 * are being created and then edited. The operator must neither crash nor
 * stall, and must converge with every child correct and none duplicated.
 */
import { expect } from 'chai';
import { eventually } from '../support/cluster.js';
import {
  Scenario,
  inParallel,
  lightSpec,
  msSince,
  recordFault,
  revisionPatch,
  until,
  type ProxiedOperator,
} from './support.js';

// STUDYLAB_RELIABILITY_LABS: fewer labs while debugging; the scenario asks for 200.
const LABS = Number(process.env.STUDYLAB_RELIABILITY_LABS ?? 200);

describe('reliability 1: kube-apiserver killed (SIGKILL) and restarted during a burst of 200 labs', function () {
  this.timeout(400_000);
  let s: Scenario;
  let op: ProxiedOperator;
  const names = Array.from({ length: LABS }, (_, i) => `lab-${i}`);

  before(async function () {
    s = await Scenario.start('apiserver');
    op = await s.startOperator({ args: ['--max-concurrent-reconciles=8'] });
    await op.process.waitReady();
  });

  /**
   * Runs `write` over every lab, 8 at a time, and SIGKILLs the API server once
   * `killAfter` of them are done; restarts it and lets the burst finish.
   * Returns when the API server was ready again.
   */
  async function burstWithKill(write: (name: string, i: number) => Promise<void>, killAfter: number) {
    let done = 0;
    const burst = inParallel(names, 8, async (name, i) => {
      await write(name, i);
      done++;
    });
    await until(
      () => `${done} of ${killAfter} written`,
      () => !(done < killAfter),
      120_000,
    );
    const killedAt = Date.now();
    const writtenBeforeKill = done;
    await s.local.stopApiServer('SIGKILL');
    await s.local.startApiServer();
    const backAt = Date.now();
    await burst;
    return { killedAt, backAt, downMs: backAt - killedAt, writtenBeforeKill };
  }

  async function expectAlive(): Promise<void> {
    expect(await Promise.race([op.process.exited, Promise.resolve('running')])).to.equal('running');
    const ready = await fetch(`${op.process.probesUrl}/readyz`);
    expect(ready.status, 'readyz').to.equal(200);
    const failed = op.process.logs.filter((l) => l.msg === 'operator failed' || l.level === 'fatal');
    expect(failed).to.deep.equal([]);
  }

  it('creates 200 labs through a kill, and converges with every child correct', async function () {
    const fault = await burstWithKill((name, i) => s.createLab(name, lightSpec(i)), Math.round(LABS * 0.3));
    await s.waitConverged(180_000, null);
    const childrenAt = Date.now();
    await s.waitConverged(180_000);
    await expectAlive();
    recordFault({
      scenario: '1 apiserver',
      fault: `SIGKILL kube-apiserver at ${fault.writtenBeforeKill}/${LABS} creates`,
      injected: 1,
      survived: 1,
      recoverMs: msSince(fault.backAt),
      note: `down ${(fault.downMs / 1000).toFixed(1)} s; children right ${((childrenAt - fault.backAt) / 1000).toFixed(1)} s after the restart; the rest is Deployment status and claim binding`,
    });
    expect((await s.labs()).length).to.equal(LABS);
  });

  it('edits 200 labs through a second kill, and converges again without touching a claim', async function () {
    const claims = await s.recordClaims();
    expect(claims.size, 'every 10th lab has a claim').to.equal(LABS / 10);
    const fault = await burstWithKill((name) => s.patchLab(name, revisionPatch(1)), Math.round(LABS * 0.4));
    await s.waitConverged(180_000, null);
    const childrenAt = Date.now();
    await s.waitConverged(180_000);
    await expectAlive();
    recordFault({
      scenario: '1 apiserver',
      fault: `SIGKILL kube-apiserver at ${fault.writtenBeforeKill}/${LABS} edits`,
      injected: 1,
      survived: 1,
      recoverMs: msSince(fault.backAt),
      note: `down ${(fault.downMs / 1000).toFixed(1)} s; children right ${((childrenAt - fault.backAt) / 1000).toFixed(1)} s after the restart; the rest is Deployment status and claim binding`,
    });
    // The operator saw the outage and came back by itself: its informers reconnected.
    const metrics = await op.process.metrics();
    expect(metrics).to.match(/informer_(relists|watch_restarts)_total\{[^}]*\} [1-9]/);
  });

  it('deletes a claim only with its lab, and only when the lab said Delete (UIDs before and after)', async function () {
    // lab-0's claim says Delete, lab-10's says Retain (see lightSpec).
    await s.deleteLab('lab-0');
    await s.deleteLab('lab-10');
    const uids = await s.claimUids();
    await eventually(
      async () => {
        const now = await s.claimUids();
        expect(now.has('lab-0'), 'the Delete claim is garbage collected with its lab').to.equal(false);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect((await s.claimUids()).get('lab-10'), 'the Retain claim outlives its lab').to.equal(
      uids.get('lab-10'),
    );
    expect(await s.verifyClaims(new Set(['lab-0']))).to.deep.equal([]);
  });
});
