/**
 * Issue 22, "why is ours slower than the peer with the same writes": what each operator's labs
 * make the whole plane do, per lab. The convergence figures say the API server and etcd spend more
 * CPU per lab on ours' labs than on the peer's, though ours sends half the requests; this counts
 * every request the API server served while each operator converged the same labs, by who sent it
 * (the operator, the controller manager's controllers, the scheduler, kwok), verb and resource.
 *
 * One plane with kube-apiserver's audit log on at the Metadata level for every request (one line
 * per request, no bodies), the operators one after the other, each in a fresh namespace with a
 * fresh process: N labs created as the bench creates them, then all reconciled, Ready, their claims
 * Bound and the operator idle. A namespaced request counts for the operator whose namespace it
 * names; a cluster-scoped one (volumes, nodes, leases) for the operator converging at the time.
 *
 *   npx tsx bench/plane-work.ts [--labs=300] [--operators=peer,ours] [--concurrency=4]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { StudyLab } from '../src/api/v1alpha1/index.js';
import { StudyLabs } from '../src/studylab/resources.js';
import { claimsBound, createLabs } from './lib/labs.js';
import { procCpuSeconds, type OperatorName } from './lib/operator-process.js';
import { buildOperators, startOperator, waitFor, waitIdle } from './lib/operators.js';
import { log, type BenchOptions } from './lib/options.js';
import { createNamespace, startPlane, type Bench, type PlaneComponent } from './lib/plane.js';
import { countWhere, labReady, labReconciled, NamespaceWatch } from './lib/watch.js';

const { values: flags } = parseArgs({
  options: {
    labs: { type: 'string', default: '300' },
    operators: { type: 'string', default: 'peer,ours' },
    concurrency: { type: 'string', default: '4' },
    'create-concurrency': { type: 'string', default: '16' },
    'timeout-s': { type: 'string', default: '900' },
  },
  strict: true,
});

/** One line of kube-apiserver's JSON audit log at the Metadata level (the fields read here). */
interface AuditEvent {
  stage: string;
  verb: string;
  userAgent?: string;
  stageTimestamp: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string };
}

interface Phase {
  name: OperatorName;
  ns: string;
  from: number;
  to: number;
  seconds: number;
  cpu: Record<PlaneComponent, number>;
}

const COMPONENTS: PlaneComponent[] = ['kube-apiserver', 'etcd', 'kube-controller-manager'];

async function main(): Promise<void> {
  const n = Number(flags.labs);
  const names = flags.operators.split(',').filter(Boolean) as OperatorName[];
  const options: BenchOptions = {
    quick: false,
    sizes: [n],
    memorySizes: [],
    edits: 0,
    operators: names,
    concurrency: Number(flags.concurrency),
    createConcurrency: Number(flags['create-concurrency']),
    timeoutMs: Number(flags['timeout-s']) * 1000,
    ours: { nodeArgs: [], logLevel: 'info', extraArgs: [] },
  };
  const { oursNode, peerBinary } = buildOperators(names, 'image');
  const dir = mkdtempSync(join(tmpdir(), 'studylab-plane-work-'));
  log('starting the local control plane, auditing every request');
  const plane = await startPlane({ auditAllRequests: true });
  const loadAtStart = loadavg();
  const phases: Phase[] = [];
  let audit: string;
  try {
    const bench: Bench = { plane, options, peerBinary, oursNode, logDir: dir };
    for (const name of names) phases.push(await converge(bench, name, n));
    // Read before the plane stops: stopping it removes its directory, the log with it.
    audit = readFileSync(plane.auditLogPath!, 'utf8');
  } finally {
    await plane.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `# bench/plane-work.ts --labs=${n} --operators=${names.join(',')}, ${new Date().toISOString()}\n` +
      `load average at start ${loadAtStart.map((l) => l.toFixed(1)).join(' ')}, at the end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n\n`,
  );
  process.stdout.write(`${report(audit, phases, n)}\n`);
}

async function converge(bench: Bench, name: OperatorName, n: number): Promise<Phase> {
  const { plane, options } = bench;
  const ns = `work-${name}-${n}`;
  await createNamespace(plane, ns);
  const op = await startOperator(bench, name, ns, 'plane-work');
  try {
    await waitFor(`${name} started`, () => Promise.resolve(op.isStarted()), options.timeoutMs);
    await waitIdle(op, options.timeoutMs, 1000);
    const labs = new NamespaceWatch<StudyLab>(plane.admin, StudyLabs, ns);
    await labs.start();
    const cpu0 = cpuOf(bench);
    const from = Date.now();
    const t0 = performance.now();
    log(`${name}: creating ${n} labs`);
    await createLabs(bench, ns, 0, n);
    await labs.until(
      (m) => countWhere(m, (l) => labReconciled(l) && labReady(l)) >= n,
      options.timeoutMs,
      `${n} labs reconciled and Ready`,
    );
    const seconds = (performance.now() - t0) / 1000;
    await claimsBound(bench, ns, n);
    await waitIdle(op, options.timeoutMs, 3000);
    await labs.stop();
    const cpu1 = cpuOf(bench);
    log(`${name}: ${n} labs Ready in ${seconds.toFixed(1)} s`);
    const cpu = Object.fromEntries(COMPONENTS.map((c) => [c, cpu1[c] - cpu0[c]])) as Phase['cpu'];
    return { name, ns, from, to: Date.now(), seconds, cpu };
  } finally {
    await op.stop();
  }
}

function cpuOf(bench: Bench): Record<PlaneComponent, number> {
  return Object.fromEntries(COMPONENTS.map((c) => [c, procCpuSeconds(bench.plane.pidOf(c))])) as Record<
    PlaneComponent,
    number
  >;
}

/** Who sent a request: the operator, a controller manager's controller, kwok, the scheduler. */
function sender(e: AuditEvent, phase: Phase): string {
  const user = e.user?.username ?? '?';
  if (user.startsWith('system:serviceaccount:studylab-system:')) return `operator (${phase.name})`;
  const agent = (e.userAgent ?? '').split(' ')[0]!.split('/');
  // kube-controller-manager names each controller in its user agent: ".../system:serviceaccount:kube-system:deployment-controller".
  if (user.startsWith('system:serviceaccount:kube-system:'))
    return user.slice('system:serviceaccount:kube-system:'.length);
  return agent[0] === 'kube-controller-manager' ? `kcm ${agent.slice(-1)[0]}` : (agent[0] ?? user);
}

function report(auditText: string, phases: Phase[], n: number): string {
  const counts = new Map<string, number[]>();
  const totals = phases.map(() => 0);
  for (const line of auditText.split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as AuditEvent;
    // A watch is counted when it starts: most are still open when the log is read.
    if (e.stage !== (e.verb === 'watch' ? 'ResponseStarted' : 'ResponseComplete')) continue;
    const at = Date.parse(e.stageTimestamp);
    const ns = e.objectRef?.namespace;
    const i = ns ? phases.findIndex((p) => p.ns === ns) : phases.findIndex((p) => at >= p.from && at <= p.to);
    if (i < 0) continue;
    const resource = [e.objectRef?.resource ?? '-', e.objectRef?.subresource].filter(Boolean).join('/');
    const key = `${sender(e, phases[i]!)} | ${e.verb} | ${resource}${ns ? '' : ' (cluster)'}`;
    const row = counts.get(key) ?? phases.map(() => 0);
    row[i]!++;
    totals[i]!++;
    counts.set(key, row);
  }
  const perLab = (c: number): string => (c / n).toFixed(2);
  const lines = [
    `| sender | verb | resource | ${phases.map((p) => p.name).join(' | ')} |`,
    `| --- | --- | --- | ${phases.map(() => '---').join(' | ')} |`,
  ];
  const rows = [...counts].sort((a, b) => Math.max(...b[1]) - Math.max(...a[1]));
  for (const [key, row] of rows) {
    if (Math.max(...row) < n / 20) continue;
    lines.push(`| ${key} | ${row.map(perLab).join(' | ')} |`);
  }
  lines.push(`| all requests | | | ${totals.map(perLab).join(' | ')} |`);
  lines.push('', '(requests per lab; rows under 0.05 per lab left out)', '');
  for (const p of phases)
    lines.push(
      `${p.name}: Ready in ${p.seconds.toFixed(1)} s; CPU per lab (ms): ` +
        COMPONENTS.map((c) => `${c} ${((p.cpu[c] * 1000) / n).toFixed(2)}`).join(', '),
    );
  return lines.join('\n');
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
await main();
