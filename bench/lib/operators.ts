/**
 * The operators under test, and the write loops they are measured against: ours (compiled, as a
 * container runs it), the Go controller-runtime peer (bench/peers/studylab-go, the same reconciler
 * written the way controller-runtime operators usually are), and a plain loop writing the same
 * children with no cache, no queue and no status (the raw write ceiling: as fast as anything could
 * make them), or with everything a lab promises besides (the floor for an operator keeping them).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { StudyLab } from '../../src/api/v1alpha1/index.js';
import {
  createLogger,
  Deployments,
  EventRecorder,
  PersistentVolumeClaims,
  Services,
} from '../../src/runtime/index.js';
import { withIntentHash } from '../../src/studylab/intent.js';
import { FIELD_MANAGER } from '../../src/studylab/labels.js';
import { StudyLabs } from '../../src/studylab/resources.js';
import { computeStatus, type Observed } from '../../src/studylab/status.js';
import { REPO_ROOT } from '../../src/testenv/index.js';
import { countRequests, perLab, round, writesIn, type CeilingResult, type LoopWrites } from './figures.js';
import { childIntents, createLabs } from './labs.js';
import { OperatorProcess, type OperatorName } from './operator-process.js';
import { log } from './options.js';
import { createNamespace, type Bench } from './plane.js';

// --- ours and the peer -----------------------------------------------------------------------------------

/**
 * Bundles ours as the image ships it (hack/bundle.ts, dist/bundle/main.mjs) and finds the node it
 * runs on, and builds the peer (cached by a hash of its sources), for the operators asked for.
 * A path is '' for an operator not benched.
 */
export function buildOperators(
  operators: readonly OperatorName[],
  oursOn: 'image' | 'host',
): { peerBinary: string; oursNode: string } {
  let oursNode = '';
  if (operators.includes('ours')) {
    log('bundling ours (npm run bundle, as the image does)');
    execFileSync('npm', ['run', '--silent', 'bundle'], { cwd: REPO_ROOT, stdio: 'inherit' });
    oursNode = nodeForOurs(oursOn);
  }
  if (!operators.includes('peer')) return { peerBinary: '', oursNode };
  log('building the Go peer (cached by hash)');
  return { peerBinary: script('bench/peers/build.sh'), oursNode };
}

/** The node ours runs on: the image's (fetched once by bench/image-node.sh) or the host's. */
export function nodeForOurs(on: 'image' | 'host'): string {
  const node = on === 'image' ? script('bench/image-node.sh') : process.execPath;
  log(`ours runs on ${on === 'image' ? "the image's" : "the host's"} node: ${node}`);
  return node;
}

/** Runs a script of the repository (a path from its root); returns what it printed. */
const script = (path: string): string =>
  execFileSync('bash', [join(REPO_ROOT, ...path.split('/'))], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();

/** A fresh operator process watching `namespace`, logging to `<name>-<tag>.log`; `args` are added to ours only. */
export async function startOperator(
  bench: Bench,
  name: OperatorName,
  namespace: string,
  tag: string,
  args: readonly string[] = [],
): Promise<OperatorProcess> {
  const { options } = bench;
  return OperatorProcess.start(
    {
      name,
      peerBinary: bench.peerBinary,
      oursNode: bench.oursNode,
      kubeconfig: bench.plane.saKubeconfig,
      namespace,
      concurrency: options.concurrency,
      logDir: bench.logDir,
      nodeArgs: options.ours.nodeArgs,
      logLevel: options.ours.logLevel,
      extraArgs: [...options.ours.extraArgs, ...args],
    },
    `${name}-${tag}`,
  );
}

/** Polls `fn` every `everyMs` until it holds; returns performance.now() of the poll that saw it. */
export async function waitFor(
  what: string,
  fn: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 25,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await fn()) return performance.now();
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The operator busy with nothing: queue empty and no reconcile for `quietMs`. */
export async function waitIdle(op: OperatorProcess, timeoutMs: number, quietMs = 2000): Promise<void> {
  let last = await op.reconciles();
  let since = performance.now();
  await waitFor(
    `${op.name} idle`,
    async () => {
      const now = await op.reconciles();
      if (now !== last || (await op.queueDepth()) > 0) {
        last = now;
        since = performance.now();
        return false;
      }
      return performance.now() - since >= quietMs;
    },
    timeoutMs,
    200,
  );
}

// --- the write loops ------------------------------------------------------------------------------------

export const ceilingNamespace = (n: number, writes: LoopWrites): string =>
  writes === 'children' ? `bench-ceiling-${n}` : `bench-lab-writes-${n}`;

/**
 * Creates labs [0, n) in `ns` as the bench creates them, while the operator's concurrency of workers
 * hands each lab to `write` as soon as it is created: a plain loop in an operator's place.
 */
export async function eachLabAsCreated(
  bench: Bench,
  ns: string,
  n: number,
  write: (lab: StudyLab) => Promise<void>,
): Promise<void> {
  const queue: StudyLab[] = [];
  let creating = true;
  let sleepers: (() => void)[] = [];
  const wake = (): void => {
    const s = sleepers;
    sleepers = [];
    for (const w of s) w();
  };
  const creation = createLabs(bench, ns, 0, n, (lab) => {
    queue.push(lab);
    wake();
  }).finally(() => {
    creating = false;
    wake();
  });
  const worker = async (): Promise<void> => {
    for (;;) {
      const lab = queue.shift();
      if (lab) await write(lab);
      else if (!creating) return;
      else await new Promise<void>((r) => sleepers.push(r));
    }
  };
  await Promise.all([creation, ...Array.from({ length: bench.options.concurrency }, worker)]);
}

/**
 * The same labs created the same way, and the same 4N children (built by our
 * builders, applied with our client under our ServiceAccount) written by a
 * plain loop with the operator's concurrency: as fast as anything could make
 * these children, with no cache, no queue and no status.
 *
 * With `writes: 'lab'` the loop also sends what a lab promises besides its
 * children, as an operator must: one "Created" Event naming its children
 * (through the runtime's EventRecorder, as the operator sends it) and two status writes
 * (before its children exist and after). That is the floor for an operator
 * that keeps those promises; the raw ceiling is the floor for one that does not.
 */
export async function ceiling(
  bench: Bench,
  n: number,
  writes: LoopWrites,
  ns = ceilingNamespace(n, writes),
): Promise<CeilingResult> {
  const { saClient } = bench.plane;
  await createNamespace(bench.plane, ns);
  const events = new EventRecorder(
    saClient,
    { reportingController: 'studylab.io/bench-ceiling' },
    { logger: createLogger({ level: 'warn' }) },
  );
  const writeStatus = (lab: StudyLab, observed: Partial<Observed>): Promise<unknown> =>
    saClient.apply(
      StudyLabs,
      {
        apiVersion: lab.apiVersion,
        kind: lab.kind,
        metadata: { name: lab.metadata.name, namespace: lab.metadata.namespace },
        status: computeStatus(lab, { problems: [], applyErrors: [], ...observed }, new Date()),
      },
      { fieldManager: FIELD_MANAGER, force: true, subresource: 'status' },
    );
  const requests = await countRequests(bench.plane);
  const t0 = performance.now();
  await eachLabAsCreated(bench, ns, n, async (lab) => {
    if (writes === 'lab') await writeStatus(lab, {});
    const applied: Partial<Observed> = {};
    const created: string[] = [];
    for (const { type, intent, unhashed } of childIntents(lab)) {
      const child = await saClient.apply(type, withIntentHash(intent, unhashed), {
        fieldManager: FIELD_MANAGER,
        force: true,
      });
      if (writes === 'children') continue;
      if (type === Deployments) applied.deployment = child;
      if (type === Services) applied.service = child;
      if (type === PersistentVolumeClaims) applied.pvc = child;
      created.push(type.kind);
    }
    if (writes === 'lab') {
      events.event(lab, 'Normal', 'Created', 'Create', `Created ${created.join(', ')} ${lab.metadata.name}`);
      await writeStatus(lab, applied);
    }
  });
  await events.flush();
  const seconds = (performance.now() - t0) / 1000;
  const byRequest = await requests.take({ 'POST studylabs': n });
  return {
    n,
    writes,
    seconds: round(seconds, 2),
    writesPerSecond: round(writesIn(byRequest) / seconds),
    requestsPerLab: perLab(byRequest, n),
  };
}
