/**
 * Reliability 4: two operator processes with leader election. The leader is
 * SIGKILLed in the middle of a burst: the standby must take over within the
 * Lease's duration and finish the work. A leader stopped gracefully hands
 * over within 2 s. At no moment do both act: every write a process logs
 * (debug level: "applying child", "writing status") falls inside the time it
 * held the Lease, as its own log and the Lease itself say.
 */
import { expect } from 'chai';
import { Leases, type KubeObject } from '../../src/runtime/index.js';
import { eventually } from '../support/cluster.js';
import { OPERATOR_NAMESPACE } from '../support/install.js';
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
const LABS = 60;
const WRITES = new Set([
  'applying child',
  'writing status',
  'deleting child the spec no longer asks for',
  'replacing Service',
  'replacing a list another manager changed',
]);

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; leaseTransitions?: number };
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

  function start(podName: string): Promise<ProxiedOperator> {
    return s.startOperator({
      podName,
      logLevel: 'debug',
      args: [
        '--leader-elect',
        `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
        `--leader-election-id=${leaseName}`,
        `--lease-duration=${LEASE_SECONDS}`,
        '--renew-deadline=3',
        `--retry-period=${RETRY_SECONDS}`,
      ],
    });
  }

  async function holder(): Promise<string> {
    const lease = await s.admin.get<Lease>(Leases, OPERATOR_NAMESPACE, leaseName);
    return lease?.spec?.holderIdentity ?? '';
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

  async function burst(
    write: (name: string, i: number) => Promise<void>,
    fault: () => Promise<void>,
    after: number,
  ) {
    let done = 0;
    const all = inParallel(names, 4, async (name, i) => {
      await write(name, i);
      done++;
    });
    await until(
      () => `${done} written`,
      () => !(done < after),
      60_000,
    );
    await fault();
    await all;
  }

  let a: ProxiedOperator;
  let b: ProxiedOperator;

  it('SIGKILL of the leader mid-burst: the standby takes over within the Lease duration and finishes', async function () {
    a = await start('op-a');
    await a.process.waitReady();
    await waitHolder('op-a');
    b = await start('op-b');
    await b.process.waitReady();
    expect(await holder()).to.match(/^op-a_/);

    let killedAt = 0;
    await burst(
      (name, i) => s.createLab(name, lightSpec(i)),
      async () => {
        killedAt = Date.now();
        await a.process.stop('SIGKILL');
      },
      20,
    );
    const takenAt = await waitHolder('op-b', 30_000);
    await s.waitConverged(120_000);
    const recoverMs = msSince(killedAt);
    await s.recordClaims();

    const ta = timeline(a);
    const tb = timeline(b);
    expect(tb.acquiredAt, 'op-b acquired the Lease').to.be.a('number');
    const takeoverMs = tb.acquiredAt! - killedAt;
    // client-go's algorithm: a standby waits a full Lease duration after it last saw the record change,
    // and looks every retry period (jittered up to 2.2 x): that is the bound, plus a margin for a busy machine.
    expect(takeoverMs, 'takeover').to.be.below((LEASE_SECONDS + 2.2 * RETRY_SECONDS + 1.5) * 1000);
    expect(ta.writes.length, 'op-a wrote while it led').to.be.at.least(1);
    expect(ta.writes.every((w) => w.at >= ta.acquiredAt! && w.at <= killedAt)).to.equal(true);
    const early = tb.writes.filter((w) => w.at < tb.acquiredAt!);
    expect(early, 'op-b wrote before it held the Lease').to.deep.equal([]);
    expect(tb.writes.length, 'op-b finished the burst').to.be.at.least(1);
    expect(await holder()).to.equal(tb.identity);
    recordFault({
      scenario: '4 leader',
      fault: `SIGKILL the leader after 20/${LABS} creates`,
      injected: 1,
      survived: 1,
      recoverMs,
      note: `standby led after ${(takeoverMs / 1000).toFixed(1)} s (Lease ${LEASE_SECONDS} s; seen on the Lease after ${((takenAt - killedAt) / 1000).toFixed(1)} s)`,
    });
  });

  it('graceful stop of the leader mid-burst: handover within 2 s, and the old leader stops writing first', async function () {
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
    expect(handoverMs, 'from SIGTERM to the new leader').to.be.below(2_000);
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
      note: `handover ${handoverMs} ms (seen on the Lease after ${takenAt - stoppedAt} ms)`,
    });
    expect(await s.verifyClaims()).to.deep.equal([]);
  });
});
