/**
 * What every reliability scenario shares: an operator process running as the
 * shipped ServiceAccount behind a TCP proxy the test controls, light labs,
 * a convergence check that rebuilds every child from the lab as the API server
 * has it and compares, a claim ledger for data safety, and the figures the
 * suite prints at the end.
 */
import { Writable } from 'node:stream';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { StudyLab, StudyLabSpec } from '../../src/api/v1alpha1/index.js';
import {
  ApiError,
  Client,
  Deployments,
  Informer,
  NetworkPolicies,
  PersistentVolumeClaims,
  RequestError,
  Services,
  createLogger,
  isAlreadyExists,
  isNotFound,
  type KubeObject,
  type ResourceType,
} from '../../src/runtime/index.js';
import {
  buildDeployment,
  buildNetworkPolicy,
  buildPersistentVolumeClaim,
  buildService,
} from '../../src/studylab/builders/index.js';
import { INTENT_HASH_ANNOTATION, driftedFields, withIntentHash } from '../../src/studylab/intent.js';
import { INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/studylab/labels.js';
import { StudyLabs } from '../../src/studylab/resources.js';
import { cluster, eventually, testNamespace, type Cluster } from '../support/cluster.js';
import { installOperatorPrerequisites } from '../support/install.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';
import { TcpProxy, proxiedKubeconfigFile } from '../support/tcp-proxy.js';

export const MANAGED = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
const quiet = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, done) => done() }) });

// --- figures ----------------------------------------------------------------

export interface FaultFigure {
  scenario: string;
  fault: string;
  injected: number;
  survived: number;
  /** From the end of the fault (or the moment it was injected, for instantaneous ones) to convergence. */
  recoverMs: number;
  note?: string;
}

export const figures = {
  faults: [] as FaultFigure[],
  invalidTried: 0,
  invalidRejected: 0,
  randomTried: 0,
  randomAccepted: 0,
  randomRefused: 0,
  randomInvalid: 0,
  /** Random specs created with an operator running, by how each lab ended. */
  operatorRun: { labs: 0, accepted: 0, invalid: 0, degraded: 0, settledMs: 0 },
  /** Claims deleted or recreated without their lab saying Delete and being deleted. */
  objectsLost: 0,
  claimsTracked: 0,
  /** Every operator process started, for the security scan of their logs. */
  operators: [] as { scenario: string; process: OperatorProcess }[],
  startedAt: Date.now(),
};

export function recordFault(f: FaultFigure): void {
  figures.faults.push(f);
}

after(function () {
  const lines = [
    '',
    `reliability summary (suite ${((Date.now() - figures.startedAt) / 1000).toFixed(0)} s)`,
    ...figures.faults.map(
      (f) =>
        `  ${f.scenario.padEnd(12)} ${f.fault.padEnd(46)} injected ${f.injected} survived ${f.survived}  recover ${(f.recoverMs / 1000).toFixed(1)} s${f.note ? `  (${f.note})` : ''}`,
    ),
    `  invalid StudyLabs tried ${figures.invalidTried}, rejected with the field named ${figures.invalidRejected}`,
    `  random valid-schema specs tried ${figures.randomTried}: children accepted by dry run ${figures.randomAccepted}, a node port refused ${figures.randomRefused}, reported Invalid with a reason ${figures.randomInvalid}`,
    `  random specs created with the operator running ${figures.operatorRun.labs}: accepted ${figures.operatorRun.accepted}, Invalid with a reason ${figures.operatorRun.invalid}, Degraded with the API server's message ${figures.operatorRun.degraded}; all settled after ${(figures.operatorRun.settledMs / 1000).toFixed(0)} s`,
    `  claims tracked ${figures.claimsTracked}, objects lost ${figures.objectsLost}`,
  ];
  console.log(lines.join('\n'));
});

// --- labs -------------------------------------------------------------------

/**
 * A light lab: no pods (replicas 0), so 200 of them cost the plane little,
 * with a mix of what a lab can ask for: every 10th has a claim (alternately
 * Retain and Delete), every 7th a NetworkPolicy, every 9th no Service.
 */
export function lightSpec(i: number, revision = 0): StudyLabSpec {
  const spec: StudyLabSpec = {
    app: {
      image: 'nginx:1.27',
      replicas: 0,
      ports: [{ name: 'http', containerPort: 80 }],
      env: [{ name: 'REVISION', value: String(revision) }],
    },
  };
  if (i % 10 === 0) spec.storage = { size: '1Mi', retentionPolicy: i % 20 === 0 ? 'Delete' : 'Retain' };
  if (i % 7 === 0) spec.networkPolicy = { ingress: [] };
  if (i % 9 === 0) spec.service = { type: 'None' };
  return spec;
}

/** The merge patch that moves a light lab to another revision. */
export function revisionPatch(revision: number): object {
  return { spec: { app: { env: [{ name: 'REVISION', value: String(revision) }] } } };
}

export function labObject(namespace: string, name: string, spec: StudyLabSpec): StudyLab {
  return {
    apiVersion: `${StudyLabs.group}/${StudyLabs.version}`,
    kind: StudyLabs.kind,
    metadata: { namespace, name },
    spec,
  } as StudyLab;
}

/** True for what a client sees while the API server (or etcd behind it) is down or restarting. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof RequestError) return true;
  return err instanceof ApiError && (err.status >= 500 || err.status === 429);
}

/**
 * Retries `fn` through an outage (connection errors, 5xx, 429) until it
 * succeeds; any other error is thrown at once. The test's own writes must
 * survive the faults too, or the scenario would measure the test.
 */
export async function throughOutage<T>(fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isUnavailable(err) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1000)));
    }
  }
}

/** Runs `fn` over `items` with at most `width` in flight. */
export async function inParallel<T>(items: T[], width: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

// --- the scenario harness --------------------------------------------------

export interface OperatorOptions {
  args?: string[];
  /** POD_NAME: the start of the leader election identity. */
  podName?: string;
  logLevel?: 'info' | 'debug';
}

export interface ProxiedOperator {
  process: OperatorProcess;
  proxy: TcpProxy;
  /** The token kubeconfig it runs with (the shipped ServiceAccount's), behind the proxy. */
  kubeconfig: string;
  /** Set once the process has exited. */
  exitCode?: number | null;
}

/**
 * One scenario: a namespace, an admin client for the test's own reads and
 * writes, and operator processes restricted to that namespace, each behind
 * its own proxy. Call `Scenario.start` from a `before` hook.
 */
export class Scenario {
  readonly admin: Client;
  readonly operators: ProxiedOperator[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'studylab-reliability-'));
  private claimsAtStart = new Map<string, string>();

  private constructor(
    readonly name: string,
    readonly cluster: Cluster,
    readonly namespace: string,
    private readonly serviceAccountKubeconfig: string,
  ) {
    this.admin = new Client(cluster.kubeConfig, { timeoutMs: 10_000 });
  }

  static async start(name: string): Promise<Scenario> {
    const c = await cluster();
    if (!c.local)
      throw new Error('the reliability suite injects faults into the local plane: unset STUDYLAB_KUBECONFIG');
    const { kubeconfig } = await installOperatorPrerequisites();
    const started: { scenario?: Scenario } = {};
    // Registered before the namespace's own after hook, so the operators stop before their namespace goes.
    after(async function () {
      this.timeout(60_000);
      await started.scenario?.stop();
    });
    const namespace = await testNamespace(`rel-${name}`);
    started.scenario = new Scenario(name, c, namespace, kubeconfig);
    return started.scenario;
  }

  get local() {
    return this.cluster.local!;
  }

  get apiServerPort(): number {
    return Number(new URL(this.local.apiServerUrl).port);
  }

  /** The token the operator authenticates with: it must never appear in logs or endpoints. */
  get serviceAccountToken(): string {
    const config = parse(readFileSync(this.serviceAccountKubeconfig, 'utf8')) as {
      users: { user: { token: string } }[];
    };
    return config.users[0]!.user.token;
  }

  /** Starts an operator as the shipped ServiceAccount, watching only this namespace, behind a new proxy. */
  async startOperator(options: OperatorOptions = {}): Promise<ProxiedOperator> {
    const proxy = await TcpProxy.start(this.apiServerPort);
    const kubeconfig = proxiedKubeconfigFile(
      this.serviceAccountKubeconfig,
      join(this.dir, `operator-${this.operators.length}.kubeconfig`),
      proxy.port,
    );
    const process = await startOperator({
      kubeconfig,
      args: [
        `--namespace=${this.namespace}`,
        `--log-level=${options.logLevel ?? 'info'}`,
        ...(options.args ?? []),
      ],
      ...(options.podName ? { env: { POD_NAME: options.podName } } : {}),
    });
    const op: ProxiedOperator = { process, proxy, kubeconfig };
    void process.exited.then((code) => (op.exitCode = code));
    this.operators.push(op);
    figures.operators.push({ scenario: this.name, process });
    return op;
  }

  async stop(): Promise<void> {
    const keep = process.env.STUDYLAB_RELIABILITY_LOGS;
    for (const [i, op] of this.operators.entries()) {
      await op.process.stop();
      await op.proxy.close();
      // For a post-mortem: every line each operator wrote, one file per process.
      if (keep) {
        mkdirSync(keep, { recursive: true });
        writeFileSync(
          join(keep, `${this.name}-${i}-${op.process.pid}.log`),
          op.process.logs.map((l) => JSON.stringify(l)).join('\n'),
        );
      }
    }
    if (keep) {
      for (const component of ['kube-apiserver', 'kube-controller-manager', 'etcd'])
        writeFileSync(join(keep, `${this.name}-${component}.tail`), this.local.logTail(component, 200));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  // --- the test's own writes, each surviving an outage ---

  async createLab(name: string, spec: StudyLabSpec): Promise<void> {
    await throughOutage(() =>
      this.admin.create(StudyLabs, labObject(this.namespace, name, spec)).then(
        () => undefined,
        (err: unknown) => {
          // An earlier attempt reached the server before the connection died.
          if (!isAlreadyExists(err)) throw err;
        },
      ),
    );
  }

  async patchLab(name: string, patch: object): Promise<void> {
    await throughOutage(() => this.admin.patch(StudyLabs, this.namespace, name, patch, { type: 'merge' }));
  }

  async deleteLab(name: string): Promise<void> {
    await throughOutage(() => this.admin.delete(StudyLabs, this.namespace, name));
  }

  async labs(): Promise<StudyLab[]> {
    return (await this.admin.list<StudyLab>(StudyLabs, { namespace: this.namespace })).items;
  }

  async children(type: ResourceType): Promise<KubeObject[]> {
    return (await this.admin.list(type, { namespace: this.namespace, labelSelector: MANAGED })).items;
  }

  // --- convergence ---

  /**
   * Everything that is not yet as it should be, fetched fresh from the API
   * server: each lab's status for its generation, and each child rebuilt from
   * the lab with the operator's own pure builders and compared (intent hash,
   * every field the intent sets, controller owner); children no lab asks for.
   */
  async divergence(expectPhase: string | null = 'Ready'): Promise<string[]> {
    return [...(await this.divergenceByLab(expectPhase)).values()].flat();
  }

  /**
   * divergence(), lab by lab: the problems of each lab (by name, every lab has an entry), and under ''
   * those of no lab (duplicates, children no lab asks for). `onlyChildren` leaves the status out.
   */
  async divergenceByLab(
    expectPhase: string | null = 'Ready',
    onlyChildren = false,
  ): Promise<Map<string, string[]>> {
    const [labs, deployments, services, policies, claims] = await Promise.all([
      this.labs(),
      this.children(Deployments),
      this.children(Services),
      this.children(NetworkPolicies),
      this.children(PersistentVolumeClaims),
    ]);
    const byName = (list: KubeObject[]) => new Map(list.map((o) => [o.metadata!.name!, o]));
    const live = {
      Deployment: byName(deployments),
      Service: byName(services),
      NetworkPolicy: byName(policies),
      PersistentVolumeClaim: byName(claims),
    };
    const problems = new Map<string, string[]>([['', []]]);
    const others = problems.get('')!;
    for (const [kind, list] of Object.entries({
      Deployment: deployments,
      Service: services,
      NetworkPolicy: policies,
      PersistentVolumeClaim: claims,
    })) {
      if (new Set(list.map((o) => o.metadata?.name)).size !== list.length) others.push(`duplicate ${kind}s`);
    }
    const labNames = new Set(labs.map((l) => l.metadata.name));
    for (const lab of labs) {
      const name = lab.metadata.name!;
      const own: string[] = [];
      problems.set(name, own);
      if (!onlyChildren) own.push(...statusProblems(lab, expectPhase));
      let claim: ReturnType<typeof buildPersistentVolumeClaim> | undefined;
      let wanted: Record<keyof typeof live, KubeObject | undefined>;
      try {
        claim = lab.spec.storage
          ? buildPersistentVolumeClaim(lab, live.PersistentVolumeClaim.get(name))
          : undefined;
        wanted = {
          Deployment: lab.spec.app ? buildDeployment(lab) : undefined,
          Service: buildService(lab),
          NetworkPolicy: buildNetworkPolicy(lab),
          PersistentVolumeClaim: claim?.intent,
        };
      } catch (err) {
        // Only a lab the operator calls Invalid may be one the builders cannot build.
        own.push(`${name}: a builder threw: ${String(err)}`);
        continue;
      }
      for (const kind of Object.keys(wanted) as (keyof typeof live)[]) {
        // The hash leaves out what the claim's intent only carries over from the live claim, as the reconciler's does.
        const unhashed = kind === 'PersistentVolumeClaim' ? (claim?.inherited ?? []) : [];
        own.push(...childProblems(lab, kind, wanted[kind], live[kind].get(name), unhashed));
      }
    }
    for (const [kind, objects] of Object.entries(live)) {
      for (const [name, obj] of objects) {
        // A retained claim outlives its lab by design; anything else without a lab is an orphan.
        const retained = kind === 'PersistentVolumeClaim' && !obj.metadata?.ownerReferences?.length;
        if (!labNames.has(name) && !retained && !obj.metadata?.deletionTimestamp)
          others.push(`${kind} ${name}: no lab asks for it`);
      }
    }
    return problems;
  }

  /**
   * Waits until divergence() is empty; returns how long that took. With `expectPhase` null, only
   * what the operator does itself counts (children and observedGeneration), not the phase, which also
   * waits for kube-controller-manager to report on the Deployments and bind the claims.
   */
  async waitConverged(timeoutMs = 120_000, expectPhase: string | null = 'Ready'): Promise<number> {
    const started = Date.now();
    let last: string[] = [];
    try {
      await eventually(
        async () => {
          last = await throughOutage(() => this.divergence(expectPhase));
          if (last.length > 0) throw new Error(`${last.length} problems`);
        },
        { timeoutMs, intervalMs: 500 },
      );
    } catch (err) {
      const alive = this.operators.map(
        (o) =>
          `pid ${o.process.pid} ${'exitCode' in o ? `exited with ${o.exitCode}` : 'running'}, ${o.process.logs.length} log lines, last: ${o.process.logs
            .slice(-3)
            .map((l) => JSON.stringify(l).slice(0, 300))
            .join(' | ')}`,
      );
      throw new Error(
        `not converged within ${timeoutMs} ms (${alive.join(', ')}):\n  ${last.slice(0, 15).join('\n  ')}`,
        { cause: err },
      );
    }
    return Date.now() - started;
  }

  // --- data safety ---

  /** The claims now, name -> UID. */
  async claimUids(): Promise<Map<string, string>> {
    const claims = await throughOutage(() => this.children(PersistentVolumeClaims));
    return new Map(claims.map((c) => [c.metadata!.name!, c.metadata!.uid!]));
  }

  /** Remembers the claims to compare with at the end of the scenario. */
  async recordClaims(): Promise<Map<string, string>> {
    this.claimsAtStart = await this.claimUids();
    return this.claimsAtStart;
  }

  /**
   * Data safety, checked two ways: the UIDs recorded by recordClaims() are all
   * still there, unchanged, except for claims of labs that said Delete and that
   * the test deleted; and the run-wide claim watch saw no deletion or
   * re-creation in this namespace other than those. Closes the namespace for
   * the watch, so the namespace's own deletion afterwards is not counted.
   */
  async verifyClaims(deletedWithLab: Set<string> = new Set()): Promise<string[]> {
    const now = await this.claimUids();
    const lost: string[] = [];
    for (const [name, uid] of this.claimsAtStart) {
      if (deletedWithLab.has(name)) continue;
      const current = now.get(name);
      if (current !== uid) lost.push(`${name}: ${uid} -> ${current ?? 'deleted'}`);
    }
    lost.push(...claimWatch.close(this.namespace, deletedWithLab));
    figures.claimsTracked += this.claimsAtStart.size;
    figures.objectsLost += lost.length;
    return lost;
  }
}

/** The lab's status is not for its generation, or not in the phase expected (null: any phase). */
function statusProblems(lab: StudyLab, expectPhase: string | null): string[] {
  const name = lab.metadata.name!;
  const status = lab.status;
  if (status?.observedGeneration !== lab.metadata.generation)
    return [`${name}: observedGeneration ${status?.observedGeneration} != ${lab.metadata.generation}`];
  if (expectPhase && status?.phase !== expectPhase) {
    const ready = status?.conditions?.find((c) => c.type === 'Ready');
    return [`${name}: phase ${status?.phase} (${ready?.reason}: ${ready?.message})`];
  }
  return [];
}

function childProblems(
  lab: StudyLab,
  kind: string,
  intent: KubeObject | undefined,
  live: KubeObject | undefined,
  unhashed: readonly string[],
): string[] {
  const name = lab.metadata.name!;
  if (!intent) return live && !(kind === 'PersistentVolumeClaim') ? [`${kind} ${name}: not asked for`] : [];
  if (!live) return [`${kind} ${name}: missing`];
  const desired = withIntentHash(intent, unhashed);
  const problems: string[] = [];
  const hash = (o: KubeObject) => o.metadata?.annotations?.[INTENT_HASH_ANNOTATION];
  if (hash(live) !== hash(desired))
    problems.push(`${kind} ${name}: intent hash ${hash(live)} != ${hash(desired)}`);
  const drifted = driftedFields(desired, live);
  if (drifted.length > 0) problems.push(`${kind} ${name}: drifted ${drifted.join(', ')}`);
  if (live.metadata?.labels?.[INSTANCE_LABEL] !== name) problems.push(`${kind} ${name}: instance label`);
  return problems;
}

// --- the run-wide claim watch --------------------------------------------

/**
 * Every claim the operator manages, in every namespace, for the whole run:
 * an informer of the test's own (admin) that records each deletion and each
 * name that comes back with another UID, faults or not. Relists after a 410
 * report what changed in between, so a delete-and-recreate shows as a UID change.
 */
class ClaimWatch {
  private readonly events = new Map<string, string[]>();
  private readonly closed = new Set<string>();
  private readonly stop = new AbortController();
  private informer: Informer | undefined;

  async start(): Promise<void> {
    if (this.informer) return;
    const c = await cluster();
    this.informer = new Informer(
      new Client(c.kubeConfig),
      PersistentVolumeClaims,
      { labelSelector: MANAGED, backoff: { initialMs: 200, maxMs: 2_000 } },
      { logger: quiet },
    );
    this.informer.addEventHandler({
      onDelete: (obj) => this.note(obj, `deleted ${obj.metadata?.uid}`),
      onUpdate: (oldObj, newObj) => {
        if (oldObj.metadata?.uid !== newObj.metadata?.uid)
          this.note(newObj, `recreated ${oldObj.metadata?.uid} -> ${newObj.metadata?.uid}`);
      },
    });
    this.informer.start(this.stop.signal);
    await this.informer.waitForSync();
  }

  /** What happened to claims in `namespace` that is not allowed; stops counting there. */
  close(namespace: string, allowed: Set<string>): string[] {
    this.closed.add(namespace);
    return [...this.events.entries()]
      .filter(([key]) => key.startsWith(`${namespace}/`) && !allowed.has(key.slice(namespace.length + 1)))
      .flatMap(([key, what]) => what.map((w) => `${key}: ${w} (seen by the claim watch)`));
  }

  shutdown(): void {
    this.stop.abort();
  }

  private note(obj: KubeObject, what: string): void {
    const ns = obj.metadata?.namespace ?? '';
    if (this.closed.has(ns)) return;
    const key = `${ns}/${obj.metadata?.name}`;
    this.events.set(key, [...(this.events.get(key) ?? []), what]);
  }
}

export const claimWatch = new ClaimWatch();
before(async function () {
  this.timeout(300_000);
  await claimWatch.start();
});
after(() => claimWatch.shutdown());

// --- small helpers ----------------------------------------------------------

/** Waits until `check` is true (polling every `intervalMs`), failing with `what` at the deadline. */
export async function until(
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  intervalMs = 20,
): Promise<void> {
  await eventually(
    async () => {
      if (!(await check())) throw new Error(typeof what === 'string' ? what : what());
    },
    { timeoutMs, intervalMs },
  );
}

export function msSince(t: number): number {
  return Date.now() - t;
}

/** Log lines of a process, with their time as a number. */
export function timedLogs(op: OperatorProcess): (Record<string, unknown> & { at: number })[] {
  return op.logs
    .filter((l) => typeof l.ts === 'string')
    .map((l) => ({ ...l, at: Date.parse(l.ts as string) }));
}

export async function readOrUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
