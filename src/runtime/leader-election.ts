/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's algorithm, so that of several
 * replicas only one runs the controllers at a time.
 *
 * Guarantees:
 * - Writes use optimistic concurrency (the Lease's resourceVersion): of two candidates racing for a free
 *   or expired Lease, exactly one update succeeds.
 * - A leader that cannot renew for `renewDeadlineMs` stops leading (aborts the signal it gave
 *   onStartedLeading) before any other candidate may consider the Lease expired (`leaseDurationMs`).
 * - On a graceful stop the Lease is released (empty holder, 1 s duration), so a standby takes over
 *   at its next retry instead of waiting for the Lease to expire.
 * - `mayAct()` turns false the moment the renew deadline passes, judged when it is asked, not when a
 *   timer gets round to it. A client whose fence asks it (see Manager) sends nothing after that
 *   moment, so a leader cut off from renewing stops writing before anyone may take its place.
 *
 * Assumptions: clocks on all candidates run at about the same *rate*. They need not agree on the time:
 * expiry is judged against when this process last saw the Lease record change (observedTime, local
 * clock), never against the renewTime another process wrote.
 *
 * Caveats: the fence is in this process, not in the API server. A request sent before the deadline
 * but delayed in the network for longer than leaseDuration - renewDeadline may still land after a
 * new leader started; reconcilers must stay idempotent.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { jitter } from './backoff.js';
import { formatMicroTime, sleep, systemClock, type Clock } from './clock.js';
import type { Client } from './client.js';
import { requestKey } from './keys.js';
import { createLogger, errorFields, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { apiVersionOf, Leases, type KubeObject } from './resources.js';

export interface LeaderElectionOptions {
  readonly namespace: string;
  /** The Lease's name; also the `name` label of leader_election_master_status. */
  readonly name: string;
  /** Unique per process. @default `${hostname}_${randomUUID()}` */
  readonly identity?: string;
  /** How long a non-leader waits, after last seeing the record change, before taking over. @default 15000 */
  readonly leaseDurationMs?: number;
  /** How long the leader keeps retrying a failing renew before it stops leading. @default 10000 */
  readonly renewDeadlineMs?: number;
  /** The interval between attempts to acquire or renew. @default 2000 */
  readonly retryPeriodMs?: number;
  /** Release the Lease when the run signal aborts. @default true */
  readonly releaseOnCancel?: boolean;
}

/** The defaults, as in client-go and controller-runtime. */
export const LEADER_ELECTION_DEFAULTS = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  releaseOnCancel: true,
} as const;

/** client-go's wait.JitterUntil factor for the acquire loop: waits are retryPeriod * [1, 2.2). */
const JITTER_FACTOR = 1.2;

export interface LeaderCallbacks {
  /** Called once leadership is acquired; `leaderSignal` aborts the moment leadership ends. */
  onStartedLeading(leaderSignal: AbortSignal): void;
  /** Called after leadership ended (lost or released). Not called if leadership was never acquired. */
  onStoppedLeading(): void;
  /** Called when this process observes a new (non-empty) holder, itself included. */
  onNewLeader?(identity: string): void;
}

/** The leader fields of a Lease's spec, as client-go's LeaderElectionRecord. */
interface LeaderRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Thrown (by the Manager) when a leader could not renew its Lease and had to stop. */
export class LeaderElectionLostError extends Error {
  override readonly name = 'LeaderElectionLostError';
}

export class LeaderElector {
  readonly identity: string;
  private readonly options: Required<LeaderElectionOptions>;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly clock: Clock;
  /** The last Lease we read or wrote, and when (local clock) we first saw its current record. */
  private observed: { lease: Lease; record: LeaderRecord; raw: string } | undefined;
  private observedTime = 0;
  private reportedLeader = '';
  private leading = false;
  /** Set once this process has held the Lease: from then on it may act only until `actUntil`. */
  private everLed = false;
  /** Clock time until which this leader may send: the last successful renew's start + renewDeadline. */
  private actUntil = 0;

  constructor(
    private readonly client: Client,
    options: LeaderElectionOptions,
    deps: { logger?: Logger; metrics?: Metrics; clock?: Clock } = {},
  ) {
    const d = LEADER_ELECTION_DEFAULTS;
    this.options = {
      namespace: options.namespace,
      name: options.name,
      identity: options.identity ?? `${hostname()}_${randomUUID()}`,
      leaseDurationMs: options.leaseDurationMs ?? d.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? d.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? d.retryPeriodMs,
      releaseOnCancel: options.releaseOnCancel ?? d.releaseOnCancel,
    };
    const o = this.options;
    if (!(o.leaseDurationMs > o.renewDeadlineMs))
      throw new RangeError('leaseDurationMs must exceed renewDeadlineMs');
    if (!(o.renewDeadlineMs > JITTER_FACTOR * o.retryPeriodMs)) {
      throw new RangeError(`renewDeadlineMs must exceed ${JITTER_FACTOR} * retryPeriodMs`);
    }
    this.identity = o.identity;
    this.clock = deps.clock ?? systemClock;
    this.metrics = deps.metrics;
    this.log = (deps.logger ?? createLogger()).child({
      lease: this.lease,
      identity: o.identity,
    });
    this.metrics?.leaderElectionMasterStatus.set({ name: o.name }, 0);
  }

  /** True while this process holds the Lease and acts on it. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Whether this process may still send requests: always before it ever led (a candidate reads and
   * campaigns), and after that only until its renew deadline. Once false it stays false.
   */
  mayAct(): boolean {
    return !this.everLed || this.clock.now() < this.actUntil;
  }

  /** The holder this process last saw on the Lease ('' before it read one). */
  get leader(): string {
    return this.reportedLeader;
  }

  /** 'namespace/name' of the Lease. */
  get lease(): string {
    return requestKey({ namespace: this.options.namespace, name: this.options.name });
  }

  /**
   * Campaigns until the Lease is acquired, then leads until `signal` aborts or a renew fails for
   * renewDeadlineMs. Resolves when leadership is over (or `signal` aborted before it began); it does not
   * campaign again. The caller tells "lost" from "released" by whether it aborted `signal`.
   */
  async run(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<void> {
    const acquiredAt = await this.acquire(signal, callbacks);
    if (acquiredAt === undefined) return;

    const leader = new AbortController();
    this.everLed = true;
    this.actUntil = acquiredAt + this.options.renewDeadlineMs;
    this.setLeading(true);
    try {
      callbacks.onStartedLeading(leader.signal);
    } catch (err) {
      this.log.error('onStartedLeading threw', errorFields(err));
    }
    await this.renew(signal, callbacks, acquiredAt);
    // Stop acting first, then give the Lease back.
    this.setLeading(false);
    leader.abort(new LeaderElectionLostError('leadership ended'));
    if (this.options.releaseOnCancel && signal.aborted) await this.release();
    this.actUntil = 0;
    try {
      callbacks.onStoppedLeading();
    } catch (err) {
      this.log.error('onStoppedLeading threw', errorFields(err));
    }
  }

  /** Retries (jittered) until the Lease is ours; returns when the winning attempt started, or undefined if aborted. */
  private async acquire(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<number | undefined> {
    this.log.info('Attempting to acquire leader lease');
    while (!signal.aborted) {
      const start = this.clock.now();
      const ok = await this.tryAcquireOrRenew();
      this.reportTransition(callbacks);
      if (ok) {
        this.log.info('Acquired leader lease');
        return start;
      }
      await sleep(this.clock, jitter(this.options.retryPeriodMs, JITTER_FACTOR), signal);
    }
    return undefined;
  }

  /**
   * Renews every retryPeriod; returns when `signal` aborts or no renew succeeded for renewDeadline.
   * Deadlines count from when the last successful attempt *started*: others may count the Lease's
   * duration from when they saw that write, which is later, so we always stop first.
   */
  private async renew(signal: AbortSignal, callbacks: LeaderCallbacks, acquiredAt: number): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.options;
    let lastRenewStart = acquiredAt;
    for (;;) {
      await sleep(this.clock, retryPeriodMs, signal);
      if (signal.aborted) return;
      const start = this.clock.now();
      const deadline = lastRenewStart + renewDeadlineMs;
      // A hung request must not keep us "leading" past the deadline: race it.
      const ok = await raceTimer(this.clock, this.tryAcquireOrRenew(), deadline - start, false);
      this.reportTransition(callbacks);
      if (ok) {
        lastRenewStart = start;
        this.actUntil = start + renewDeadlineMs;
      } else if (this.clock.now() >= deadline) {
        this.log.error('Failed to renew leader lease within the renew deadline; stopping', {
          renewDeadlineMs,
        });
        return;
      }
    }
  }

  /** One attempt, as client-go's tryAcquireOrRenew. Never throws: any failure is `false`. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const desired: LeaderRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.max(1, Math.floor(this.options.leaseDurationMs / 1000)),
      acquireTime: formatMicroTime(now),
      renewTime: formatMicroTime(now),
      leaseTransitions: 0,
    };

    // Fast path: we hold a valid Lease, so renew from what we last wrote, without a GET.
    const observed = this.observed;
    if (observed && this.holdsObserved() && this.isObservedValid(now)) {
      const record = {
        ...desired,
        acquireTime: observed.record.acquireTime,
        leaseTransitions: observed.record.leaseTransitions,
      };
      if (await this.write(withRecord(observed.lease, record))) return true;
    }

    let current: Lease | undefined;
    try {
      current = await this.client.get<Lease>(Leases, this.options.namespace, this.options.name);
    } catch (err) {
      this.log.info('Failed to read leader lease', errorFields(err));
      return false;
    }
    if (!current) return this.create(desired);

    const record = recordOf(current);
    const raw = JSON.stringify(record);
    if (raw !== this.observed?.raw) {
      this.observed = { lease: current, record, raw };
      this.observedTime = this.clock.now();
    } else {
      this.observed = { ...this.observed, lease: current };
    }
    if (record.holderIdentity && this.isObservedValid(now) && !this.holdsObserved()) return false;

    const next = this.holdsObserved()
      ? { ...desired, acquireTime: record.acquireTime, leaseTransitions: record.leaseTransitions }
      : { ...desired, leaseTransitions: record.leaseTransitions + 1 };
    return this.write(withRecord(current, next));
  }

  /** Hands the Lease back (client-go's release): empty holder and a 1 s duration, so others need not wait. */
  private async release(): Promise<void> {
    const observed = this.observed;
    if (!observed || !this.holdsObserved()) return;
    const now = this.clock.now();
    const released: LeaderRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: formatMicroTime(now),
      renewTime: formatMicroTime(now),
      leaseTransitions: observed.record.leaseTransitions,
    };
    const ok = await raceTimer(
      this.clock,
      this.write(withRecord(observed.lease, released)),
      this.options.renewDeadlineMs,
      false,
    );
    if (ok) this.log.info('Released leader lease');
  }

  private create(record: LeaderRecord): Promise<boolean> {
    const lease: Lease = {
      apiVersion: apiVersionOf(Leases),
      kind: 'Lease',
      metadata: { namespace: this.options.namespace, name: this.options.name },
      spec: { ...record },
    };
    return this.send('create', () => this.client.create<Lease>(Leases, lease));
  }

  /** PUT with the resourceVersion we read: a Conflict means someone else wrote first. */
  private write(lease: Lease): Promise<boolean> {
    return this.send('update', () => this.client.replace<Lease>(Leases, lease));
  }

  /** One write of the Lease: the Lease it returns is observed; a failure is logged and is `false`. */
  private async send(verb: 'create' | 'update', request: () => Promise<Lease>): Promise<boolean> {
    try {
      this.observe(await request());
      return true;
    } catch (err) {
      this.log.info(`Failed to ${verb} leader lease`, errorFields(err));
      return false;
    }
  }

  private observe(lease: Lease): void {
    const record = recordOf(lease);
    this.observed = { lease, record, raw: JSON.stringify(record) };
    this.observedTime = this.clock.now();
  }

  private holdsObserved(): boolean {
    return this.observed?.record.holderIdentity === this.identity;
  }

  private isObservedValid(now: number): boolean {
    const seconds = this.observed?.record.leaseDurationSeconds ?? 0;
    return this.observedTime + seconds * 1000 > now;
  }

  private reportTransition(callbacks: LeaderCallbacks): void {
    const holder = this.observed?.record.holderIdentity ?? '';
    if (!holder || holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    this.log.info('New leader observed', { leader: holder });
    try {
      callbacks.onNewLeader?.(holder);
    } catch (err) {
      this.log.error('onNewLeader threw', errorFields(err));
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.metrics?.leaderElectionMasterStatus.set({ name: this.options.name }, leading ? 1 : 0);
  }
}

function recordOf(lease: Lease): LeaderRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: s.acquireTime ?? '',
    renewTime: s.renewTime ?? '',
    leaseTransitions: s.leaseTransitions ?? 0,
  };
}

/** A copy of `lease` (keeping its resourceVersion) carrying `record`. */
function withRecord(lease: Lease, record: LeaderRecord): Lease {
  return { ...lease, spec: { ...lease.spec, ...record } };
}

/** `p`'s value, or `fallback` if `ms` passes first. */
function raceTimer<T>(clock: Clock, p: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = clock.setTimer(() => resolve(fallback), Math.max(0, ms));
    void p.then((v) => {
      timer.cancel();
      resolve(v);
    });
  });
}
