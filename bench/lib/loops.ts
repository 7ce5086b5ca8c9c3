/**
 * The loops: what the bench does to each operator, in the order that keeps the comparison fair.
 * For each size, the two write loops, then each operator in a fresh namespace with a fresh process:
 * convergence of N new labs; at the smallest size equivalence and single-change latency; at the
 * largest memory and a restart. Then each converges N labs once more, in the reverse order
 * (A B B A), and its convergence figures are the mean of the two runs. Growing to the larger memory
 * sizes comes last, once every operator has converged the largest size, so no operator converges on
 * a plane holding another's 5000 labs. The growth holds the storms (labs created at once, then a
 * restart onto thousands, each while a user edits labs), and ends with a restart onto the most labs
 * (for ours, once with each way of listing).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { StudyLab } from '../../src/api/v1alpha1/index.js';
import { StudyLabs } from '../../src/studylab/resources.js';
import { Editor, stormResult } from './editor.js';
import {
  countRequests,
  emptyResults,
  equivalence,
  footprint,
  loopName,
  memory,
  perLab,
  round,
  total,
  writesIn,
  type CeilingResult,
  type ConvergenceResult,
  type Footprint,
  type GrowthResult,
  type LatencyResult,
  type ListModeResult,
  type MemoryResult,
  type OperatorResults,
  type RestartResult,
  type StormResult,
} from './figures.js';
import { claimsBound, createLabs, labName } from './labs.js';
import {
  procCpuSeconds,
  procMemory,
  resetPeakRss,
  type OperatorName,
  type OperatorProcess,
} from './operator-process.js';
import { ceiling, ceilingNamespace, startOperator, waitFor, waitIdle } from './operators.js';
import { largestSize, log, smallestSize } from './options.js';
import { createNamespace, type Bench, type PlaneComponent } from './plane.js';
import { meanOf, percentile } from './stats.js';
import { countWhere, labReady, labReconciled, NamespaceWatch } from './watch.js';

/** Every loop of the run, in order; fills `ceilings` and `results` as it goes (a failure keeps what was measured). */
export async function runLoops(
  bench: Bench,
  ceilings: CeilingResult[],
  results: Partial<Record<OperatorName, OperatorResults>>,
): Promise<void> {
  const kept = new Map<OperatorName, Kept>();
  try {
    for (const name of bench.options.operators) results[name] = emptyResults();
    // The first requests for a new CRD and the first writes of each kind are slow (handlers built,
    // schemas compiled): a small unmeasured ceiling run pays for that before anything is timed.
    log('warming up the API server');
    await ceiling(bench, 10, 'lab', 'bench-warmup');
    for (const n of bench.options.sizes) {
      for (const writes of ['children', 'lab'] as const) {
        const what = loopName(writes);
        log(`${what}: ${n} labs`);
        const r = await ceiling(bench, n, writes);
        ceilings.push(r);
        log(`${what}: ${r.seconds} s (${r.writesPerSecond} writes/s)`);
        await claimsBound(bench, ceilingNamespace(n, writes), n);
      }
      const order = bench.options.operators;
      for (const name of order) {
        const k = await benchOperatorAt(bench, name, n, results[name]!);
        if (k) kept.set(name, k);
      }
      // Whoever converges second does so on a plane the first has just loaded (its labs, children,
      // bound volumes, etcd's history): in four runs at 1000 labs (bench/README.md, 05:42) the
      // second was 10-27% slower, whichever operator it was. So each converges once more in the
      // reverse order, and the figures are the mean.
      for (const name of order.length > 1 ? [...order].reverse() : []) {
        const again = await convergeAgain(bench, name, n);
        const r = results[name]!;
        const i = r.convergence.findIndex((c) => c.n === n);
        const first = r.convergence[i]!;
        const at = order.indexOf(name);
        r.convergence[i] = {
          ...meanOf([first, again]),
          passes: [
            { ...first, position: at + 1 },
            { ...again, position: order.length - at },
          ],
        };
        log(
          `${name}: ${n} labs, mean of both orders: reconciled in ${r.convergence[i].reconciledSeconds} s, Ready in ${r.convergence[i].readySeconds} s`,
        );
      }
    }
    // Taken out of `kept` first: growForMemory stops the process, the finally below only what is left.
    for (const [name, k] of [...kept]) {
      kept.delete(name);
      await growForMemory(bench, name, k, results[name]!);
    }
  } finally {
    for (const k of kept.values()) await k.op.stop();
  }
}

/** An operator kept running after its largest size, to grow its namespace for the memory figures. */
interface Kept {
  op: OperatorProcess;
  ns: string;
  labs: number;
  baseline: Footprint;
}

/**
 * Convergence at size n in a fresh namespace with a fresh process, then at the
 * smallest size equivalence and latency, at the largest memory and restart.
 * Returns the process still running when larger memory sizes are asked for.
 */
async function benchOperatorAt(
  bench: Bench,
  name: OperatorName,
  n: number,
  results: OperatorResults,
): Promise<Kept | undefined> {
  const { options } = bench;
  const ns = `bench-${name}-${n}`;
  let op = await startFresh(bench, name, ns, `${n}`);
  let kept: Kept | undefined;
  try {
    const baseline = await footprint(op);
    if (n === smallestSize(options))
      results.idle = { rssMiB: round(baseline.rss / 2 ** 20, 1), heapMiB: round(baseline.heap / 2 ** 20, 1) };
    log(`${name}: converging ${n} labs`);
    const conv = await converge(bench, op, ns, 0, n);
    results.convergence.push(conv);
    log(`${name}: ${n} labs reconciled in ${conv.reconciledSeconds} s, Ready in ${conv.readySeconds} s`);
    if (n === smallestSize(options)) {
      results.equivalence = await equivalence(bench.plane, ns);
      log(
        `${name}: children and status as ours for ${results.equivalence.equal}/${results.equivalence.labs} labs`,
      );
      for (const m of results.equivalence.mismatches) log(`${name}:   ${m}`);
      log(`${name}: ${options.edits} single-change edits`);
      await waitIdle(op, options.timeoutMs);
      results.latency = await latency(bench, op, ns, n, options.edits);
      log(`${name}: latency p50 ${results.latency.p50Ms} ms, p99 ${results.latency.p99Ms} ms`);
    }
    if (n === largestSize(options)) {
      if (options.memorySizes.includes(n)) results.memory.push(await idleMemory(bench, op, n, baseline));
      log(`${name}: restart with ${n} labs`);
      const [r, restarted] = await restart(bench, op, ns, n, `${n}-restart`);
      op = restarted;
      results.restart = r;
      results.restarts.push(r);
      log(
        `${name}: restart: first reconcile ${r.firstReconcileSeconds} s, all ${r.allReconciledSeconds} s, ${r.resyncWrites} writes`,
      );
      if (options.memorySizes.some((m) => m > n)) kept = { op, ns, labs: n, baseline };
    }
  } finally {
    if (!kept) await op.stop();
  }
  return kept;
}

/** A fresh process of `name` in a fresh namespace `ns`, started and idle. */
async function startFresh(
  bench: Bench,
  name: OperatorName,
  ns: string,
  tag: string,
): Promise<OperatorProcess> {
  await createNamespace(bench.plane, ns);
  log(`${name}: starting against ${ns}`);
  const op = await startOperator(bench, name, ns, tag);
  try {
    await waitFor(`${name} started`, () => Promise.resolve(op.isStarted()), 120_000);
    await waitIdle(op, bench.options.timeoutMs, 1000);
    return op;
  } catch (err) {
    await op.stop();
    throw err;
  }
}

/** Convergence of n new labs again, in a fresh namespace with a fresh process: the second half of A B B A. */
async function convergeAgain(bench: Bench, name: OperatorName, n: number): Promise<ConvergenceResult> {
  const tag = `${n}-again`;
  const op = await startFresh(bench, name, `bench-${name}-${tag}`, tag);
  try {
    log(`${name}: converging ${n} labs again, in the reverse order`);
    const conv = await converge(bench, op, `bench-${name}-${tag}`, 0, n, tag);
    log(`${name}: ${n} labs reconciled in ${conv.reconciledSeconds} s, Ready in ${conv.readySeconds} s`);
    return conv;
  } finally {
    await op.stop();
  }
}

/**
 * Grows a kept operator's namespace to each larger memory size and stops it. This runs once every
 * operator has converged the largest size, so no operator's convergence is measured on a plane
 * holding another's 5000 labs. On the way: the create storm (as many labs as it holds, created at
 * once, while a user edits), the restart storm at each memory size below the largest, and at the
 * largest a plain restart (and ours with each way of listing).
 */
async function growForMemory(
  bench: Bench,
  name: OperatorName,
  kept: Kept,
  results: OperatorResults,
): Promise<void> {
  const { ns, baseline } = kept;
  let { op } = kept;
  try {
    let have = kept.labs;
    const sizes = bench.options.memorySizes.filter((s) => s > have);
    for (const m of sizes) {
      if (!results.storm.create) {
        const to = Math.min(m, have + kept.labs);
        log(`${name}: create storm: ${to - have} labs created at once while a user edits`);
        const [growth, storm] = await stormCreate(bench, op, ns, have, to);
        results.growth.push(growth);
        results.storm.create = storm;
        have = to;
        log(
          `${name}: create storm: edits p50 ${storm.p50Ms} ms, p99 ${storm.p99Ms} ms (${storm.edits} edits)`,
        );
      }
      if (m > have) {
        log(`${name}: growing to ${m} labs`);
        results.growth.push({ ...(await converge(bench, op, ns, have, m)), from: have, to: m });
        have = m;
        const g = results.growth.at(-1)!;
        log(
          `${name}: ${g.from} -> ${g.to} labs reconciled in ${g.reconciledSeconds} s, Ready in ${g.readySeconds} s`,
        );
      }
      results.memory.push(await idleMemory(bench, op, m, baseline));
      log(`${name}: memory at ${m} labs: RSS ${results.memory.at(-1)!.rssMiB} MiB`);
      if (m !== sizes.at(-1)) {
        if (results.storm.restart) continue;
        log(`${name}: restart storm onto ${m} labs`);
        const [r, storm, next] = await stormRestart(bench, op, ns, m);
        op = next;
        results.restarts.push(r);
        results.storm.restart = storm;
        log(
          `${name}: restart storm: edits p50 ${storm.p50Ms} ms, p99 ${storm.p99Ms} ms (${storm.edits} edits)`,
        );
      } else {
        log(`${name}: restart with ${m} labs`);
        const [r, next] = await restart(bench, op, ns, m, `${m}-restart`);
        op = next;
        results.restart = r;
        results.restarts.push(r);
        log(
          `${name}: restart: caches synced ${r.syncedSeconds} s, all reconciled ${r.allReconciledSeconds} s`,
        );
        if (name === 'ours') [results.listModes, op] = await listModes(bench, op, ns, m);
      }
    }
  } finally {
    await op.stop();
  }
}

/** Memory once the operator is idle, so no reconcile's garbage is counted as the cache's. */
async function idleMemory(
  bench: Bench,
  op: OperatorProcess,
  labs: number,
  baseline: Footprint,
): Promise<MemoryResult> {
  await waitIdle(op, bench.options.timeoutMs);
  const mib = (pid: number): number => round(procMemory(pid, 'VmRSS') / 2 ** 20, 1);
  return {
    ...(await memory(op, labs, baseline)),
    plane: {
      apiServerMiB: mib(bench.plane.pidOf('kube-apiserver')),
      etcdMiB: mib(bench.plane.pidOf('etcd')),
    },
  };
}

/** Labs [from, to) created in `ns`, timed until the operator has reconciled them all and they are Ready. */
async function converge(
  bench: Bench,
  op: OperatorProcess,
  ns: string,
  from: number,
  to: number,
  tag = `${to}`,
): Promise<ConvergenceResult> {
  const { plane, options } = bench;
  const n = to - from;
  const labs = new NamespaceWatch<StudyLab>(plane.admin, StudyLabs, ns);
  await labs.start();
  const reconcilesBefore = await op.reconciles();
  const errorsBefore = await op.metric('controller_runtime_reconcile_errors_total', {
    controller: 'studylab',
  });
  const requests = await countRequests(plane);
  const cpuBefore = op.cpuSeconds();
  const planeCpu = planeCpuSeconds(bench);
  const t0 = performance.now();
  let created = 0;
  await createLabs(bench, ns, from, to, () => created++);
  const tCreated = performance.now();
  const tReconciled = await labs.until(
    (m) => m.size >= to && countWhere(m, labReconciled) >= to,
    options.timeoutMs,
    `${to} labs reconciled by ${op.name}`,
  );
  const tReady = await labs
    .until(
      (m) => m.size >= to && countWhere(m, labReady) >= to,
      options.timeoutMs,
      `${to} labs Ready by ${op.name}`,
    )
    .catch((err: Error) => {
      const phases = groupBy([...labs.objects.values()], (l) => l.status?.phase ?? 'none');
      throw new Error(`${err.message}; phases: ${JSON.stringify(phases)}`);
    });
  const cpu = op.cpuSeconds() - cpuBefore;
  const planeCpuMsPerLab = planeCpu.since(n);
  const byRequest = await requests.take({ 'POST studylabs': created });
  writeFileSync(join(bench.logDir, `${op.name}-${tag}-metrics.txt`), await op.metrics());
  const reconciles = (await op.reconciles()) - reconcilesBefore;
  const errors =
    (await op.metric('controller_runtime_reconcile_errors_total', { controller: 'studylab' })) - errorsBefore;
  await labs.stop();
  const writes = writesIn(byRequest);
  return {
    n,
    reconciledSeconds: round((tReconciled - t0) / 1000, 2),
    readySeconds: round((tReady - t0) / 1000, 2),
    createSeconds: round((tCreated - t0) / 1000, 2),
    reconcilesPerLab: round(reconciles / n, 2),
    reconcileErrors: errors,
    requestsPerLab: perLab(byRequest, n),
    requestsPerLabTotal: round(total(byRequest) / n, 2),
    writesPerLab: round(writes / n, 2),
    cpuMsPerLab: round((cpu * 1000) / n, 2),
    planeCpuMsPerLab,
  };
}

const PLANE_COMPONENTS: readonly PlaneComponent[] = ['kube-apiserver', 'etcd', 'kube-controller-manager'];

/** The plane's CPU time from now: `since(n)` gives each component's ms per lab for n labs. */
export function planeCpuSeconds(bench: Bench): { since(n: number): Record<PlaneComponent, number> } {
  const cpu = (c: PlaneComponent): number => procCpuSeconds(bench.plane.pidOf(c));
  const before = PLANE_COMPONENTS.map(cpu);
  return {
    since: (n) =>
      Object.fromEntries(
        PLANE_COMPONENTS.map((c, i) => [c, round(((cpu(c) - before[i]!) * 1000) / n, 2)]),
      ) as Record<PlaneComponent, number>,
  };
}

function groupBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

/**
 * Sequential spec edits (a new image) on converged labs, each timed from the
 * PATCH until the Deployment shows the new image. Between two edits the lab
 * settles (Ready at its new generation) and the operator goes idle, so each
 * edit is a single change on a quiet plane, not one in a stream.
 */
async function latency(
  bench: Bench,
  op: OperatorProcess,
  ns: string,
  n: number,
  edits: number,
): Promise<LatencyResult> {
  const editor = await Editor.open(bench, ns);
  const labs = new NamespaceWatch<StudyLab>(bench.plane.admin, StudyLabs, ns);
  await labs.start();
  const samples: number[] = [];
  for (let e = 0; e < edits; e++) {
    const name = labName(e % n);
    const { ms, generation } = await editor.edit(name, `registry.example/studylab/app:edit-${e}`);
    samples.push(ms);
    if (process.env.BENCH_TRACE) log(`edit ${name}: ${ms.toFixed(1)} ms`);
    await labs.until(
      (m) => {
        const lab = m.get(name);
        return !!lab && lab.metadata.generation === generation && labReady(lab);
      },
      30_000,
      `${name} Ready after the edit`,
    );
    await waitIdle(op, bench.options.timeoutMs, 300);
  }
  await Promise.all([editor.close(), labs.stop()]);
  return {
    edits,
    p50Ms: round(percentile(samples, 50)!, 1),
    p99Ms: round(percentile(samples, 99)!, 1),
    maxMs: round(Math.max(...samples), 1),
  };
}

/** What a restart may do besides restarting: flags for the new process, work while it is busy. */
interface RestartOptions {
  /** Flags for the new process (ours only). */
  args?: readonly string[];
  /** Called once the new process reports started; `busy` holds until it has reconciled every lab once. */
  whileBusy?: (busy: () => boolean) => Promise<void>;
}

/** Stops the operator and starts a new one on its converged labs: how soon it works, and what its resync writes. */
async function restart(
  bench: Bench,
  old: OperatorProcess,
  ns: string,
  labs: number,
  tag: string,
  opts: RestartOptions = {},
): Promise<[RestartResult, OperatorProcess]> {
  const { timeoutMs } = bench.options;
  await old.stop();
  const requests = await countRequests(bench.plane);
  const t0 = performance.now();
  const op = await startOperator(bench, old.name, ns, tag, opts.args);
  let tSynced: number | undefined;
  let tFirst: number | undefined;
  let done = false;
  let during: Promise<void> | undefined;
  const tAll = await waitFor(
    `${op.name} to reconcile ${labs} labs after a restart`,
    async () => {
      if (tSynced === undefined && op.isStarted()) {
        tSynced = op.workersStartedAt;
        during = opts.whileBusy?.(() => !done);
      }
      const r = await op.reconciles().catch(() => 0);
      if (r >= 1) tFirst ??= performance.now();
      return r >= labs && (await op.queueDepth()) === 0;
    },
    timeoutMs,
  ).finally(() => (done = true));
  await during;
  await waitIdle(op, timeoutMs);
  const byRequest = await requests.take();
  const writes = writesIn(byRequest);
  return [
    {
      labs,
      syncedSeconds: round(((tSynced ?? tAll) - t0) / 1000, 2),
      firstReconcileSeconds: round(((tFirst ?? tAll) - t0) / 1000, 2),
      allReconciledSeconds: round((tAll - t0) / 1000, 2),
      resyncWrites: writes,
      resyncRequests: byRequest,
    },
    op,
  ];
}

/**
 * The restart storm: a restart onto `labs` converged labs while a user edits labs at a steady pace,
 * from the moment the new process reports started until it has reconciled every lab once.
 */
async function stormRestart(
  bench: Bench,
  old: OperatorProcess,
  ns: string,
  labs: number,
): Promise<[RestartResult, StormResult, OperatorProcess]> {
  const editor = await Editor.open(bench, ns);
  let samples: number[] = [];
  let tStart = 0;
  let tEnd = 0;
  try {
    const [r, op] = await restart(bench, old, ns, labs, `${labs}-storm-restart`, {
      whileBusy: async (busy) => {
        tStart = performance.now();
        samples = await editor.editWhile(
          labs,
          () => busy() || ((tEnd ||= performance.now()), false),
          { everyMs: 50, max: bench.options.edits },
          'storm-restart',
        );
      },
    });
    return [r, stormResult(labs, samples, ((tEnd || performance.now()) - tStart) / 1000), op];
  } finally {
    await editor.close();
  }
}

/** The create storm: labs [from, to) created at once while a user edits the converged labs [0, from). */
async function stormCreate(
  bench: Bench,
  op: OperatorProcess,
  ns: string,
  from: number,
  to: number,
): Promise<[GrowthResult, StormResult]> {
  const editor = await Editor.open(bench, ns);
  try {
    let done = false;
    const edits = editor.editWhile(
      from,
      () => !done,
      { everyMs: 250, max: bench.options.edits },
      'storm-create',
    );
    const growth = await converge(bench, op, ns, from, to).finally(() => (done = true));
    const samples = await edits;
    return [{ ...growth, from, to }, stormResult(to - from, samples, growth.reconciledSeconds)];
  } finally {
    await editor.close();
  }
}

/** Restarts ours onto `labs` converged labs with each way of listing, reading its and the API server's peak RSS. */
async function listModes(
  bench: Bench,
  old: OperatorProcess,
  ns: string,
  labs: number,
): Promise<[ListModeResult[], OperatorProcess]> {
  const results: ListModeResult[] = [];
  let op = old;
  const apiServer = bench.plane.pidOf('kube-apiserver');
  for (const mode of ['paginate', 'stream'] as const) {
    resetPeakRss(apiServer);
    const [r, next] = await restart(bench, op, ns, labs, `${labs}-list-${mode}`, {
      args: [`--list-mode=${mode}`],
    });
    op = next;
    results.push({
      mode,
      labs,
      syncedSeconds: r.syncedSeconds,
      allReconciledSeconds: r.allReconciledSeconds,
      peakRssMiB: round(op.peakRssBytes() / 2 ** 20, 1),
      apiServerPeakRssMiB: round(procMemory(apiServer, 'VmHWM') / 2 ** 20, 1),
    });
    log(`ours: list mode ${mode} at ${labs} labs: ${JSON.stringify(results.at(-1))}`);
  }
  return [results, op];
}
