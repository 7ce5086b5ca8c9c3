/**
 * The report: the run's figures with the machine, the versions and the options they were taken
 * under, printed as one table (each operator against the write loops, and against each other) and
 * written to bench/results/ as JSON, so a later run can be set beside this one.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/testenv/index.js';
import {
  loopName,
  round,
  total,
  type CeilingResult,
  type ConvergencePass,
  type ConvergenceResult,
  type OperatorResults,
} from './figures.js';
import type { OperatorName } from './operator-process.js';
import { largestSize, log, type BenchOptions } from './options.js';

export interface Report {
  date: string;
  quick: boolean;
  options: Record<string, unknown>;
  machine: Record<string, unknown>;
  versions: Record<string, string>;
  ceiling: CeilingResult[];
  operators: Partial<Record<OperatorName, OperatorResults>>;
  /** Why the run stopped early; the figures are those measured until then. */
  failed?: string;
}

/** A report with no figures yet; `load` is the load average when the run started. */
export function newReport(
  options: BenchOptions,
  built: { peerBinary: string; oursNode: string },
  load: number[],
): Report {
  return {
    date: new Date().toISOString(),
    quick: options.quick,
    options: {
      sizes: options.sizes,
      memorySizes: options.memorySizes,
      edits: options.edits,
      concurrency: options.concurrency,
      createConcurrency: options.createConcurrency,
      operators: options.operators,
    },
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      kernel: release(),
      loadAverageAtStart: load.map((l) => round(l, 2)),
      note: 'shared machine: other jobs ran at the same time, so figures are noisy',
    },
    versions: versions(built),
    ceiling: [],
    operators: {},
  };
}

/** Notes the load average at the end: a loaded machine explains a slow run. */
export function finish(report: Report): void {
  report.machine.loadAverageAtEnd = loadavg().map((l) => round(l, 2));
}

/** Prints the table on stdout and writes the JSON (the table included) to `outDir`. */
export function writeReport(report: Report, options: BenchOptions, outDir: string): void {
  const text = render(report, options);
  process.stdout.write(`\n${text}\n`);
  mkdirSync(outDir, { recursive: true });
  const suffix = `${report.quick ? '-quick' : ''}${report.failed ? '-failed' : ''}`;
  const file = join(outDir, `bench-${report.date.replace(/[:.]/g, '-')}${suffix}.json`);
  writeFileSync(file, `${JSON.stringify({ ...report, table: text.split('\n') }, null, 2)}\n`);
  log(`results written to ${file}`);
}

function versions({
  peerBinary,
  oursNode,
}: {
  peerBinary: string;
  oursNode: string;
}): Record<string, string> {
  const sh = (cmd: string, args: string[], cwd = REPO_ROOT): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  };
  const goMod = readFileSync(join(REPO_ROOT, 'bench', 'peers', 'studylab-go', 'go.mod'), 'utf8');
  const required = (m: string): string =>
    new RegExp(`${m.replace(/[./]/g, '\\$&')} (v\\S+)`).exec(goMod)?.[1] ?? '?';
  return {
    node: `${process.version} (the harness)`,
    oursNode: oursNode ? `${sh(oursNode, ['--version'])} (${oursNode})` : '-',
    go: sh('go', ['version']),
    kubernetes: sh('bash', ['-c', 'grep ^KUBERNETES_VERSION hack/testenv/versions.env | cut -d= -f2']),
    studylabCommit: sh('git', ['rev-parse', '--short', 'HEAD']),
    peerModules: `controller-runtime ${required('sigs.k8s.io/controller-runtime')}, client-go ${required('k8s.io/client-go')}`,
    peerBinary,
    ours: 'node dist/bundle/main.mjs (bundled by esbuild as the image runs it, not tsx)',
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r, i) => {
      const line = r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  ');
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

const fmtVerbs = (o: Record<string, number> | undefined): string =>
  o
    ? Object.entries(o)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
    : '-';

/** "1st 46.4, 2nd 59" for a convergence run in both orders; undefined for one run. */
const byPlace = (c: ConvergenceResult | undefined, f: (p: ConvergencePass) => number): string | undefined =>
  c?.passes &&
  [...c.passes]
    .sort((a, b) => a.position - b.position)
    .map((p) => `${['1st', '2nd', '3rd'][p.position - 1] ?? `${p.position}th`} ${f(p)}`)
    .join(', ');

function render(report: Report, options: BenchOptions): string {
  const largest = largestSize(options);
  const ops = Object.keys(report.operators) as OperatorName[];
  const header = ['figure', ...ops, 'ceiling'];
  const rows: string[][] = [header];
  const get = (f: (r: OperatorResults) => string | number | undefined): string[] =>
    ops.map((o) => String(f(report.operators[o]!) ?? '-'));
  for (const n of options.sizes) {
    const c = report.ceiling.find((x) => x.n === n && x.writes === 'children');
    const labLoop = report.ceiling.find((x) => x.n === n && x.writes === 'lab');
    const conv = (r: OperatorResults) => r.convergence.find((x) => x.n === n);
    rows.push([
      `convergence ${n} labs: all reconciled (s)`,
      ...get((r) => conv(r)?.reconciledSeconds),
      String(c?.seconds ?? '-'),
    ]);
    rows.push([
      `  each run by its place in the order`,
      ...get((r) => byPlace(conv(r), (p) => p.reconciledSeconds)),
      '-',
    ]);
    rows.push([
      `  x raw write ceiling`,
      ...get((r) => (c && conv(r) ? round(conv(r)!.reconciledSeconds / c.seconds, 2) : undefined)),
      '1',
    ]);
    rows.push([
      `  x loop of a lab's every write`,
      ...get((r) =>
        labLoop && conv(r) ? round(conv(r)!.reconciledSeconds / labLoop.seconds, 2) : undefined,
      ),
      labLoop ? `${labLoop.seconds} s` : '-',
    ]);
    rows.push([`convergence ${n} labs: all Ready (s)`, ...get((r) => conv(r)?.readySeconds), '-']);
    rows.push([
      `  each run by its place in the order`,
      ...get((r) => byPlace(conv(r), (p) => p.readySeconds)),
      '-',
    ]);
    rows.push([
      `  x raw write ceiling`,
      ...get((r) => (c && conv(r) ? round(conv(r)!.readySeconds / c.seconds, 2) : undefined)),
      '1',
    ]);
    rows.push([
      `  API requests per lab`,
      ...get((r) => conv(r)?.requestsPerLabTotal),
      String(c ? round(total(c.requestsPerLab), 2) : '-'),
    ]);
    rows.push([
      `  writes per lab`,
      ...get((r) => conv(r)?.writesPerLab),
      String(c ? round(total(c.requestsPerLab), 2) : '-'),
    ]);
    rows.push([`  reconciles per lab`, ...get((r) => conv(r)?.reconcilesPerLab), '-']);
    rows.push([`  operator CPU per lab (ms)`, ...get((r) => conv(r)?.cpuMsPerLab), '-']);
    for (const [component, label] of [
      ['kube-apiserver', 'API server'],
      ['etcd', 'etcd'],
      ['kube-controller-manager', 'controller manager'],
    ] as const) {
      rows.push([`  ${label} CPU per lab (ms)`, ...get((r) => conv(r)?.planeCpuMsPerLab?.[component]), '-']);
    }
    rows.push([`  reconcile errors`, ...get((r) => conv(r)?.reconcileErrors), '-']);
  }
  rows.push([
    `resync of ${largest} converged labs: writes`,
    ...get((r) => r.restarts.find((x) => x.labs === largest)?.resyncWrites),
    '-',
  ]);
  rows.push([`single change p50 (ms), ${options.edits} edits`, ...get((r) => r.latency?.p50Ms), '-']);
  rows.push([`single change p99 (ms)`, ...get((r) => r.latency?.p99Ms), '-']);
  rows.push([
    `memory idle, no lab: RSS / heap (MiB)`,
    ...get((r) => `${r.idle.rssMiB} / ${r.idle.heapMiB}`),
    '-',
  ]);
  for (const m of options.memorySizes) {
    const x = (r: OperatorResults) => r.memory.find((y) => y.labs === m);
    rows.push([
      `memory ${m} labs: RSS / heap (MiB)`,
      ...get((r) => x(r) && `${x(r)!.rssMiB} / ${x(r)!.heapMiB}`),
      '-',
    ]);
    rows.push([
      `  per lab: RSS / heap (KiB)`,
      ...get((r) => x(r) && `${x(r)!.rssKiBPerLab} / ${x(r)!.heapKiBPerLab}`),
      '-',
    ]);
    rows.push([
      `  plane then: API server / etcd RSS (MiB)`,
      ...get((r) => x(r)?.plane && `${x(r)!.plane!.apiServerMiB} / ${x(r)!.plane!.etcdMiB}`),
      '-',
    ]);
  }
  const growths = [
    ...new Set(ops.flatMap((o) => report.operators[o]!.growth.map((g) => `${g.from}-${g.to}`))),
  ];
  for (const key of growths) {
    const g = (r: OperatorResults) => r.growth.find((x) => `${x.from}-${x.to}` === key);
    rows.push([
      `growth ${key.replace('-', ' -> ')} labs: all reconciled (s)`,
      ...get((r) => g(r)?.reconciledSeconds),
      '-',
    ]);
    rows.push([`  all Ready (s)`, ...get((r) => g(r)?.readySeconds), '-']);
    rows.push([`  writes per lab`, ...get((r) => g(r)?.writesPerLab), '-']);
  }
  const restarts = [...new Set(ops.flatMap((o) => report.operators[o]!.restarts.map((x) => x.labs)))];
  for (const labs of restarts.sort((a, b) => a - b)) {
    const x = (r: OperatorResults) => r.restarts.find((y) => y.labs === labs);
    rows.push([`restart ${labs} labs: caches synced (s)`, ...get((r) => x(r)?.syncedSeconds), '-']);
    rows.push([`  first reconcile done (s)`, ...get((r) => x(r)?.firstReconcileSeconds), '-']);
    rows.push([`  all labs reconciled (s)`, ...get((r) => x(r)?.allReconciledSeconds), '-']);
    rows.push([`  writes`, ...get((r) => x(r)?.resyncWrites), '-']);
  }
  for (const kind of ['restart', 'create'] as const) {
    const s = (r: OperatorResults) => r.storm[kind];
    const what = (r: OperatorResults) =>
      kind === 'restart' ? `restart onto ${s(r)?.labs} labs` : `${s(r)?.labs} labs created at once`;
    const first = ops.map((o) => report.operators[o]!).find((r) => s(r));
    if (!first) continue;
    rows.push([`edits during the ${what(first)}: p50 (ms)`, ...get((r) => s(r)?.p50Ms), '-']);
    rows.push([`  p99 (ms)`, ...get((r) => s(r)?.p99Ms), '-']);
    rows.push([
      `  edits / storm length (s)`,
      ...get((r) => s(r) && `${s(r)!.edits} / ${s(r)!.seconds}`),
      '-',
    ]);
  }
  for (const mode of ['paginate', 'stream'] as const) {
    const l = (r: OperatorResults) => r.listModes?.find((y) => y.mode === mode);
    const first = ops.map((o) => report.operators[o]!).find((r) => l(r));
    if (!first) continue;
    rows.push([
      `restart ${l(first)!.labs} labs, list mode ${mode}: synced / all (s)`,
      ...get((r) => l(r) && `${l(r)!.syncedSeconds} / ${l(r)!.allReconciledSeconds}`),
      '-',
    ]);
    rows.push([
      `  peak RSS: operator / API server (MiB)`,
      ...get((r) => l(r) && `${l(r)!.peakRssMiB} / ${l(r)!.apiServerPeakRssMiB}`),
      '-',
    ]);
  }
  rows.push([
    `children and status equal to ours`,
    ...get((r) => r.equivalence && `${r.equivalence.equal}/${r.equivalence.labs}`),
    '-',
  ]);
  let out = report.failed
    ? `THE RUN FAILED; the figures below are those measured before:\n${report.failed}\n\n`
    : '';
  out += table(rows);
  out +=
    "\n\nAPI requests per lab during convergence, by verb and resource (apiserver_request_total, the harness's own requests and kube-controller-manager's PUTs left out):\n";
  for (const n of options.sizes) {
    for (const o of ops)
      out += `  ${o} ${n}: ${fmtVerbs(report.operators[o]!.convergence.find((x) => x.n === n)?.requestsPerLab)}\n`;
    for (const loop of report.ceiling.filter((x) => x.n === n))
      out += `  ${loopName(loop.writes)} ${n}: ${fmtVerbs(loop.requestsPerLab)}\n`;
  }
  out += `Requests during each restart onto converged labs, by verb and resource:\n`;
  for (const o of ops)
    for (const r of report.operators[o]!.restarts) out += `  ${o} ${r.labs}: ${fmtVerbs(r.resyncRequests)}\n`;
  return out;
}
