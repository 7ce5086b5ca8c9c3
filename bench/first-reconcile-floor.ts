/**
 * Issue 22, "20% faster than the peer": how fast could any operator be? "All reconciled" is the
 * moment the last lab has its first status write, and every lab's first reconcile must send the
 * same five writes whoever sends them: its four children and a status. This times those five writes
 * alone, with nothing else an operator does, beside the peer on the same plane:
 *
 * - `floor`: N labs created as the bench creates them; 4 workers, each taking labs as they are
 *   created and sending the four applies at once, then the status (computeStatus over what the
 *   applies returned). No cache, no queue, no look-up, no Event, no second reconcile: faster than
 *   this, with 4 workers, no operator keeping a lab's promises can be.
 * - `floor-watched`: the same, while ours runs as a standby replica on the namespace (leader
 *   election on, its Lease held by nobody who will let go): its informers list and watch every kind
 *   ours watches, so the plane serves those watches and the process reads every event, but it
 *   reconciles nothing. What watching, which drift repair needs, costs the floor.
 * - `peer`, `ours`: the operators converging the same N labs.
 *
 * Each phase on a fresh plane, timed from the first lab created until every lab shows
 * Reconciled=True at its generation (the bench's "all reconciled", by the same watch); then every
 * claim Bound, so the controller manager has finished before the next phase. Rounds alternate the
 * order (A B C, C B A): on this plane whoever goes second runs slower.
 *
 * `--children-by=create` makes the floor create the children with POST instead of server-side
 * apply: a cheaper request (no field-ownership merge), which an operator that repairs drift by
 * apply would pay for later (its fields would belong to an Update manager).
 *
 *   npx tsx bench/first-reconcile-floor.ts [--labs=1000] [--rounds=2] [--phases=floor,floor-watched,peer,ours] [--children-by=apply|create]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { StudyLab } from '../src/api/v1alpha1/index.js';
import { formatMicroTime } from '../src/runtime/clock.js';
import { Leases } from '../src/runtime/resources.js';
import { withIntentHash } from '../src/studylab/intent.js';
import { FIELD_MANAGER } from '../src/studylab/labels.js';
import { StudyLabs } from '../src/studylab/resources.js';
import { computeStatus, type Observed } from '../src/studylab/status.js';
import { childIntents, claimsBound, createLabs } from './lib/labs.js';
import { round as roundTo } from './lib/figures.js';
import { planeCpuSeconds } from './lib/loops.js';
import { type OperatorName, type OperatorProcess } from './lib/operator-process.js';
import {
  buildOperators,
  ceiling,
  eachLabAsCreated,
  startOperator,
  waitFor,
  waitIdle,
} from './lib/operators.js';
import { log, type BenchOptions } from './lib/options.js';
import { createNamespace, startPlane, type Bench, type Plane, type PlaneComponent } from './lib/plane.js';
import { countWhere, labReconciled, NamespaceWatch } from './lib/watch.js';

type PhaseName = 'floor' | 'floor-watched' | OperatorName;

const { values: flags } = parseArgs({
  options: {
    labs: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    phases: { type: 'string', default: 'floor,floor-watched,peer,ours' },
    concurrency: { type: 'string', default: '4' },
    'create-concurrency': { type: 'string', default: '16' },
    'timeout-s': { type: 'string', default: '900' },
    'children-by': { type: 'string', default: 'apply' },
  },
  strict: true,
});

const LEASE_NAMESPACE = 'studylab-system';

interface Timing {
  phase: PhaseName;
  round: number;
  seconds: number;
  /** CPU per lab (ms) of the plane's processes and of the operator or standby, over the phase. */
  cpuMsPerLab: Record<PlaneComponent | 'process', number>;
}

async function main(): Promise<void> {
  if (!['apply', 'create'].includes(flags['children-by']))
    throw new Error(`--children-by=${flags['children-by']}: apply or create`);
  const n = Number(flags.labs);
  const phases = flags.phases.split(',').filter(Boolean) as PhaseName[];
  const operators = [...new Set(phases.map((p) => (p === 'floor-watched' ? 'ours' : p)))].filter(
    (p): p is OperatorName => p === 'peer' || p === 'ours',
  );
  const options: BenchOptions = {
    quick: false,
    sizes: [n],
    memorySizes: [],
    edits: 0,
    operators,
    concurrency: Number(flags.concurrency),
    createConcurrency: Number(flags['create-concurrency']),
    timeoutMs: Number(flags['timeout-s']) * 1000,
    ours: { nodeArgs: [], logLevel: 'info', extraArgs: [] },
  };
  const { oursNode, peerBinary } = buildOperators(operators, 'image');
  const dir = mkdtempSync(join(tmpdir(), 'studylab-floor-'));
  const loadAtStart = loadavg();
  const timings: Timing[] = [];
  try {
    for (let round = 1; round <= Number(flags.rounds); round++) {
      const order = round % 2 === 1 ? phases : [...phases].reverse();
      for (const phase of order) {
        const t = await onFreshPlane((plane) =>
          runPhase({ plane, options, peerBinary, oursNode, logDir: dir }, phase, round, n),
        );
        log(`${phase} (round ${round}): ${n} labs reconciled in ${t.seconds.toFixed(2)} s`);
        timings.push(t);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `# bench/first-reconcile-floor.ts --labs=${n} --rounds=${flags.rounds} --phases=${phases.join(',')} ` +
      `--children-by=${flags['children-by']} --concurrency=${flags.concurrency}, ` +
      `${new Date().toISOString()}\nload average at start ${fmtLoad(loadAtStart)}, at the end ${fmtLoad(loadavg())}\n\n` +
      `${report(timings, phases)}\n`,
  );
}

/**
 * Each phase on a plane of its own: one plane for all grew by 1000 labs and their children per
 * phase, and the same floor took 36.7 s first and 55.8 s eighth (17:48-17:57).
 */
async function onFreshPlane<T>(fn: (plane: Plane) => Promise<T>): Promise<T> {
  log('starting a local control plane');
  const plane = await startPlane();
  try {
    return await fn(plane);
  } finally {
    await plane.stop();
  }
}

async function runPhase(bench: Bench, phase: PhaseName, round: number, n: number): Promise<Timing> {
  const { plane, options } = bench;
  const ns = `floor-${phase}-${round}`;
  // As bench/run.ts does: the first requests for the CRD and the first writes of each kind are slow.
  await ceiling(bench, 10, 'lab', 'bench-warmup');
  await createNamespace(plane, ns);
  const op = await startProcess(bench, phase, ns);
  try {
    const labs = new NamespaceWatch<StudyLab>(plane.admin, StudyLabs, ns);
    await labs.start();
    const planeCpu = planeCpuSeconds(bench);
    const processCpu = op?.cpuSeconds() ?? 0;
    const t0 = performance.now();
    const done = labs.until(
      (m) => countWhere(m, labReconciled) >= n,
      options.timeoutMs,
      `${n} labs reconciled in ${ns}`,
    );
    if (phase === 'floor' || phase === 'floor-watched') await firstReconcileLoop(bench, ns, n);
    else await createLabs(bench, ns, 0, n);
    const at = await done;
    const cpuMsPerLab = {
      ...planeCpu.since(n),
      process: roundTo((((op?.cpuSeconds() ?? 0) - processCpu) * 1000) / n, 2),
    };
    await labs.stop();
    await claimsBound(bench, ns, n);
    if (op && phase !== 'floor-watched') await waitIdle(op, options.timeoutMs, 2000);
    return {
      phase,
      round,
      seconds: (at - t0) / 1000,
      cpuMsPerLab,
    };
  } finally {
    await op?.stop();
  }
}

/** The operator for an operator's phase; for `floor-watched`, ours as a standby replica. */
async function startProcess(
  bench: Bench,
  phase: PhaseName,
  ns: string,
): Promise<OperatorProcess | undefined> {
  const { options } = bench;
  if (phase === 'floor') return undefined;
  if (phase === 'floor-watched') {
    // A Lease held by an identity no process has, renewed for an hour: ours waits as a standby.
    const name = `floor-${ns}`;
    await bench.plane.admin.create(Leases, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: LEASE_NAMESPACE },
      spec: { holderIdentity: 'nobody', leaseDurationSeconds: 3600, renewTime: formatMicroTime(Date.now()) },
    });
    const op = await startOperator(bench, 'ours', ns, 'standby', [
      '--leader-elect',
      `--leader-election-namespace=${LEASE_NAMESPACE}`,
      `--leader-election-id=${name}`,
    ]);
    await waitFor('the standby caches synced', () => op.cachesSynced(), options.timeoutMs);
    return op;
  }
  const op = await startOperator(bench, phase, ns, 'floor');
  await waitFor(`${phase} started`, () => Promise.resolve(op.isStarted()), options.timeoutMs);
  await waitIdle(op, options.timeoutMs, 1000);
  return op;
}

/** Each lab's first reconcile and nothing else: the four applies at once, then its status. */
async function firstReconcileLoop(bench: Bench, ns: string, n: number): Promise<void> {
  const { saClient } = bench.plane;
  const byCreate = flags['children-by'] === 'create';
  await eachLabAsCreated(bench, ns, n, async (lab) => {
    const [pvc, deployment, service] = await Promise.all(
      childIntents(lab).map(({ type, intent, unhashed }) => {
        const child = withIntentHash(intent, unhashed);
        const opts = { fieldManager: FIELD_MANAGER };
        return byCreate
          ? saClient.create(type, child, opts)
          : saClient.apply(type, child, { ...opts, force: true });
      }),
    );
    const observed: Observed = { problems: [], applyErrors: [], pvc, deployment, service };
    await saClient.apply(
      StudyLabs,
      {
        apiVersion: lab.apiVersion,
        kind: lab.kind,
        metadata: { name: lab.metadata.name, namespace: lab.metadata.namespace },
        status: computeStatus(lab, observed, new Date()),
      },
      { fieldManager: FIELD_MANAGER, force: true, subresource: 'status' },
    );
  });
}

function report(timings: Timing[], phases: PhaseName[]): string {
  const lines = [
    '| phase | all reconciled (s), each round | mean | API server / etcd / controller manager / process CPU per lab (ms), mean |',
    '| --- | --- | --- | --- |',
  ];
  for (const phase of phases) {
    const ts = timings.filter((t) => t.phase === phase);
    const mean = (f: (t: Timing) => number): string =>
      (ts.reduce((a, t) => a + f(t), 0) / ts.length).toFixed(2);
    const cpu = (['kube-apiserver', 'etcd', 'kube-controller-manager', 'process'] as const)
      .map((k) => mean((t) => t.cpuMsPerLab[k]))
      .join(' / ');
    lines.push(
      `| ${phase} | ${ts.map((t) => `${t.seconds.toFixed(2)} (round ${t.round})`).join(', ')} | ${mean((t) => t.seconds)} | ${cpu} |`,
    );
  }
  return lines.join('\n');
}

const fmtLoad = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' ');

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
await main();
