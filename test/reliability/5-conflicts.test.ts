/**
 * Reliability 5: a fight. Another client keeps changing a field the operator
 * owns on a child (the Deployment's image) several times a second. The
 * operator must restore it with backoff, not in a hot loop: each pause
 * between repairs at least as long as the configured backoff asks, so the
 * repairs and the writes they cost (read from its own /metrics) grow with the
 * log of the fight's length, not with the other client's edits. It leaves
 * alone the fields it does not own (replicas, which the lab leaves unset, and
 * an annotation). The write rate is printed with the suite's figures.
 */
import { expect } from 'chai';
import { Deployments, type KubeObject } from '../../src/runtime/index.js';
import { REPAIR_BACKOFF_DEFAULTS } from '../../src/studylab/repair-backoff.js';
import { eventually } from '../support/cluster.js';
import { Scenario, msSince, recordFault, timedLogs, type ProxiedOperator } from './support.js';

const FIGHT_MS = 15_000;
const FIGHT_INTERVAL_MS = 200;
/** The operator runs with the default repair backoff. */
const { baseMs: BACKOFF_BASE_MS, resetAfterMs: BACKOFF_RESET_MS } = REPAIR_BACKOFF_DEFAULTS;
/**
 * A log line's timestamp is taken when winston formats it, a little after the call: a pause between two
 * lines may read shorter than the pause between the two calls by about that much.
 */
const LOG_TIMESTAMP_SLACK_MS = 100;

/** The pause the backoff asks for after the n-th repair of a streak (n from 1): base, 2 base, 4 base... */
const pauseAfter = (n: number): number => BACKOFF_BASE_MS * 2 ** (n - 1);

/** The most repairs a streak can fit in `ms`: the k-th comes at least base * (2^(k-1) - 1) after the first. */
const mostRepairsWithin = (ms: number): number => 1 + Math.floor(Math.log2(ms / BACKOFF_BASE_MS + 1));

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

  it('restores the field with the growing pauses of its backoff and writes in proportion to its repairs, keeping the fields of others', async function () {
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
    const duringFight = repairs.filter((r) => r.at <= fightEnded);
    const gaps = repairs.slice(1).map((r, i) => r.at - repairs[i]!.at);
    // Each repair of the streak waits at least what the backoff asks (1 s doubling: repairs at about 0, 1,
    // 3, 7, 15 s into the fight); in a hot loop there would be one per edit. A machine too loaded to repair on
    // time only makes the pauses longer. A pause past the reset period would start a new streak: none is.
    for (const [i, gap] of gaps.entries()) {
      expect(gap, `pauses ${gaps.join(', ')} ms`).to.be.below(BACKOFF_RESET_MS);
      expect(
        gap + LOG_TIMESTAMP_SLACK_MS,
        `pause after repair ${i + 1}: ${gaps.join(', ')} ms`,
      ).to.be.at.least(pauseAfter(i + 1));
    }
    expect(duringFight.length, 'repairs during the fight').to.be.at.least(2);
    expect(duringFight.length, 'repairs during the fight').to.be.at.most(
      mostRepairsWithin(fightEnded - fightStarted + gaps.length * LOG_TIMESTAMP_SLACK_MS),
    );
    expect(backedOff.length, 'repairs deferred').to.be.at.least(1);
    // Every write of the operator counts: per repair the apply, the status swinging to Progressing and back
    // to Ready with the rollout it causes, and the DriftRepaired Event's series. In proportion to the
    // repairs (the log of the fight's length), never to the fighter's edits.
    expect(patches, `PATCH requests during ${edits} edits`).to.be.at.most(5 * repairs.length + 5);
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
