/**
 * What the reconcile history (src/runtime/history.ts) costs: CPU per reconcile and memory at its bound.
 *
 *   node --expose-gc --import tsx bench/history-overhead.ts
 *
 * A micro benchmark, not the operator bench (`make bench`): it records the steps a StudyLab reconcile
 * records (two triggers, dequeue, five cache reads, three diffs, three API requests, status, result,
 * as the live page shows for a lab with a Deployment and a Service) without any API server, so the
 * figure is the history's own cost. The async part runs each fake reconcile inside the trace context
 * (AsyncLocalStorage), which the history turns on for every reconcile, with and without the history.
 */
import { performance } from 'node:perf_hooks';
import { HISTORY_DEFAULTS, ReconcileHistory } from '../src/runtime/history.js';
import { NO_TRACE, Tracer, type ReconcileTrace } from '../src/runtime/trace.js';

/** As many labs as the history keeps, so that the fill below reaches every bound. */
const KEYS = HISTORY_DEFAULTS.maxKeys;
const ROUNDS = Number(process.env.ROUNDS ?? 200_000);

function reconcileSteps(trace: ReconcileTrace, i: number): void {
  trace.step('dequeue', { waitedMs: 3, retries: 0 });
  trace.step('cache', { kind: 'StudyLab', object: `ns/lab-${i}`, found: true, resourceVersion: '12345' });
  for (const kind of ['Deployment', 'Service', 'NetworkPolicy']) {
    trace.step('cache', { kind, object: `ns/lab-${i}`, found: true, resourceVersion: '12346' });
    trace.step('diff', {
      kind,
      apply: kind === 'Deployment',
      reason: kind === 'Deployment' ? 'intent-changed' : 'in-sync',
    });
  }
  trace.step('cache', { kind: 'PersistentVolumeClaim', object: `ns/lab-${i}`, found: false });
  trace.step('api', { verb: 'APPLY', kind: 'Deployment', code: '200', durationMs: 12 });
  trace.step('status', {
    write: true,
    changes: ['phase: Progressing -> Ready', 'Ready: False -> True (Available)'],
  });
  trace.step('api', { verb: 'APPLY', kind: 'StudyLab', subresource: 'status', code: '200', durationMs: 20 });
  trace.step('api', { verb: 'POST', kind: 'Event', code: '201', durationMs: 9 });
  trace.step('result', { outcome: 'done', durationMs: 45 });
}

function record(h: ReconcileHistory, i: number): void {
  const key = `ns/lab-${i % KEYS}`;
  h.triggered(key, {
    kind: 'StudyLab',
    type: 'MODIFIED',
    resourceVersion: String(10_000 + i),
    queue: 'added',
  });
  h.triggered(key, {
    kind: 'Deployment',
    type: 'MODIFIED',
    resourceVersion: String(10_001 + i),
    queue: 'merged',
  });
  const trace = h.begin('studylab', key, i.toString(16).padStart(8, '0'), NO_TRACE, 3, 0);
  reconcileSteps(trace, i % KEYS);
  h.end(i.toString(16).padStart(8, '0'), 45);
}

function syncCost(): number {
  const h = new ReconcileHistory();
  for (let i = 0; i < 20_000; i++) record(h, i); // warm up
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) record(h, i);
  return ((performance.now() - t0) * 1000) / ROUNDS;
}

/** A reconcile's await chain (15 awaits, as many as its steps), inside the trace context or not. */
async function asyncCost(withHistory: boolean): Promise<number> {
  const tracer = Tracer.off;
  const h = new ReconcileHistory();
  const once = async (i: number): Promise<void> => {
    const trace = withHistory ? h.begin('c', `ns/lab-${i % KEYS}`, String(i), NO_TRACE, 0, 0) : NO_TRACE;
    await tracer.run(trace, async () => {
      for (let s = 0; s < 15; s++) {
        await Promise.resolve();
        if (trace.enabled) trace.step('cache', { kind: 'Service', found: true });
      }
    });
    if (withHistory) h.end(String(i), 1);
  };
  for (let i = 0; i < 5_000; i++) await once(i);
  const n = Math.min(ROUNDS, 100_000);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once(i);
  return ((performance.now() - t0) * 1000) / n;
}

function heapAtBound(): { typicalMiB: number; worstMiB: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const measure = (fill: (h: ReconcileHistory) => void): number => {
    gc();
    const before = process.memoryUsage().heapUsed;
    const h = new ReconcileHistory();
    fill(h);
    gc();
    const after = process.memoryUsage().heapUsed;
    if (h.snapshot().keys.length !== HISTORY_DEFAULTS.maxKeys) throw new Error('history not full');
    return (after - before) / 2 ** 20;
  };
  const { maxKeys, perKey, maxSteps, maxTriggers, maxString, maxList } = HISTORY_DEFAULTS;
  const typicalMiB = measure((h) => {
    for (let i = 0; i < maxKeys * perKey * 2; i++) record(h, i);
  });
  // Every entry full: maxTriggers triggers, maxSteps steps, each with maxList strings of maxString characters.
  const worstMiB = measure((h) => {
    for (let i = 0; i < maxKeys * perKey; i++) {
      const key = `ns/lab-with-a-name-of-sixty-three-characters-${String(i % maxKeys).padStart(17, '0')}`;
      for (let t = 0; t < maxTriggers; t++)
        h.triggered(key, {
          kind: 'PersistentVolumeClaim',
          type: 'MODIFIED',
          object: `${key}-x`,
          resourceVersion: String(i * 100 + t),
          queue: 'merged',
        });
      const trace = h.begin('studylab', key, String(i), NO_TRACE, 1, 0);
      for (let s = 0; s < maxSteps; s++) {
        const long = () => `${i}-${s}-`.padEnd(maxString, 'x');
        trace.step('result', {
          outcome: long(),
          error: long(),
          drifted: Array.from({ length: maxList }, long),
        });
      }
      h.end(String(i), 1);
    }
  });
  return { typicalMiB, worstMiB };
}

const perReconcileUs = syncCost();
const without = await asyncCost(false);
const withHistory = await asyncCost(true);
const heap = heapAtBound();
console.log(
  `history: ${HISTORY_DEFAULTS.maxKeys} keys x ${HISTORY_DEFAULTS.perKey} reconciles, ${HISTORY_DEFAULTS.maxSteps} steps each at most`,
);
console.log(`recording one reconcile (2 triggers, 16 steps):        ${perReconcileUs.toFixed(2)} us`);
console.log(`a 15-await reconcile, no history (no trace context):   ${without.toFixed(2)} us`);
console.log(`the same with the history (trace context + 16 steps):   ${withHistory.toFixed(2)} us`);
console.log(`heap at the bound, typical entries:                     ${heap.typicalMiB.toFixed(1)} MiB`);
console.log(`heap at the bound, every entry full (worst case):       ${heap.worstMiB.toFixed(1)} MiB`);
