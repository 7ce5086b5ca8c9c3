/**
 * An operator under test as a separate process: ours (bundled as the image
 * runs it, `node dist/bundle/main.mjs`) or the Go peer. Both take the same flags for what the
 * benchmark needs, log to a file, and are read through /metrics and /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, REPO_ROOT, sumMetric } from '../../src/testenv/index.js';

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export type OperatorName = 'ours' | 'peer';

export interface OperatorSpec {
  name: OperatorName;
  /** The Go peer's binary; unused for ours. */
  peerBinary?: string;
  /** The node that runs ours; unused for the peer. */
  oursNode?: string;
  kubeconfig: string;
  namespace: string;
  concurrency: number;
  logDir: string;
  /** Extra node flags for ours (profiling). */
  nodeArgs?: string[];
  logLevel?: string;
  /** Extra flags for our operator. */
  extraArgs?: string[];
}

/** USER_HZ: /proc counts CPU time in these; 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * A process's memory from /proc/<pid>/status: VmRSS now, or VmHWM, the peak since it started or
 * since resetPeakRss. Any process, so the plane's components are read the same way as the operators.
 */
export function procMemory(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * CPU time a process has used so far (user + system), from /proc/<pid>/stat. Any process, so the
 * plane's components are read the same way as the operators.
 */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; count fields from the ')' that closes it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** Starts a new peak: writing 5 to clear_refs resets VmHWM to the current RSS (proc(5); needs root or the owner). */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** What the benchmark reads from a running operator. */
export class OperatorProcess {
  /** performance.now() when the process logged that its workers started. */
  private startedAt: number | undefined;
  private readonly exited: Promise<unknown>;

  private constructor(
    readonly name: OperatorName,
    private readonly child: ChildProcess,
    readonly metricsUrl: string,
    private readonly probesUrl: string,
  ) {
    this.exited = once(child, 'exit');
  }

  static async start(spec: OperatorSpec, logName: string): Promise<OperatorProcess> {
    const metricsPort = await freePort();
    // Not read by the bench, but two operators must not both take the default :8081.
    const probesPort = await freePort();
    const common = [
      `--kubeconfig=${spec.kubeconfig}`,
      `--namespace=${spec.namespace}`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${probesPort}`,
      `--max-concurrent-reconciles=${spec.concurrency}`,
    ];
    const [cmd, args] =
      spec.name === 'ours'
        ? [
            spec.oursNode!,
            [
              // The image's node flags (Dockerfile, ENTRYPOINT).
              '--max-semi-space-size=1',
              ...(spec.nodeArgs ?? []),
              join(REPO_ROOT, 'dist', 'bundle', 'main.mjs'),
              ...common,
              `--log-level=${spec.logLevel ?? 'info'}`,
              // The peer's controller-runtime metrics server is plain HTTP unless told otherwise: the
              // same for ours, so a scrape costs both the same and needs no token.
              '--metrics-secure=false',
              ...(spec.extraArgs ?? []),
            ],
          ]
        : [spec.peerBinary!, common];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    running.add(child);
    child.once('exit', () => running.delete(child));
    const op = new OperatorProcess(
      spec.name,
      child,
      `http://127.0.0.1:${metricsPort}/metrics`,
      `http://127.0.0.1:${probesPort}`,
    );
    const log = createWriteStream(join(spec.logDir, `${logName}.log`));
    const LINE = 'Starting workers';
    /** Watches one stream; keeps the end of the last chunk, since a pipe may cut the line in two. */
    const watchFor = (stream: NodeJS.ReadableStream): void => {
      let tail = '';
      stream.on('data', (c: Buffer) => {
        log.write(c);
        if (op.startedAt !== undefined) return;
        const text = tail + c.toString('utf8');
        // controller-runtime logs this once the caches are synced and the workers run.
        if (text.includes(LINE)) op.startedAt = performance.now();
        tail = text.slice(-LINE.length);
      });
    };
    watchFor(child.stdout);
    watchFor(child.stderr);
    void op.exited.then(() => log.end());
    return op;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Caches synced and workers started, read the same way for both: the log line both write then
   * ("Starting workers", controller-runtime's words), timed when it arrived rather than at the next
   * poll. /readyz for ours was polled every 25 ms, which put up to 25 ms more on ours alone.
   */
  isStarted(): boolean {
    if (!this.running) throw new Error(`${this.name} exited with ${this.child.exitCode}`);
    return this.startedAt !== undefined;
  }

  /** performance.now() of the "Starting workers" line; undefined before it. */
  get workersStartedAt(): number | undefined {
    return this.startedAt;
  }

  /** /readyz answers 200: caches synced, whether or not this process leads (a standby's are warm too). */
  async cachesSynced(): Promise<boolean> {
    try {
      return (await fetch(`${this.probesUrl}/readyz`)).ok;
    } catch {
      return false;
    }
  }

  async metrics(): Promise<string> {
    return (await fetch(this.metricsUrl)).text();
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return sumMetric(await this.metrics(), name, labels);
  }

  async reconciles(): Promise<number> {
    return this.metric('controller_runtime_reconcile_total', { controller: 'studylab' });
  }

  async queueDepth(): Promise<number> {
    return this.metric('workqueue_depth', { name: 'studylab' });
  }

  /** Resident set size from /proc, the same way for both. */
  rssBytes(): number {
    return procMemory(this.pid, 'VmRSS');
  }

  /** The highest RSS this process has had (since it started, or since resetPeakRss). */
  peakRssBytes(): number {
    return procMemory(this.pid, 'VmHWM');
  }

  /**
   * CPU time used so far (user + system), from /proc/<pid>/stat: on a machine the operator shares with
   * the control plane, its CPU is CPU the API server does not get.
   */
  cpuSeconds(): number {
    return procCpuSeconds(this.pid);
  }

  /** Live heap: V8's used heap for ours, Go's heap_alloc (reachable plus not yet swept) for the peer. */
  async heapBytes(): Promise<number> {
    const text = await this.metrics();
    return this.name === 'ours'
      ? sumMetric(text, 'nodejs_heap_size_used_bytes')
      : sumMetric(text, 'go_memstats_heap_alloc_bytes');
  }

  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}
