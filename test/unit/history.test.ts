import { expect } from 'chai';
import { Controller } from '../../src/runtime/controller.js';
import type { Source } from '../../src/runtime/sources.js';
import type { HandlerEvent } from '../../src/runtime/handlers.js';
import { ReconcileHistory } from '../../src/runtime/history.js';
import { historyTable } from '../../src/runtime/live.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Metrics } from '../../src/runtime/metrics.js';
import type { Reconciler, Request } from '../../src/runtime/reconcile.js';
import type { KubeObject } from '../../src/runtime/resources.js';
import { NO_TRACE, Tracer, currentTrace } from '../../src/runtime/trace.js';
import { Writable } from 'node:stream';

describe('ReconcileHistory', () => {
  let now = 1_000;
  const clock = (): number => now;

  it('gives a reconcile the triggers gathered since the last one, then starts afresh', () => {
    const h = new ReconcileHistory({}, clock);
    h.triggered('ns/a', { kind: 'StudyLab', type: 'ADDED', resourceVersion: '5', queue: 'added' });
    h.triggered('ns/a', { kind: 'Service', type: 'DELETED', object: 'ns/a', queue: 'merged' });
    const trace = h.begin('c', 'ns/a', 'r1', NO_TRACE, 12.4, 0);
    expect(trace.enabled).to.equal(true);
    trace.step('diff', { kind: 'Deployment', apply: true, reason: 'absent' });
    trace.step('api', { verb: 'APPLY', kind: 'Deployment', code: '201', durationMs: 3 });
    trace.step('result', { outcome: 'done', durationMs: 20 });
    h.end('r1', 20);
    h.begin('c', 'ns/a', 'r2', NO_TRACE, 0, 0);

    const [second, first] = h.entries('ns/a');
    expect(second!.triggers).to.deep.equal([]);
    expect(first!.triggers.map((t) => `${t.kind} ${t.type} ${t.queue}`)).to.deep.equal([
      'StudyLab ADDED added',
      'Service DELETED merged',
    ]);
    expect(first!.waitedMs).to.equal(12);
    expect(first!.outcome).to.equal('done');
    expect(first!.durationMs).to.equal(20);
    expect(first!.steps.map((s) => s.step)).to.deep.equal(['diff', 'api', 'result']);
    expect(h.snapshot().api).to.deep.equal({ 'APPLY 201': 1 });
    expect(h.snapshot().running.map((r) => r.reconcileID)).to.deep.equal(['r2']);
    expect(h.snapshot().lastEvents.map((e) => `${e.kind} ${e.type}`)).to.have.members([
      'StudyLab ADDED',
      'Service DELETED',
    ]);
  });

  it('keeps at most perKey reconciles a key and maxKeys keys, forgetting the least recently reconciled', () => {
    const h = new ReconcileHistory({ maxKeys: 2, perKey: 3 }, clock);
    for (let i = 0; i < 5; i++) h.begin('c', 'ns/a', `a${i}`, NO_TRACE, 0, 0);
    h.begin('c', 'ns/b', 'b0', NO_TRACE, 0, 0);
    h.begin('c', 'ns/a', 'a5', NO_TRACE, 0, 0);
    h.begin('c', 'ns/c', 'c0', NO_TRACE, 0, 0);
    expect(h.entries('ns/a').map((e) => e.reconcileID)).to.deep.equal(['a5', 'a4', 'a3']);
    expect(h.snapshot().keys).to.deep.equal(['ns/c', 'ns/a']);
    expect(h.entries('ns/b')).to.deep.equal([]);
  });

  it('bounds triggers, steps, strings and lists, and keeps no nested object', () => {
    const h = new ReconcileHistory({ maxTriggers: 2, maxSteps: 3, maxString: 5, maxList: 2 }, clock);
    for (let i = 0; i < 4; i++) h.triggered('k', { kind: 'StudyLab', type: 'MODIFIED', queue: 'merged' });
    const trace = h.begin('c', 'k', 'r', NO_TRACE, 0, 0);
    trace.step('diff', { reason: 'a long reason', drifted: ['x', 'y', 'z'], live: { spec: {} } });
    for (let i = 0; i < 4; i++) trace.step('cache', { found: true });
    const [entry] = h.entries('k');
    expect(entry!.triggers).to.have.length(2);
    expect(entry!.moreTriggers).to.equal(2);
    expect(entry!.steps).to.have.length(3);
    expect(entry!.moreSteps).to.equal(2);
    expect(entry!.steps[0]!.fields).to.deep.equal({
      reason: 'a lon…',
      drifted: ['x', 'y'],
      live: '[object]',
    });
  });

  it('keeps at most maxEntryChars characters of strings an entry, over all its steps', () => {
    const h = new ReconcileHistory({ maxEntryChars: 10, maxString: 6 }, clock);
    const trace = h.begin('c', 'k', 'r', NO_TRACE, 0, 0);
    for (let i = 0; i < 3; i++) trace.step('result', { error: 'abcdefgh' });
    expect(h.entries('k')[0]!.steps.map((s) => s.fields.error)).to.deep.equal(['abcdef…', 'abcd…', '…']);
  });

  it('forgets pending triggers of keys never taken beyond maxKeys', () => {
    const h = new ReconcileHistory({ maxKeys: 2 }, clock);
    for (const k of ['a', 'b', 'c']) h.triggered(k, { kind: 'StudyLab', type: 'ADDED', queue: 'added' });
    h.begin('c', 'a', 'r', NO_TRACE, 0, 0);
    expect(h.entries('a')[0]!.triggers).to.deep.equal([]);
  });

  it('sends steps on to the --trace log when that key is traced', () => {
    const h = new ReconcileHistory({}, clock);
    const logged: string[] = [];
    const inner = { enabled: true, step: (s: string) => logged.push(s) };
    h.begin('c', 'k', 'r', inner, 0, 0).step('cache', { found: false });
    expect(logged).to.deep.equal(['cache']);
  });

  it('renders a text table with one line a reconcile', () => {
    now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const h = new ReconcileHistory({}, clock);
    h.triggered('ns/a', { kind: 'StudyLab', type: 'ADDED', resourceVersion: '7', queue: 'added' });
    const t = h.begin('c', 'ns/a', 'abcd', NO_TRACE, 3, 0);
    t.step('diff', { kind: 'Service', reason: 'absent' });
    t.step('api', { verb: 'APPLY', kind: 'Service', code: '201', durationMs: 4 });
    t.step('result', { outcome: 'done' });
    h.end('abcd', 9);
    const lines = historyTable(h.entries('ns/a')).trimEnd().split('\n');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(/^STARTED\s+RECONCILE\s+TRIGGERS\s+WAITED\s+DIFFS\s+API\s+OUTCOME\s+TOOK$/);
    expect(lines[1]).to.match(
      /^12:00:00\.000\s+abcd\s+StudyLab ADDED rv=7\s+3ms\s+Service absent\s+APPLY Service 201\s+done\s+9ms$/,
    );
  });
});

describe('Controller with a history', () => {
  it('records why each key was queued and every step of its reconcile, with --trace off', async () => {
    let emit!: (req: Request, event?: HandlerEvent, obj?: KubeObject) => void;
    const source: Source = {
      start: (enqueue) => (emit = enqueue),
      waitForSync: () => Promise.resolve(),
    };
    const history = new ReconcileHistory();
    let sawTrace = false;
    const reconciler: Reconciler = {
      reconcile: (_req, ctx) => {
        // The client and the cache find the trace in the async context: it must be there untraced too.
        sawTrace = currentTrace() !== undefined;
        ctx.trace?.step('diff', { kind: 'Service', reason: 'absent' });
        return Promise.resolve({});
      },
    };
    const quiet = createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) });
    const controller = new Controller(
      'c',
      reconciler,
      [source],
      {},
      {
        metrics: new Metrics(),
        logger: quiet,
        tracer: Tracer.off,
        history,
      },
    );
    const stop = new AbortController();
    const running = controller.start(stop.signal);
    const child: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'svc', namespace: 'ns', resourceVersion: '42' },
    };
    await new Promise((r) => setImmediate(r));
    emit({ namespace: 'ns', name: 'lab' }, 'delete', child);
    const deadline = Date.now() + 30_000;
    while (history.entries('ns/lab')[0]?.durationMs === undefined && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    await running;

    const [entry] = history.entries('ns/lab');
    expect(entry!.triggers).to.have.length(1);
    expect(entry!.triggers[0]).to.include({
      kind: 'Service',
      type: 'DELETED',
      object: 'ns/svc',
      resourceVersion: '42',
      queue: 'added',
    });
    expect(entry!.steps.map((s) => s.step)).to.deep.equal(['dequeue', 'diff', 'result']);
    expect(entry!.outcome).to.equal('done');
    expect(sawTrace).to.equal(true);
  });
});
