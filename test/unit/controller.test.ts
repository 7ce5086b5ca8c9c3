import { getEventListeners } from 'node:events';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { FakeClock } from '../../src/runtime/clock.js';
import { Controller, type ControllerOptions } from '../../src/runtime/controller.js';
import type { Priority } from '../../src/runtime/priority.js';
import type { Source } from '../../src/runtime/sources.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Metrics } from '../../src/runtime/metrics.js';
import {
  TerminalError,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
} from '../../src/runtime/reconcile.js';
import { exponentialFailureRateLimiter } from '../../src/runtime/rate-limiter.js';

/** A Source the test drives by hand: no informer, no API server. */
class ManualSource implements Source {
  private enqueue: Parameters<Source['start']>[0] | undefined;
  private markSynced!: () => void;
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(syncedAtStart = true) {
    if (syncedAtStart) this.markSynced();
  }

  start(enqueue: Parameters<Source['start']>[0]): void {
    this.enqueue = enqueue;
  }

  waitForSync(): Promise<void> {
    return this.synced;
  }

  sync(): void {
    this.markSynced();
  }

  emit(...names: string[]): void {
    this.emitAt(undefined, ...names);
  }

  emitAt(priority: Priority | undefined, ...names: string[]): void {
    if (!this.enqueue) throw new Error('source not started');
    for (const name of names) this.enqueue({ namespace: 'ns', name }, undefined, undefined, priority);
  }
}

/** A gate a reconcile call can wait on, opened by the test. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** Records every call and tracks concurrency; `behave` decides each call's outcome. */
class RecordingReconciler implements Reconciler {
  calls: { req: Request; ctx: ReconcileContext }[] = [];
  active = new Set<string>();
  maxActive = 0;
  overlapped = false;

  constructor(
    private readonly behave: (req: Request, ctx: ReconcileContext) => Promise<Result> | Result = () => ({}),
  ) {}

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result> {
    this.calls.push({ req, ctx });
    if (this.active.has(req.name)) this.overlapped = true;
    this.active.add(req.name);
    this.maxActive = Math.max(this.maxActive, this.active.size);
    try {
      return await this.behave(req, ctx);
    } finally {
      this.active.delete(req.name);
    }
  }

  callsFor(name: string): number {
    return this.calls.filter((c) => c.req.name === name).length;
  }
}

/** Waits (without sleeping) until `cond` holds, for at most `ms` of real time. */
async function until(cond: () => boolean, what = 'condition', ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

interface Harness {
  controller: Controller;
  source: ManualSource;
  metrics: Metrics;
  clock: FakeClock;
  logs: Record<string, unknown>[];
  stop: () => Promise<void>;
  running: Promise<void>;
  /** The signal the controller was started with. */
  stopSignal: AbortSignal;
}

function startController(
  reconciler: Reconciler,
  options: ControllerOptions = {},
  source = new ManualSource(),
): Harness {
  const metrics = new Metrics();
  const clock = new FakeClock();
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level: 'debug', format: 'json', stream });
  const controller = new Controller(
    'test',
    reconciler,
    [source],
    { rateLimiter: exponentialFailureRateLimiter(5, 1_000_000), ...options },
    { metrics, logger, clock },
  );
  const abort = new AbortController();
  const running = controller.start(abort.signal);
  return {
    controller,
    source,
    metrics,
    clock,
    logs,
    running,
    stopSignal: abort.signal,
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

async function counter(
  metric: { get(): Promise<{ values: { labels: object; value: number }[] }> },
  labels: object,
) {
  const { values } = await metric.get();
  const match = values.find((v) =>
    Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val),
  );
  return match?.value;
}

describe('Controller', () => {
  it('reconciles a key enqueued many times while the worker is busy only once', async () => {
    const busy = gate();
    const r = new RecordingReconciler((req) => (req.name === 'slow' ? busy.wait.then(() => ({})) : {}));
    const h = startController(r);
    h.source.emit('slow');
    await until(() => r.active.has('slow'), 'slow to start');
    h.source.emit('x', 'x', 'x', 'x', 'x');
    busy.open();
    await until(() => r.callsFor('x') === 1 && h.controller.stats().queue.depth === 0, 'x reconciled');
    await h.stop();
    expect(r.callsFor('x')).to.equal(1);
  });

  it('runs up to maxConcurrentReconciles keys in parallel, never one key twice, and reconciles a key re-added in flight again', async () => {
    const hold = gate();
    const r = new RecordingReconciler(() => hold.wait.then(() => ({})));
    const h = startController(r, { maxConcurrentReconciles: 4 });
    h.source.emit('a', 'b', 'c', 'd', 'e');
    await until(() => r.active.size === 4, 'four workers busy');
    h.source.emit('a', 'a');
    expect(h.controller.stats().activeWorkers).to.equal(4);
    expect(h.controller.stats().queue.depth, 'e waits; a is held back while in flight').to.equal(1);
    hold.open();
    await until(() => r.calls.length === 6, 'all reconciled');
    await h.stop();
    expect(r.maxActive).to.equal(4);
    expect(r.overlapped).to.equal(false);
    expect(r.callsFor('a')).to.equal(2);
    expect(r.callsFor('e')).to.equal(1);
  });

  it('reconciles an edit on a worker kept for high priority while every other worker is busy', async () => {
    const hold = gate();
    const r = new RecordingReconciler((req) =>
      req.name.startsWith('storm') ? hold.wait.then(() => ({})) : {},
    );
    const h = startController(r, { maxConcurrentReconciles: 2, highPriorityWorkers: 1 });
    h.source.emitAt('normal', 'storm-1', 'storm-2', 'storm-3');
    await until(() => r.active.size >= 2, 'both general workers busy');
    expect(r.active.size, 'the kept worker takes no normal key').to.equal(2);
    h.source.emitAt('high', 'edit');
    await until(() => r.callsFor('edit') === 1, 'the edit reconciled while the storm holds the others');
    expect(r.callsFor('storm-3')).to.equal(0);
    expect(h.controller.stats()).to.include({ workers: 3, highPriorityWorkers: 1 });
    hold.open();
    await until(() => r.callsFor('storm-3') === 1, 'the storm done');
    await h.stop();
    expect(r.maxActive).to.equal(3);
    expect(r.overlapped).to.equal(false);
  });

  it('retries an error with per-key exponential backoff, then forgets the backoff on success', async () => {
    let failures = 3;
    const r = new RecordingReconciler(() => {
      if (failures-- > 0) throw new Error('transient');
      return {};
    });
    const h = startController(r);
    h.source.emit('a');
    for (const delay of [5, 10, 20]) {
      const calls = r.calls.length;
      await until(() => h.controller.stats().queue.waiting.length === 1, 'key waiting for its backoff');
      expect(h.controller.stats().queue.waiting[0]?.readyInMs).to.equal(delay);
      h.clock.advance(delay - 1);
      expect(h.controller.stats().queue.depth, `not retried before ${delay} ms`).to.equal(0);
      h.clock.advance(1);
      await until(() => r.calls.length === calls + 1, `retry after ${delay} ms`);
    }
    await until(() => h.controller.stats().recent.length === 4, 'fourth reconcile recorded');
    expect(h.controller.queue.numRequeues('ns/a'), 'success forgets').to.equal(0);
    expect(h.controller.stats().recent.map((x) => x.result)).to.deep.equal([
      'error',
      'error',
      'error',
      'success',
    ]);
    await h.stop();
  });

  it('does not retry a TerminalError, also when it is the cause of another error', async () => {
    const r = new RecordingReconciler((req) => {
      const terminal = new TerminalError('spec is invalid');
      throw req.name === 'plain' ? terminal : new Error('wrapped', { cause: terminal });
    });
    const h = startController(r);
    h.source.emit('plain', 'wrapped');
    await until(() => h.controller.stats().recent.length === 2, 'both reconciled');
    h.clock.advance(10 * 60_000);
    expect(h.controller.stats().queue.waiting).to.deep.equal([]);
    expect(h.controller.stats().queue.depth).to.equal(0);
    expect(r.calls).to.have.length(2);
    expect(h.controller.stats().recent.every((x) => x.terminal === true)).to.equal(true);
    expect(await counter(h.metrics.terminalReconcileErrors, { controller: 'test' })).to.equal(2);
    await h.stop();
  });

  it('reconciles again after requeueAfterMs, without backoff growth', async () => {
    let calls = 0;
    const r = new RecordingReconciler(() => (++calls < 3 ? { requeueAfterMs: 30_000 } : {}));
    const h = startController(r);
    h.source.emit('a');
    for (let i = 1; i < 3; i++) {
      await until(() => h.controller.stats().queue.waiting.length === 1, 'requeue scheduled');
      expect(h.controller.stats().queue.waiting[0]?.readyInMs).to.equal(30_000);
      h.clock.advance(30_000);
      await until(() => r.calls.length === i + 1, 'requeued reconcile');
    }
    await until(() => h.controller.stats().recent.length === 3, 'recorded');
    expect(h.controller.stats().recent.map((x) => x.result)).to.deep.equal([
      'requeue_after',
      'requeue_after',
      'success',
    ]);
    expect(h.controller.queue.numRequeues('ns/a')).to.equal(0);
    await h.stop();
  });

  it('keeps its workers alive through synchronous throws, thrown non-Errors and empty results', async () => {
    const calls: string[] = [];
    const reconciler = {
      // Deliberately not async: a synchronous throw must be caught like a rejection.
      reconcile(req: Request): Promise<Result> {
        calls.push(req.name);
        if (req.name === 'sync-throw') throw new Error('sync');
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a careless reconciler
        if (req.name === 'string') return Promise.reject('a string');
        if (req.name === 'undefined') return Promise.resolve(undefined as unknown as Result);
        return Promise.resolve({});
      },
    };
    const h = startController(reconciler);
    h.source.emit('sync-throw', 'string', 'undefined', 'after');
    await until(() => h.controller.stats().recent.length === 4, 'all four reconciled');
    expect(calls).to.deep.equal(['sync-throw', 'string', 'undefined', 'after']);
    expect(h.controller.stats().recent.map((x) => [x.key, x.result, x.error])).to.deep.equal([
      ['ns/sync-throw', 'error', 'sync'],
      ['ns/string', 'error', 'a string'],
      ['ns/undefined', 'success', undefined],
      ['ns/after', 'success', undefined],
    ]);
    await h.stop();
  });

  it('gives every call its own reconcileID and a tagged child logger, and logs outcomes itself', async () => {
    const r = new RecordingReconciler((req, ctx) => {
      ctx.log.info('inside');
      if (req.name === 'bad') throw new Error('it broke', { cause: new Error('root cause') });
      return {};
    });
    const h = startController(r);
    h.source.emit('good', 'bad');
    await until(() => h.controller.stats().recent.length === 2, 'both reconciled');
    await h.stop();

    const ids = r.calls.map((c) => c.ctx.reconcileID);
    expect(new Set(ids).size).to.equal(2);
    for (const id of ids) expect(id).to.match(/^[0-9a-f]{8}$/);
    const inside = h.logs.filter((l) => l.msg === 'inside' || l.message === 'inside');
    expect(inside.map((l) => [l.controller, l.namespace, l.name, l.reconcileID])).to.deep.equal([
      ['test', 'ns', 'good', ids[0]],
      ['test', 'ns', 'bad', ids[1]],
    ]);
    const failure = h.logs.find((l) => l.reconcileID === ids[1] && l.level === 'error');
    expect(failure?.error).to.equal('it broke');
    expect(String(failure?.cause)).to.contain('root cause');
    expect(h.logs.some((l) => l.reconcileID === ids[0] && l.level === 'debug')).to.equal(true);
  });

  it('counts outcomes in the controller-runtime metrics, all starting at zero', async () => {
    const r = new RecordingReconciler((req) => {
      if (req.name === 'err') throw new Error('x');
      if (req.name === 'terminal') throw new TerminalError('x');
      if (req.name === 'requeue') return { requeue: true };
      if (req.name === 'after') return { requeueAfterMs: 1000 };
      return {};
    });
    const h = startController(r, { maxConcurrentReconciles: 3 });
    const total = (result: string) => counter(h.metrics.reconcileTotal, { controller: 'test', result });
    expect(await total('success')).to.equal(0);
    expect(await counter(h.metrics.maxConcurrentReconciles, { controller: 'test' })).to.equal(3);

    h.source.emit('ok', 'err', 'terminal', 'requeue', 'after');
    await until(() => h.controller.stats().recent.length === 5, 'five reconciled');
    expect(await total('success')).to.equal(1);
    expect(await total('error')).to.equal(2);
    expect(await total('requeue')).to.equal(1);
    expect(await total('requeue_after')).to.equal(1);
    expect(await counter(h.metrics.reconcileErrors, { controller: 'test' })).to.equal(2);
    expect(await counter(h.metrics.terminalReconcileErrors, { controller: 'test' })).to.equal(1);
    expect(await counter(h.metrics.activeWorkers, { controller: 'test' })).to.equal(0);
    const time = await h.metrics.reconcileTime.get();
    const count = time.values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'));
    expect(count?.value).to.equal(5);
    await h.stop();
  });

  it('keeps only the last N reconcile records for stats()', async () => {
    const r = new RecordingReconciler();
    const h = startController(r, { recentRecords: 3 });
    h.source.emit('a', 'b', 'c', 'd', 'e');
    await until(
      () => r.calls.length === 5 && h.controller.stats().recent.at(-1)?.key === 'ns/e',
      'five reconciled',
    );
    const recent = h.controller.stats().recent;
    expect(recent.map((x) => x.key)).to.deep.equal(['ns/c', 'ns/d', 'ns/e']);
    expect(
      recent.every((x) => x.reconcileID.length === 8 && x.durationMs >= 0 && x.startedAt instanceof Date),
    ).to.equal(true);
    await h.stop();
  });

  it('lets the event loop turn between reconciles that never wait on I/O', async () => {
    // Cache-only reconciles (a restart's initial list) complete in microtasks: without a turn of the
    // loop between them, a probe, a scrape or a watch event would wait until the whole queue is empty.
    const r = new RecordingReconciler();
    const h = startController(r, { maxConcurrentReconciles: 4 });
    h.source.emit('first');
    await until(() => r.calls.length === 1, 'workers running');
    const keys = Array.from({ length: 200 }, (_, i) => `lab-${i}`);
    h.source.emit(...keys);
    const seenByNextTurn = await new Promise<number>((resolve) =>
      setImmediate(() => resolve(r.calls.length)),
    );
    expect(seenByNextTurn).to.be.below(1 + keys.length);
    await until(() => r.calls.length === 1 + keys.length, 'all reconciled');
    await h.stop();
  });

  it('starts workers only after its sources have synced', async () => {
    const source = new ManualSource(false);
    const r = new RecordingReconciler();
    const h = startController(r, {}, source);
    source.emit('early');
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.calls).to.have.length(0);
    source.sync();
    await until(() => r.calls.length === 1, 'reconciled after sync');
    await h.stop();
  });

  it('on stop: aborts the reconcile signal, waits for in-flight calls, and skips keys still queued', async () => {
    const release = gate();
    let sawAbort = false;
    const r = new RecordingReconciler(async (req, ctx) => {
      if (req.name === 'inflight') {
        await release.wait;
        sawAbort = ctx.signal.aborted;
      }
      return {};
    });
    const h = startController(r);
    h.source.emit('inflight', 'queued');
    await until(() => r.active.has('inflight'), 'in flight');
    let stopped = false;
    const stopping = h.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped, 'waits for the in-flight reconcile').to.equal(false);
    release.open();
    await stopping;
    expect(sawAbort).to.equal(true);
    expect(r.calls.map((c) => c.req.name)).to.deep.equal(['inflight']);
    expect(h.controller.queue.shuttingDown).to.equal(true);
  });

  it('gives each reconcile its own signal: its requests listen there, the stop signal once per reconcile', async () => {
    const release = gate();
    const r = new RecordingReconciler(async (_req, ctx) => {
      // As twenty requests in flight would.
      for (let i = 0; i < 20; i++) ctx.signal.addEventListener('abort', () => undefined);
      await release.wait;
      return {};
    });
    const h = startController(r, { maxConcurrentReconciles: 2 });
    const stopListeners = (): number => getEventListeners(h.stopSignal, 'abort').length;
    h.source.emit('a', 'b');
    await until(() => r.active.size === 2, 'both in flight');
    const during = stopListeners();
    release.open();
    await until(() => r.calls.length === 2 && r.active.size === 0, 'both done');
    expect(during - stopListeners()).to.equal(2);
    await h.stop();
  });

  it('aborts the reconcile signal after reconcileTimeoutMs', async () => {
    let signal: AbortSignal | undefined;
    const done = gate();
    const r = new RecordingReconciler(async (_req, ctx) => {
      signal = ctx.signal;
      await done.wait;
      return {};
    });
    const h = startController(r, { reconcileTimeoutMs: 1000 });
    h.source.emit('a');
    await until(() => signal !== undefined, 'reconcile started');
    h.clock.advance(999);
    expect(signal?.aborted).to.equal(false);
    h.clock.advance(1);
    expect(signal?.aborted).to.equal(true);
    done.open();
    await h.stop();
  });
});
