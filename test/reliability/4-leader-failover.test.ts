/**
 * Reliability 4: two operator processes with leader election. The leader is
 * SIGKILLed in the middle of a burst: the standby must take over once the
 * Lease has expired, not before, and finish the work. A leader stopped
 * gracefully releases the Lease, so its successor need not wait for it to
 * expire. At no moment do both act: every write a process logs (debug level:
 * "applying child", "writing status") falls inside the time it held the
 * Lease, as its own log and the Lease itself say. How long each handover
 * took is printed with the suite's figures; the bounds asserted come from the
 * configured timings, with room for a loaded machine.
 */
import { expect } from 'chai';
import { OPERATOR_NAMESPACE } from '../../src/testenv/index.js';
import { Leases, type KubeObject } from '../../src/runtime/index.js';
import { eventually } from '../support/cluster.js';
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

const LEASE_SECONDS = 4;
const RETRY_SECONDS = 0.25;
/**
 * The Lease op-b writes while it leads. Long on purpose: the graceful handover from op-b is quick only
 * if op-b released the Lease, since otherwise op-c must wait this long for it to expire.
 */
const HELD_LEASE_SECONDS = 60;
/**
 * client-go's algorithm: a standby waits a full Lease duration after it last saw the record change,
 * and looks every retry period (jittered up to 2.2 x), so it leads at worst a Lease, its observation lag
 * and one retry after the last renew. Twice that, for a loaded 2-core machine.
 */
const TAKEOVER_BOUND_MS = 2 * (LEASE_SECONDS + 2 * 2.2 * RETRY_SECONDS) * 1000;
const LABS = 60;
const WRITES = new Set([
  'applying child',
  'writing status',
  'deleting child the spec no longer asks for',
  'replacing Service',
  'replacing a list another manager changed',
]);

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; leaseTransitions?: number; renewTime?: string };
}

describe('reliability 4: leader failover between two operator processes', function () {
  this.timeout(400_000);
  let s: Scenario;
  let leaseName: string;
  const names = Array.from({ length: LABS }, (_, i) => `lab-${i}`);

  before(async function () {
    s = await Scenario.start('leader');
    leaseName = `studylab-${s.namespace}`.slice(0, 63);
  });

  function start(podName: string, leaseSeconds = LEASE_SECONDS): Promise<ProxiedOperator> {
    return s.startOperator({
      podName,
      logLevel: 'debug',
      args: [
        '--leader-elect',
        `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
        `--leader-election-id=${leaseName}`,
        `--lease-duration=${leaseSeconds}`,
        '--renew-deadline=3',
        `--retry-period=${RETRY_SECONDS}`,
      ],
    });
  }

  async function holder(): Promise<string> {
    const lease = await s.admin.get<Lease>(Leases, OPERATOR_NAMESPACE, leaseName);
    return lease?.spec?.holderIdentity ?? '';
  }

  /** When the holder last renewed, as the Lease says (its own clock: the same machine's). */
  async function renewedAt(): Promise<number> {
    const lease = await s.admin.get<Lease>(Leases, OPERATOR_NAMESPACE, leaseName);
    return Date.parse(lease?.spec?.renewTime ?? '');
  }

  /** Polls the Lease until `podName` holds it; returns when that was first seen. */
  async function waitHolder(podName: string, timeoutMs = 30_000): Promise<number> {
    await eventually(
      async () => {
        const h = await holder();
        if (!h.startsWith(`${podName}_`)) throw new Error(`holder is ${JSON.stringify(h)}`);
      },
      { timeoutMs, intervalMs: 25 },
    );
    return Date.now();
  }

  /** When the process acquired and (if it did) released the Lease, and every write it logged. */
  function timeline(op: ProxiedOperator) {
    const logs = timedLogs(op.process);
    const acquired = logs.find((l) => l.msg === 'Acquired leader lease');
    const released = logs.find((l) => l.msg === 'Released leader lease');
    const writes = logs.filter((l) => WRITES.has(String(l.msg)));
    return {
      identity: acquired?.identity as string | undefined,
      acquiredAt: acquired?.at,
      releasedAt: released?.at,
      writes,
    };
  }

  /**
   * Writes every lab, 4 at a time, and injects `fault` once `after` writes are done and `leaderBusy`
   * holds: the fault lands in the middle of the work however fast or slow the machine is.
   */
  async function burst(
    write: (name: string, i: number) => Promise<void>,
    fault: () => Promise<void>,
    after: number,
    leaderBusy: () => boolean = () => true,
  ): Promise<number> {
    let done = 0;
    const all = inParallel(names, 4, async (name, i) => {
      await write(name, i);
      done++;
    });
    await until(
      () => `${done} written, the leader busy: ${leaderBusy()}`,
      () => !(done < after) && leaderBusy(),
      60_000,
    );
    const doneAtFault = done;
    await fault();
    await all;
    return doneAtFault;
  }

  let a: ProxiedOperator;
  let b: ProxiedOperator;

  it('SIGKILL of the leader mid-burst: the standby takes over once the Lease expired, and finishes', async function () {
    a = await start('op-a');
    await a.process.waitReady();
    await waitHolder('op-a');
    b = await start('op-b', HELD_LEASE_SECONDS);
    await b.process.waitReady();
    expect(await holder()).to.match(/^op-a_/);

    let killedAt = 0;
    // Read before the kill: op-a may renew once more in between, which only makes the real last renew later.
    let lastRenewOfA = 0;
    // Killed once op-a has written (as its log says): a kill before its first write would test nothing.
    const createdAtKill = await burst(
      (name, i) => s.createLab(name, lightSpec(i)),
      async () => {
        lastRenewOfA = await renewedAt();
        killedAt = Date.now();
        await a.process.stop('SIGKILL');
      },
      20,
      () => timeline(a).writes.length > 0,
    );
    const takenAt = await waitHolder('op-b', 30_000);
    await s.waitConverged(120_000);
    const recoverMs = msSince(killedAt);
    await s.recordClaims();

    const ta = timeline(a);
    const tb = timeline(b);
    expect(tb.acquiredAt, 'op-b acquired the Lease').to.be.a('number');
    const takeoverMs = tb.acquiredAt! - killedAt;
    expect(lastRenewOfA, 'renewTime of op-a on the Lease').to.be.above(0);
    // Safety: never before op-a's Lease could have expired, counted from its last renew.
    expect(tb.acquiredAt! - lastRenewOfA, 'op-b led this long after op-a last renewed').to.be.at.least(
      LEASE_SECONDS * 1000,
    );
    expect(takeoverMs, 'takeover after the kill').to.be.below(TAKEOVER_BOUND_MS);
    expect(ta.writes.length, 'op-a wrote while it led').to.be.at.least(1);
    expect(ta.writes.every((w) => w.at >= ta.acquiredAt! && w.at <= killedAt)).to.equal(true);
    const early = tb.writes.filter((w) => w.at < tb.acquiredAt!);
    expect(early, 'op-b wrote before it held the Lease').to.deep.equal([]);
    expect(tb.writes.length, 'op-b finished the burst').to.be.at.least(1);
    expect(await holder()).to.equal(tb.identity);
    recordFault({
      scenario: '4 leader',
      fault: `SIGKILL the leader after ${createdAtKill}/${LABS} creates`,
      injected: 1,
      survived: 1,
      recoverMs,
      note: `standby led after ${(takeoverMs / 1000).toFixed(1)} s (Lease ${LEASE_SECONDS} s, last renewed ${((killedAt - lastRenewOfA) / 1000).toFixed(1)} s before the kill; seen on the Lease after ${((takenAt - killedAt) / 1000).toFixed(1)} s)`,
    });
  });

  it('graceful stop of the leader mid-burst: the released Lease is taken without waiting for it to expire, and the old leader stops writing first', async function () {
    const c = await start('op-c');
    await c.process.waitReady();
    expect(await holder()).to.match(/^op-b_/);

    let stoppedAt = 0;
    let exit: Promise<number | null> = Promise.resolve(null);
    await burst(
      (name) => s.patchLab(name, revisionPatch(1)),
      () => {
        stoppedAt = Date.now();
        exit = b.process.stop('SIGTERM');
        return Promise.resolve();
      },
      10,
    );
    const takenAt = await waitHolder('op-c', 30_000);
    expect(await exit, 'op-b exit code').to.equal(0);
    await s.waitConverged(120_000);
    const recoverMs = msSince(stoppedAt);

    const tb = timeline(b);
    const tc = timeline(c);
    expect(tb.releasedAt, 'op-b released the Lease').to.be.a('number');
    expect(tc.acquiredAt, 'op-c acquired the Lease').to.be.a('number');
    const handoverMs = tc.acquiredAt! - stoppedAt;
    // Had op-b not released its Lease, op-c would have waited the HELD_LEASE_SECONDS op-b wrote on it.
    expect(handoverMs, 'from SIGTERM to the new leader').to.be.below((HELD_LEASE_SECONDS * 1000) / 2);
    const lastWriteOfB = Math.max(...tb.writes.map((w) => w.at));
    expect(lastWriteOfB, 'op-b wrote after it released the Lease').to.be.at.most(tb.releasedAt!);
    expect(tb.releasedAt!).to.be.at.most(tc.acquiredAt!);
    expect(
      tc.writes.filter((w) => w.at < tc.acquiredAt!),
      'op-c wrote before it held the Lease',
    ).to.deep.equal([]);
    expect(await holder()).to.equal(tc.identity);
    recordFault({
      scenario: '4 leader',
      fault: 'SIGTERM the leader after 10 edits (graceful)',
      injected: 1,
      survived: 1,
      recoverMs,
      note: `handover ${handoverMs} ms (seen on the Lease after ${takenAt - stoppedAt} ms; the Lease op-b held said ${HELD_LEASE_SECONDS} s)`,
    });
    expect(await s.verifyClaims()).to.deep.equal([]);
  });
});
