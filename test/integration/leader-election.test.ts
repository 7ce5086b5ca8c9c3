import { Writable } from 'node:stream';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { formatMicroTime } from '../../src/runtime/clock.js';
import { Client } from '../../src/runtime/client.js';
import { createLogger } from '../../src/runtime/logger.js';
import {
  LEADER_ELECTION_DEFAULTS,
  LeaderElector,
  type LeaderElectionOptions,
} from '../../src/runtime/leader-election.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { Leases, type KubeObject } from '../../src/runtime/resources.js';
import { cluster, eventually, testNamespace } from '../support/cluster.js';

/** eventually() for a synchronous check. */
const until = (check: () => void, opts?: { timeoutMs?: number; intervalMs?: number }): Promise<void> =>
  eventually(() => Promise.resolve().then(check), opts);

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    renewTime?: string;
    acquireTime?: string;
    leaseTransitions?: number;
  };
}

/** Short timings so the suite is quick; the algorithm is the same as with the 15/10/2 s defaults. */
const FAST = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 } as const;
/**
 * FAST, with a Lease far longer than the renew deadline: what a leader does at the deadline and what the
 * others do when it expires are then seconds apart, so a loaded machine cannot blur which one happened.
 */
const LONG_LEASE = { ...FAST, leaseDurationMs: 30_000 } as const;
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const quiet = createLogger({ stream: new Writable({ write: (_chunk, _enc, done) => done() }) });

/** One in-process candidate: its elector, its metrics and a timeline of its callbacks. */
class Candidate {
  readonly metrics = new Metrics();
  readonly elector: LeaderElector;
  readonly stop = new AbortController();
  startedAt?: number;
  stoppedAt?: number;
  leaderSignal?: AbortSignal;
  newLeaders: string[] = [];
  done: Promise<void>;

  constructor(client: Client, options: LeaderElectionOptions) {
    this.elector = new LeaderElector(client, options, { logger: quiet, metrics: this.metrics });
    this.done = this.elector.run(this.stop.signal, {
      onStartedLeading: (signal) => {
        this.startedAt = Date.now();
        this.leaderSignal = signal;
      },
      onStoppedLeading: () => (this.stoppedAt = Date.now()),
      onNewLeader: (id) => this.newLeaders.push(id),
    });
  }

  async masterStatus(lease: string): Promise<number | undefined> {
    const { values } = await this.metrics.leaderElectionMasterStatus.get();
    return values.find((v) => v.labels.name === lease)?.value;
  }
}

describe('LeaderElector (integration)', function () {
  this.timeout(120_000);
  let client: Client;
  let namespace: string;
  let leaseCounter = 0;
  const candidates: Candidate[] = [];
  const children: ChildProcess[] = [];

  before(async function () {
    const c = await cluster();
    client = new Client(c.kubeConfig);
    namespace = await testNamespace('leader-election');
  });

  afterEach(async () => {
    for (const c of candidates.splice(0)) {
      c.stop.abort();
      await c.done;
    }
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  const newLeaseName = (): string => `lease-${++leaseCounter}`;
  const fetchLease = async (name: string): Promise<Lease> => {
    const lease = await client.get<Lease>(Leases, namespace, name);
    if (!lease) throw new Error(`Lease ${name} not found`);
    return lease;
  };
  const candidate = (
    name: string,
    identity: string,
    timings: Partial<LeaderElectionOptions> = FAST,
  ): Candidate => {
    const c = new Candidate(client, { namespace, name, identity, ...timings });
    candidates.push(c);
    return c;
  };

  it('lets exactly one of two candidates lead, and records it in the Lease', async () => {
    const name = newLeaseName();
    const a = candidate(name, 'candidate-a');
    const b = candidate(name, 'candidate-b');
    await until(() => expect(a.elector.isLeader() || b.elector.isLeader(), 'a leader').to.equal(true));
    const [leader, standby] = a.elector.isLeader() ? [a, b] : [b, a];

    // Let the leader renew three times (seen in the re-fetched Lease) while the standby keeps trying.
    const first = await fetchLease(name);
    let renewals = 0;
    let lastRenew = first.spec?.renewTime;
    await eventually(
      async () => {
        const lease = await fetchLease(name);
        expect(standby.elector.isLeader(), 'standby must not lead').to.equal(false);
        if (lease.spec?.renewTime !== lastRenew) {
          renewals++;
          lastRenew = lease.spec?.renewTime;
        }
        if (renewals < 3) throw new Error(`only ${renewals} renewals so far`);
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );

    const lease = await fetchLease(name);
    expect(lease.spec?.holderIdentity).to.equal(leader.elector.identity);
    expect(lease.spec?.leaseDurationSeconds).to.equal(3);
    expect(lease.spec?.renewTime).to.match(MICRO_TIME);
    expect(lease.spec?.acquireTime).to.match(MICRO_TIME);
    expect(lease.spec?.acquireTime, 'renewals keep the acquire time').to.equal(first.spec?.acquireTime);
    expect(lease.spec?.leaseTransitions).to.equal(0);
    expect(standby.startedAt).to.equal(undefined);
    expect(standby.newLeaders).to.deep.equal([leader.elector.identity]);
    expect(await leader.masterStatus(name)).to.equal(1);
    expect(await standby.masterStatus(name)).to.equal(0);
  });

  it('hands over without waiting for the Lease to expire when the leader stops gracefully (the Lease is released)', async () => {
    const name = newLeaseName();
    // A long Lease: b takes over soon only if a released it, since otherwise b must wait for it to expire.
    const a = candidate(name, 'graceful-a', LONG_LEASE);
    await until(() => expect(a.elector.isLeader()).to.equal(true));
    const b = candidate(name, 'graceful-b');
    await until(() => expect(b.newLeaders).to.include('graceful-a'));

    const abortedAt = Date.now();
    a.stop.abort();
    await a.done;
    expect(a.leaderSignal?.aborted, 'the old leader was told to stop').to.equal(true);
    expect(a.elector.isLeader()).to.equal(false);
    await until(() => expect(b.elector.isLeader()).to.equal(true), {
      timeoutMs: LONG_LEASE.leaseDurationMs,
      intervalMs: 20,
    });
    const handoverMs = (b.startedAt as number) - abortedAt;
    console.log(
      `      graceful handover: ${handoverMs} ms (retryPeriod ${FAST.retryPeriodMs} ms, Lease ${LONG_LEASE.leaseDurationMs} ms)`,
    );
    expect(handoverMs, 'handover, compared with the Lease a held').to.be.below(
      LONG_LEASE.leaseDurationMs / 2,
    );

    const lease = await fetchLease(name);
    expect(lease.spec?.holderIdentity).to.equal('graceful-b');
    // The release keeps the count; b taking the released Lease is the one transition.
    expect(lease.spec?.leaseTransitions).to.equal(1);
  });

  it('takes over from a SIGKILLed leader only once its Lease has expired (default 15/10/2 s timings)', async function () {
    const name = newLeaseName();
    const { kubeconfigPath } = await cluster();
    const fixture = fileURLToPath(new URL('./fixtures/elector.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fixture, kubeconfigPath, namespace, name, 'doomed-leader'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(child);
    const lines = createInterface({ input: child.stdout });
    const leading = new Promise<void>((resolve) =>
      lines.on('line', (line) => {
        if ((JSON.parse(line) as { event: string }).event === 'leading') resolve();
      }),
    );
    await leading;

    const standby = candidate(name, 'standby', {}); // client-go defaults
    await until(() => expect(standby.newLeaders).to.include('doomed-leader'), {
      timeoutMs: 10_000,
    });
    // Kill right after a renewal, so the expected takeover is close to a full lease duration after the kill.
    const renewed = (await fetchLease(name)).spec?.renewTime;
    await eventually(async () => expect((await fetchLease(name)).spec?.renewTime).not.to.equal(renewed), {
      timeoutMs: 5000,
      intervalMs: 50,
    });
    const killedAt = Date.now();
    child.kill('SIGKILL');

    const d = LEADER_ELECTION_DEFAULTS;
    // The worst case of client-go's algorithm: the Lease, the standby's observation lag and one jittered
    // retry (2 x 2.2 retry periods). Twice that for a loaded machine: a standby that never takes over, or
    // waits for something else than the Lease, still fails.
    const takeoverBoundMs = 2 * (d.leaseDurationMs + 2 * 2.2 * d.retryPeriodMs);
    await until(() => expect(standby.elector.isLeader()).to.equal(true), {
      timeoutMs: takeoverBoundMs,
      intervalMs: 20,
    });
    const takeoverMs = (standby.startedAt as number) - killedAt;
    console.log(
      `      SIGKILL takeover: ${takeoverMs} ms (leaseDuration ${d.leaseDurationMs} ms, retryPeriod ${d.retryPeriodMs} ms)`,
    );
    // Not before the lease could have expired (the last renew was at most one retry period before the kill)...
    expect(takeoverMs).to.be.at.least(d.leaseDurationMs - d.retryPeriodMs);
    expect(takeoverMs).to.be.below(takeoverBoundMs);

    const lease = await fetchLease(name);
    expect(lease.spec?.holderIdentity).to.equal('standby');
    expect(lease.spec?.leaseTransitions).to.equal(1);
  });

  it('stops leading (before the Lease can expire) when it cannot renew', async () => {
    const name = newLeaseName();
    const a = candidate(name, 'usurped', LONG_LEASE);
    await until(() => expect(a.elector.isLeader()).to.equal(true));
    // Another party takes the Lease by force, as if our renewals had stopped reaching the API server. The
    // write carries the resourceVersion read, so the renewTime read is a's last renew (a renew in between
    // makes it a conflict, and the steal is tried again).
    const lastRenew = await eventually(
      async () => {
        const lease = await fetchLease(name);
        await client.replace<Lease>(Leases, {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: 'usurper',
            leaseDurationSeconds: 3600,
            renewTime: formatMicroTime(Date.now()),
          },
        });
        return Date.parse(lease.spec?.renewTime ?? '');
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    const stolenAt = Date.now();
    await until(() => expect(a.stoppedAt).to.be.a('number'), {
      timeoutMs: LONG_LEASE.leaseDurationMs,
      intervalMs: 20,
    });
    expect(a.leaderSignal?.aborted).to.equal(true);
    const gaveUpMs = (a.stoppedAt as number) - stolenAt;
    const sinceRenewMs = (a.stoppedAt as number) - lastRenew;
    console.log(
      `      gave up leading ${gaveUpMs} ms after losing the Lease, ${sinceRenewMs} ms after its last renew (renewDeadline ${LONG_LEASE.renewDeadlineMs} ms, Lease ${LONG_LEASE.leaseDurationMs} ms)`,
    );
    // Safety needs it to stop before others may count its Lease expired: a Lease after its last renew.
    // Stopping within half of it shows the renew deadline, not the Lease running out, is what stopped it.
    expect(sinceRenewMs, 'stopped leading this long after its last renew').to.be.below(
      LONG_LEASE.leaseDurationMs / 2,
    );
    expect(await a.masterStatus(name)).to.equal(0);
    await a.done;
    expect(
      (await fetchLease(name)).spec?.holderIdentity,
      'a lost leader does not release what it lost',
    ).to.equal('usurper');
  });
});
