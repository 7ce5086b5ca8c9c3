/**
 * Reliability 5: a fight. Another client keeps changing a field the operator
 * owns on a child (the Deployment's image) several times a second. The
 * operator must restore it with backoff, not in a hot loop (its write rate,
 * read from its own /metrics, stays bounded), and leave alone the fields it
 * does not own (replicas, which the lab leaves unset, and an annotation).
 */
import { expect } from 'chai';
import { Deployments, type KubeObject } from '../../src/runtime/index.js';
import { eventually } from '../support/cluster.js';
import { Scenario, msSince, recordFault, timedLogs, type ProxiedOperator } from './support.js';

const FIGHT_MS = 15_000;
const FIGHT_INTERVAL_MS = 200;

interface Deployment extends KubeObject {
  spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string }[] } } };
}

describe('reliability 5: another client fights over a field the operator owns', function () {
  this.timeout(300_000);
  let s: Scenario;
  let op: ProxiedOperator;

  before(async function () {
    s = await Scenario.start('fight');
    op = await s.startOperator({ logLevel: 'debug' });
    await op.process.waitReady();
    // No replicas in the spec: whoever scales the Deployment owns that field.
    await s.createLab('fought', {
      app: { image: 'nginx:1.27', ports: [{ name: 'http', containerPort: 80 }] },
      storage: { size: '1Mi' },
    });
    await s.waitConverged(120_000);
    await s.recordClaims();
  });

  const read = async () => (await s.admin.get<Deployment>(Deployments, s.namespace, 'fought'))!;
  const image = (d: Deployment) => d.spec?.template?.spec?.containers?.[0]?.image;

  it('restores the field with growing pauses and a bounded request rate, keeping the fields of others', async function () {
    // Fields the operator does not own, set once by someone else.
    await s.admin.patch(
      Deployments,
      s.namespace,
      'fought',
      { metadata: { annotations: { 'example.com/owner': 'team-a' } }, spec: { replicas: 0 } },
      { type: 'merge' },
    );
    const patchesBefore = await op.process.metricValue('rest_client_requests_total', { method: 'PATCH' });
    const reconcilesBefore = await op.process.metricValue('controller_runtime_reconcile_total');

    const fightStarted = Date.now();
    let edits = 0;
    while (Date.now() - fightStarted < FIGHT_MS) {
      await s.admin.patch(
        Deployments,
        s.namespace,
        'fought',
        [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `nginx:fighter-${edits}` }],
        { type: 'json' },
      );
      edits++;
      await new Promise((r) => setTimeout(r, FIGHT_INTERVAL_MS));
    }
    const fightEnded = Date.now();
    const fightSeconds = (fightEnded - fightStarted) / 1000;
    const patches =
      (await op.process.metricValue('rest_client_requests_total', { method: 'PATCH' })) - patchesBefore;
    const reconciles =
      (await op.process.metricValue('controller_runtime_reconcile_total')) - reconcilesBefore;

    // The fight's end: our value comes back once the backoff allows, and stays.
    await eventually(async () => expect(image(await read())).to.equal('nginx:1.27'), { timeoutMs: 90_000 });
    const restoredAfterMs = msSince(fightEnded);
    await s.waitConverged(60_000);

    const repairs = timedLogs(op.process).filter(
      (l) =>
        l.at >= fightStarted && l.msg === 'applying child' && l.kind === 'Deployment' && l.reason === 'drift',
    );
    const backedOff = timedLogs(op.process).filter(
      (l) => l.at >= fightStarted && l.msg === 'drift repair backed off',
    );
    // 1 s doubling: repairs at about 0, 1, 3, 7, 15 s into the fight; in a hot loop it would be one per edit.
    expect(repairs.length, 'repairs during the fight').to.be.within(2, 7);
    expect(backedOff.length, 'repairs deferred').to.be.at.least(1);
    const gaps = repairs.slice(1).map((r, i) => r.at - repairs[i]!.at);
    for (let i = 1; i < gaps.length; i++) {
      expect(gaps[i]!, `pause ${i} after pause ${i - 1}: ${gaps.join(', ')} ms`).to.be.at.least(
        gaps[i - 1]! * 1.5,
      );
    }
    // Every write of the operator counts: per repair the apply, the status swinging to Progressing and back
    // to Ready with the rollout it causes, and the DriftRepaired Event's series. In proportion to the
    // repairs (the log of the fight's length), never to the fighter's edits.
    expect(patches, `PATCH requests during ${edits} edits`).to.be.at.most(5 * repairs.length + 5);
    expect(patches, 'PATCH requests, compared with the edits').to.be.below(edits / 2);
    expect(patches / fightSeconds, 'PATCH per second').to.be.below(2);
    expect(reconciles, 'it did look at every change').to.be.at.least(repairs.length);

    const d = await read();
    expect(d.spec?.replicas, 'replicas belong to someone else').to.equal(0);
    expect(d.metadata?.annotations?.['example.com/owner']).to.equal('team-a');
    recordFault({
      scenario: '5 fight',
      fault: `${edits} edits of the image in ${fightSeconds.toFixed(0)} s`,
      injected: edits,
      survived: edits,
      recoverMs: restoredAfterMs,
      note: `${repairs.length} repairs, pauses ${gaps.map((g) => (g / 1000).toFixed(1)).join('/')} s, ${patches} PATCH (${(patches / fightSeconds).toFixed(2)}/s), ${reconciles} reconciles`,
    });
    expect(await s.verifyClaims()).to.deep.equal([]);
  });
});
