/**
 * Issue 22, "perhaps no status write that a later one in the same instant replaces": would holding
 * a status write for a short window W, and sending only the last of a lab's writes within it, save
 * enough writes to pay for itself, and how late would it report Ready?
 *
 * One plane with kube-apiserver's audit log on for the operator's ServiceAccount (the server's own
 * record of every status write: when it was received and what it stored), ours as the image runs it,
 * N labs created as the bench creates them; once all are Ready and the operator is idle, the
 * per-lab timeline of status writes is read from the audit log and replayed against each window.
 *
 *   npx tsx bench/status-gaps.ts [--labs=1000] [--source=audit|watch] [--concurrency=4]
 *                                [--create-concurrency=16] [--no-bundle]
 *
 * --source=watch reads the timeline from the bench's own watch instead (the time each event arrived),
 * on a plane without the audit log, whose synchronous write per request slows the API server a little.
 *
 * The replay: a write whose observedGeneration differs from the lab's previous write (a new lab's
 * first write, or a new spec) is sent at once, replacing any held one; any other write is held
 * until W after it, and a later write of the same lab within that time replaces it (the deadline
 * stays, so status is never more than W behind). A second replay also sends a write that makes the
 * lab Ready at once. Replaying the recorded timeline ignores what holding would change upstream (a
 * held write is not seen by the watch, so it triggers nothing), so the savings are an estimate.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { StudyLab, StudyLabStatus } from '../src/api/v1alpha1/index.js';
import { StudyLabs } from '../src/studylab/resources.js';
import { statusChanges, statusEqual } from '../src/studylab/status.js';
import { createLabs } from './lib/labs.js';
import { buildOperators, nodeForOurs, startOperator, waitFor, waitIdle } from './lib/operators.js';
import { log, type BenchOptions } from './lib/options.js';
import { createNamespace, startPlane, type Bench } from './lib/plane.js';
import { percentile } from './lib/stats.js';
import { countWhere, labReady, NamespaceWatch } from './lib/watch.js';

const { values: flags } = parseArgs({
  options: {
    labs: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
    'create-concurrency': { type: 'string', default: '16' },
    'timeout-s': { type: 'string', default: '900' },
    'no-bundle': { type: 'boolean', default: false },
    /** audit: the server's record (the plane audits the operator); watch: the bench's watch, with no audit log. */
    source: { type: 'string', default: 'audit' },
  },
  strict: true,
});

const WINDOWS_MS = [50, 100, 250, 500, 1000, 2000];

/** One line of kube-apiserver's JSON audit log (the fields read here). */
interface AuditEvent {
  stage: string;
  verb: string;
  requestReceivedTimestamp: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  responseObject?: StudyLab;
}

/** One status write of one lab, as the server received and stored it. */
interface Write {
  /** When the server received it, in ms since the epoch (microseconds kept as the fraction). */
  t: number;
  status: StudyLabStatus;
  /** Its observedGeneration differs from the lab's previous write's: a new generation, reported at once. */
  newGeneration: boolean;
  /** The server stored nothing new (the same resourceVersion as the lab's previous write). */
  noop: boolean;
}

/** RFC 3339 with microseconds to ms since the epoch, without losing the microseconds to Date. */
function epochMs(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) throw new Error(`unexpected timestamp ${ts}`);
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? '0'}`) * 1000;
}

/** phase/Ready reason: what a user reading `kubectl get slab` and the Ready condition sees. */
function state(s: StudyLabStatus): string {
  const ready = (s.conditions ?? []).find((c) => c.type === 'Ready');
  return `${s.phase ?? '-'}/${ready?.reason ?? '-'}`;
}

/**
 * The status changes of each lab as the bench's watch saw them, at the time each event arrived: the
 * view without an audit log (which costs the API server a synchronous file write per write), and a
 * cross-check of the audit log's count. A write that stored nothing new is not seen.
 */
function watchWrites(watch: NamespaceWatch<StudyLab>): Map<string, Write[]> {
  const byLab = new Map<string, Write[]>();
  watch.onChange((lab, at) => {
    const status = lab.status;
    if (!status) return;
    const writes = byLab.get(lab.metadata.name!) ?? [];
    const previous = writes[writes.length - 1];
    if (previous && statusEqual(previous.status, status)) return;
    writes.push({
      t: performance.timeOrigin + at,
      status,
      newGeneration: previous?.status.observedGeneration !== status.observedGeneration,
      noop: false,
    });
    byLab.set(lab.metadata.name!, writes);
  });
  return byLab;
}

/** The status writes of each lab in `namespace`, in the order the server received them. */
function readWrites(auditLog: string, namespace: string): { byLab: Map<string, Write[]>; failed: number } {
  const events: AuditEvent[] = [];
  let failed = 0;
  for (const line of readFileSync(auditLog, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const e = JSON.parse(line) as AuditEvent;
    const ref = e.objectRef;
    if (e.stage !== 'ResponseComplete' || ref?.resource !== 'studylabs' || ref.subresource !== 'status')
      continue;
    if (ref.namespace !== namespace) continue;
    if ((e.responseStatus?.code ?? 0) >= 300 || !e.responseObject?.status) {
      failed++;
      continue;
    }
    events.push(e);
  }
  events.sort((a, b) => epochMs(a.requestReceivedTimestamp) - epochMs(b.requestReceivedTimestamp));
  const byLab = new Map<string, Write[]>();
  const lastRv = new Map<string, string>();
  for (const e of events) {
    const name = e.objectRef!.name!;
    const status = e.responseObject!.status!;
    const rv = e.responseObject!.metadata.resourceVersion ?? '';
    const writes = byLab.get(name) ?? [];
    const previous = writes[writes.length - 1];
    writes.push({
      t: epochMs(e.requestReceivedTimestamp),
      status,
      newGeneration: previous?.status.observedGeneration !== status.observedGeneration,
      noop: lastRv.get(name) === rv,
    });
    lastRv.set(name, rv);
    byLab.set(name, writes);
  }
  return { byLab, failed };
}

interface Replay {
  sent: number;
  /** Per lab whose timeline reaches Ready: how much later the replay first shows Ready than the lab did. */
  readyLateMs: number[];
  /** Labs whose replay never shows Ready although the lab did (a Ready replaced by a later non-Ready write). */
  readyLost: number;
}

/** Replays one lab's writes with window `w`; `readyAtOnce` also sends a write that shows Ready at once. */
function replay(writes: readonly Write[], w: number, readyAtOnce: boolean): Replay {
  let sent = 0;
  let shownReadyAt: number | undefined;
  let pending: { deadline: number; write: Write } | undefined;
  const send = (at: number, write: Write): void => {
    sent++;
    if (shownReadyAt === undefined && write.status.phase === 'Ready') shownReadyAt = at;
  };
  for (const write of writes) {
    if (pending && write.t > pending.deadline) {
      send(pending.deadline, pending.write);
      pending = undefined;
    }
    if (write.newGeneration || (readyAtOnce && write.status.phase === 'Ready')) {
      pending = undefined; // replaced by this one, sent now
      send(write.t, write);
    } else if (pending) pending.write = write;
    else pending = { deadline: write.t + w, write };
  }
  if (pending) send(pending.deadline, pending.write);
  const readyAt = writes.find((x) => x.status.phase === 'Ready')?.t;
  if (readyAt === undefined) return { sent, readyLateMs: [], readyLost: 0 };
  if (shownReadyAt === undefined) return { sent, readyLateMs: [], readyLost: 1 };
  return { sent, readyLateMs: [shownReadyAt - readyAt], readyLost: 0 };
}

const f = (v: number | undefined, digits = 1): string => (v === undefined ? '-' : v.toFixed(digits));
const mean = (xs: readonly number[]): number | undefined =>
  xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(1)}%`;

function report(byLab: Map<string, Write[]>, n: number, failed: number, seconds: number): string {
  const out: string[] = [];
  const labs = [...byLab.values()];
  const all = labs.flat();
  out.push(`labs: ${n} created, ${labs.length} with status writes; all Ready in ${seconds.toFixed(1)} s`);
  out.push(
    `status writes: ${all.length} (${f(all.length / n, 2)} per lab), ` +
      `${all.filter((x) => x.noop).length} stored nothing new, ${failed} failed; ` +
      `${all.filter((x) => x.newGeneration).length} from a new generation`,
  );

  const counts = new Map<number, number>();
  for (const ws of labs) counts.set(ws.length, (counts.get(ws.length) ?? 0) + 1);
  out.push('', 'writes per lab:');
  for (const [k, c] of [...counts].sort((a, b) => a[0] - b[0])) out.push(`  ${k}: ${c} labs (${pct(c, n)})`);

  const sequences = new Map<string, number>();
  for (const ws of labs) {
    const seq = ws.map((x) => state(x.status)).join(' -> ');
    sequences.set(seq, (sequences.get(seq) ?? 0) + 1);
  }
  out.push('', 'sequences (phase/Ready reason of each write):');
  for (const [seq, c] of [...sequences].sort((a, b) => b[1] - a[1]))
    out.push(`  ${String(c).padStart(5)} (${pct(c, n).padStart(6)})  ${seq}`);

  // What a write past the second changed, against the write before it: the state in between.
  const extra = new Map<string, number>();
  for (const ws of labs) {
    for (let i = 1; i < ws.length - 1; i++) {
      const what = statusChanges(ws[i - 1]!.status, ws[i]!.status).join('; ');
      extra.set(
        `write ${i + 1} of ${ws.length}: ${what}`,
        (extra.get(`write ${i + 1} of ${ws.length}: ${what}`) ?? 0) + 1,
      );
    }
  }
  if (extra.size > 0) {
    out.push('', 'writes in between (neither first nor last), what each changed:');
    for (const [what, c] of [...extra].sort((a, b) => b[1] - a[1]).slice(0, 12))
      out.push(`  ${String(c).padStart(5)}  ${what}`);
  }

  out.push('', 'gap between consecutive status writes of a lab, ms (p10 / p50 / p90 / max):');
  const gapLine = (what: string, gaps: number[]): void => {
    out.push(
      `  ${what.padEnd(34)} n=${String(gaps.length).padStart(5)}  ` +
        [10, 50, 90, 100].map((p) => f(percentile(gaps, p))).join(' / '),
    );
  };
  const gaps = (pick: (ws: readonly Write[], i: number) => boolean): number[] =>
    labs.flatMap((ws) => ws.slice(1).flatMap((x, j) => (pick(ws, j + 1) ? [x.t - ws[j]!.t] : [])));
  gapLine(
    'all',
    gaps(() => true),
  );
  gapLine(
    'first -> second',
    gaps((_, i) => i === 1),
  );
  gapLine(
    'into the last (3+ writes)',
    gaps((ws, i) => ws.length >= 3 && i === ws.length - 1),
  );
  gapLine(
    'into a write in between (3+)',
    gaps((ws, i) => i >= 2 && i < ws.length - 1),
  );

  for (const readyAtOnce of [false, true]) {
    out.push(
      '',
      readyAtOnce
        ? 'coalescing, but a write that shows Ready is sent at once (like a new generation):'
        : 'coalescing writes not from a new generation within W (the deadline is the first held write + W):',
    );
    out.push('  W ms   writes/lab   saved/lab   saved   Ready late mean / p99 / max ms   Ready lost');
    for (const w of WINDOWS_MS) {
      const rs = labs.map((ws) => replay(ws, w, readyAtOnce));
      const sent = rs.reduce((a, r) => a + r.sent, 0);
      const late = rs.flatMap((r) => r.readyLateMs);
      const lost = rs.reduce((a, r) => a + r.readyLost, 0);
      out.push(
        `  ${String(w).padStart(4)}   ${f(sent / n, 3).padStart(10)}   ${f((all.length - sent) / n, 3).padStart(9)}` +
          `   ${pct(all.length - sent, all.length).padStart(5)}   ` +
          `${[mean(late), percentile(late, 99), percentile(late, 100)]
            .map((v) => f(v))
            .join(' / ')
            .padStart(30)}` +
          `   ${lost}`,
      );
    }
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const n = Number(flags.labs);
  const audit = flags.source === 'audit';
  const loadAtStart = loadavg();
  if (!audit && flags.source !== 'watch') throw new Error('--source is audit or watch');
  const options: BenchOptions = {
    quick: false,
    sizes: [n],
    memorySizes: [],
    edits: 0,
    operators: ['ours'],
    concurrency: Number(flags.concurrency),
    createConcurrency: Number(flags['create-concurrency']),
    timeoutMs: Number(flags['timeout-s']) * 1000,
    ours: { nodeArgs: [], logLevel: 'info', extraArgs: [] },
  };
  const { oursNode } = flags['no-bundle']
    ? { oursNode: nodeForOurs('image') }
    : buildOperators(['ours'], 'image');
  log(`starting the local control plane${audit ? ', auditing the operator ServiceAccount writes' : ''}`);
  const plane = await startPlane({ auditOperatorWrites: audit });
  const logDir = mkdtempSync(join(tmpdir(), 'studylab-status-gaps-'));
  try {
    const bench: Bench = { plane, options, peerBinary: '', oursNode, logDir };
    const ns = `status-gaps-${n}`;
    await createNamespace(plane, ns);
    const op = await startOperator(bench, 'ours', ns, 'status-gaps');
    try {
      await waitFor('ours started', () => Promise.resolve(op.isStarted()), options.timeoutMs);
      const labs = new NamespaceWatch<StudyLab>(plane.admin, StudyLabs, ns);
      await labs.start();
      const seen = watchWrites(labs);
      log(`creating ${n} labs`);
      const t0 = performance.now();
      await createLabs(bench, ns, 0, n);
      const readyAt = await labs.until(
        (m) => countWhere(m, labReady) >= n,
        options.timeoutMs,
        `${n} labs Ready`,
      );
      log(`all Ready after ${((readyAt - t0) / 1000).toFixed(1)} s; waiting for the operator to be idle`);
      await waitIdle(op, options.timeoutMs);
      await labs.stop();
      const { byLab, failed } = audit ? readWrites(plane.auditLogPath!, ns) : { byLab: seen, failed: 0 };
      const seenCount = [...seen.values()].reduce((a, ws) => a + ws.length, 0);
      process.stdout.write(
        `# bench/status-gaps.ts --labs=${n} --source=${flags.source} --concurrency=${options.concurrency}, ${new Date().toISOString()}\n`,
      );
      process.stdout.write(
        `load average at start ${loadAtStart.map((l) => l.toFixed(1)).join(' ')}, at the end ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}; ` +
          `timeline from the ${audit ? "API server's audit log" : "bench's watch (no audit log)"}\n`,
      );
      process.stdout.write(`${report(byLab, n, failed, (readyAt - t0) / 1000)}\n`);
      if (audit)
        process.stdout.write(
          `\nthe bench's watch saw ${seenCount} status changes (${(seenCount / n).toFixed(2)} per lab)\n`,
        );
    } finally {
      await op.stop();
    }
  } finally {
    rmSync(logDir, { recursive: true, force: true });
    await plane.stop();
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
await main();
