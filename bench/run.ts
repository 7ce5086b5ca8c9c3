/**
 * `make bench`: ours against the Go controller-runtime peer and the raw write
 * ceiling, on one local control plane, in one run. See bench/README.md for
 * what each figure means. This file reads the flags and runs the parts in
 * order: lib/operators.ts builds the operators, lib/plane.ts starts the plane,
 * lib/loops.ts measures (with lib/figures.ts), lib/report.ts prints and saves.
 *
 *   npx tsx bench/run.ts [--sizes=100,1000] [--memory-sizes=1000,5000,10000] [--edits=200]
 *                        [--operators=peer,ours] [--quick] [--out=bench/results]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../src/testenv/index.js';
import { runLoops } from './lib/loops.js';
import type { OperatorName } from './lib/operator-process.js';
import { buildOperators } from './lib/operators.js';
import { log, type BenchOptions } from './lib/options.js';
import { startPlane } from './lib/plane.js';
import { finish, newReport, writeReport } from './lib/report.js';

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1000' },
    'memory-sizes': { type: 'string', default: '1000,5000,10000' },
    edits: { type: 'string', default: '200' },
    operators: { type: 'string', default: 'peer,ours' },
    concurrency: { type: 'string', default: '4' },
    'create-concurrency': { type: 'string', default: '16' },
    'timeout-s': { type: 'string', default: '900' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results') },
    'keep-logs': { type: 'boolean', default: false },
    /** Extra node flags for our operator, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
    'ours-node-args': { type: 'string', default: '' },
    /** `image`: ours runs on the node the image runs (bench/image-node.sh); `host`: on this node. */
    'ours-node': { type: 'string', default: 'image' },
    'ours-log-level': { type: 'string', default: 'info' },
    /** Extra flags for our operator, e.g. `--trace` (with --keep-logs, to read what each reconcile did). */
    'ours-args': { type: 'string', default: '' },
  },
  strict: true,
});

const numbers = (s: string): number[] =>
  s
    .split(',')
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
const words = (s: string): string[] => s.split(' ').filter(Boolean);
const quick = flags.quick;
const options: BenchOptions = {
  quick,
  sizes: quick ? [20] : numbers(flags.sizes),
  memorySizes: quick ? [20, 60, 100] : numbers(flags['memory-sizes']),
  edits: quick ? 20 : Number(flags.edits),
  operators: flags.operators.split(',').filter(Boolean) as OperatorName[],
  concurrency: Number(flags.concurrency),
  createConcurrency: Number(flags['create-concurrency']),
  timeoutMs: (quick ? 240 : Number(flags['timeout-s'])) * 1000,
  ours: {
    nodeArgs: words(flags['ours-node-args']),
    logLevel: flags['ours-log-level'],
    extraArgs: words(flags['ours-args']),
  },
};

async function main(): Promise<void> {
  // Both operators are seen started by their "Starting workers" line (operator-process.ts), an info line.
  if (!['info', 'debug'].includes(options.ours.logLevel))
    throw new Error(`--ours-log-level must be info or debug, got ${options.ours.logLevel}`);
  const load = loadavg();
  log(`load average at start: ${load.map((l) => l.toFixed(2)).join(' ')}`);
  if (!['image', 'host'].includes(flags['ours-node']))
    throw new Error(`--ours-node must be image or host, got ${flags['ours-node']}`);
  const built = buildOperators(options.operators, flags['ours-node'] as 'image' | 'host');
  log('starting the local control plane');
  const plane = await startPlane();
  const logDir = mkdtempSync(join(tmpdir(), 'studylab-bench-'));
  const report = newReport(options, built, load);
  try {
    await runLoops({ plane, options, ...built, logDir }, report.ceiling, report.operators);
  } catch (err) {
    // An hour's figures are not thrown away with the phase that failed: they are written, marked.
    report.failed = String((err as Error).stack ?? err);
    throw err;
  } finally {
    // Written first: nothing that cleans up after the run may lose its figures.
    finish(report);
    writeReport(report, options, flags.out);
    if (!flags['keep-logs']) rmSync(logDir, { recursive: true, force: true });
    else log(`operator logs kept in ${logDir}`);
    await plane.stop();
  }
}

// Interrupted: exit through the 'exit' handlers, which stop the operators and the local plane.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
await main();
