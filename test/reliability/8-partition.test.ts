/**
 * Reliability 8: a live leader cut off from the API server. The leader's process stays alive, but its
 * proxy holds every byte both ways (a partition that keeps connections open) in the middle of a
 * 100-lab burst. The standby takes over once the Lease expires, and the old leader must by then have
 * stopped: by the server's own record (its audit log, in resourceVersion order) no write of the old
 * leader lands after the Lease changed hands, the old process exits non-zero, and when the partition
 * heals nothing the old leader had written into it reaches the server.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { OPERATOR_NAMESPACE } from '../../src/testenv/index.js';
import { Leases, compareResourceVersions, type KubeObject } from '../../src/runtime/index.js';
import { eventually } from '../support/cluster.js';
import {
  Scenario,
  inParallel,
  lightSpec,
  msSince,
  recordFault,
  until,
  type ProxiedOperator,
} from './support.js';

const LEASE_SECONDS = 4;
const RENEW_SECONDS = 3;
const RETRY_SECONDS = 0.25;
const LABS = 100;

/** One line of kube-apiserver's JSON audit log (the fields used here). */
interface AuditEvent {
  stage: string;
  verb: string;
  userAgent?: string;
  requestReceivedTimestamp: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  responseObject?: { metadata?: { resourceVersion?: string }; spec?: { holderIdentity?: string } };
}

describe('reliability 8: a live leader partitioned from the API server', function () {
  this.timeout(400_000);
  let s: Scenario;
  let leaseName: string;

  before(async function () {
    s = await Scenario.start('partition');
    leaseName = `studylab-${s.namespace}`.slice(0, 63);
  });

  function start(podName: string): Promise<ProxiedOperator> {
    return s.startOperator({
      podName,
      args: [
        '--leader-elect',
        `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
        `--leader-election-id=${leaseName}`,
        `--lease-duration=${LEASE_SECONDS}`,
        `--renew-deadline=${RENEW_SECONDS}`,
        `--retry-period=${RETRY_SECONDS}`,
      ],
    });
  }

  async function holder(): Promise<string> {
    const lease = await s.admin.get<KubeObject & { spec?: { holderIdentity?: string } }>(
      Leases,
      OPERATOR_NAMESPACE,
      leaseName,
    );
    return lease?.spec?.holderIdentity ?? '';
  }

  /** The writes the server accepted from the replica named `podName`, by its audit log. */
  function acceptedWrites(podName: string): AuditEvent[] {
    const path = s.local.auditLogPath;
    if (!path) throw new Error('the local plane runs without an audit log');
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as AuditEvent)
      .filter(
        (e) =>
          e.userAgent === `studylab-operator (${podName})` &&
          e.stage === 'ResponseComplete' &&
          (e.responseStatus?.code ?? 0) < 300,
      );
  }

  const rvOf = (e: AuditEvent): string => e.responseObject?.metadata?.resourceVersion ?? '';

  it('the old leader stops writing before the standby leads, exits non-zero, and nothing it wrote lands late', async function () {
    const a = await start('part-a');
    await a.process.waitReady();
    await until('part-a leads', async () => (await holder()).startsWith('part-a_'));
    const b = await start('part-b');
    await b.process.waitReady();

    const names = Array.from({ length: LABS }, (_, i) => `lab-${i}`);
    let created = 0;

    const burst = inParallel(names, 4, async (name, i) => {
      await s.createLab(name, lightSpec(i));
      created++;
    });
    await until(
      () => `${created} created`,
      () => created >= LABS / 3,
    );
    // The partition must cut a leader at work: wait for the server to have accepted one of part-a's
    // writes (the creates alone say nothing of how far a loaded machine let part-a get).
    const wroteLabs = (): boolean => acceptedWrites('part-a').some((e) => e.objectRef?.resource !== 'leases');
    await until('part-a has written for a lab', wroteLabs, 60_000, 100);
    // The partition: part-a is alive, its connections stay open, nothing gets through.
    a.proxy.hold();
    const heldAt = Date.now();
    await burst;

    await until('part-b leads', async () => (await holder()).startsWith('part-b_'), 60_000, 50);
    const exitCode = await a.process.exited;
    expect(exitCode, 'the old leader exits non-zero').to.not.equal(0);
    expect(exitCode, 'the old leader exits non-zero').to.not.equal(null);

    // The partition heals. The old process is gone; its connections were reset, so nothing it had
    // written into the partition may now be delivered.
    a.proxy.release();
    const releasedAt = Date.now();
    await until('the old leader left no connection open', () => a.proxy.open === 0);
    expect(
      a.proxy.deliveredAfterRelease,
      'bytes of the old leader delivered after the partition healed',
    ).to.equal(0);

    await s.waitConverged(180_000);
    const recoverMs = msSince(heldAt);

    // By the server's resourceVersion order: the new leader's first Lease write is the handover, and
    // every write the old leader got accepted comes before it.
    const takeover = acceptedWrites('part-b').find(
      (e) => e.objectRef?.resource === 'leases' && e.objectRef.name === leaseName,
    );
    expect(takeover, "part-b's first Lease write, in the audit log").to.not.equal(undefined);
    const fromA = acceptedWrites('part-a');
    const late = fromA.filter((e) => compareResourceVersions(rvOf(e), rvOf(takeover!)) !== -1);
    expect(
      late.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name} rv ${rvOf(e)}`),
      `writes of the old leader at or after the handover (rv ${rvOf(takeover!)})`,
    ).to.deep.equal([]);
    const afterHeal = fromA.filter((e) => Date.parse(e.requestReceivedTimestamp) >= releasedAt);
    expect(afterHeal.length, 'writes of the old leader received after the partition healed').to.equal(0);

    await eventually(async () => expect(await holder()).to.match(/^part-b_/));
    recordFault({
      scenario: '8 partition',
      fault: `hold the leader's connections after ${Math.round(LABS / 3)}/${LABS} creates`,
      injected: 1,
      survived: 1,
      recoverMs,
      note: `old leader exited ${exitCode}; ${fromA.length} of its writes accepted, all before the handover (rv ${rvOf(takeover!)}); ${a.proxy.droppedOnReset} held bytes dropped by its resets`,
    });
  });
});
