/**
 * The operator as a separate process, the way it runs in production: for
 * end-to-end, reliability and benchmark suites. Logs are parsed as JSON
 * lines; metrics and probes are read over HTTP. Unless `metricsToken` is given, the
 * operator runs as `make run` does, with the secure server in plain, open HTTP
 * (--metrics-secure=false); with it, over HTTPS, scraped with that token.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { freePorts, REPO_ROOT, sumMetric } from '../../src/testenv/index.js';
import { eventually } from './cluster.js';
import { get } from './https.js';

export interface OperatorProcess {
  readonly pid: number;
  readonly metricsUrl: string;
  /** The debug page, on the same server as /metrics. */
  readonly debugUrl: string;
  readonly probesUrl: string;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Prometheus text from /metrics. */
  metrics(): Promise<string>;
  /** A metric's value summed over the series whose labels include `labels`. */
  metricValue(name: string, labels?: Record<string, string>): Promise<number>;
  /** Resolves once /readyz says ok (caches synced). */
  waitReady(timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export interface StartOperatorOptions {
  kubeconfig: string;
  args?: string[];
  /** Mirror the operator's log lines to stderr (STUDYLAB_OPERATOR_LOGS=1 does the same). */
  echo?: boolean;
  /**
   * What node runs, before the flags. @default the TypeScript entry point through tsx;
   * the production-build test passes a compiled `dist/src/main.js` instead.
   */
  entry?: readonly string[];
  /** @default the current directory */
  cwd?: string;
  /** Extra environment, e.g. POD_NAME, which becomes the start of the leader election identity. */
  env?: Record<string, string>;
  /**
   * Run the secure server as deployed (HTTPS, every request reviewed by the API server) and scrape it
   * with this bearer token. @default plain HTTP without authentication, as `make run`
   */
  metricsToken?: string;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export async function startOperator(options: StartOperatorOptions): Promise<OperatorProcess> {
  const [metricsPort, probesPort] = (await freePorts(2)) as [number, number];
  const echo = options.echo ?? Boolean(process.env.STUDYLAB_OPERATOR_LOGS);
  const child = spawn(
    process.execPath,
    [
      ...(options.entry ?? ['--import', 'tsx', join(REPO_ROOT, 'src', 'main.ts')]),
      `--kubeconfig=${options.kubeconfig}`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${probesPort}`,
      ...(options.metricsToken ? [] : ['--metrics-secure=false']),
      ...(options.args ?? []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: options.cwd,
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...options.env },
    },
  );
  running.add(child);
  const logs: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (echo) process.stderr.write(`[operator ${child.pid}] ${line}\n`);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (echo) process.stderr.write(`[operator ${child.pid} stderr] ${chunk}`);
    logs.push({ msg: chunk, stderr: true });
  });
  const exited = once(child, 'exit').then(([code]) => {
    running.delete(child);
    return code as number | null;
  });

  const base = `${options.metricsToken ? 'https' : 'http'}://127.0.0.1:${metricsPort}`;
  const metricsUrl = `${base}/metrics`;
  const probesUrl = `http://127.0.0.1:${probesPort}`;
  const metrics = async (): Promise<string> => {
    const res = await get(metricsUrl, options.metricsToken ? { token: options.metricsToken } : {});
    if (res.status !== 200) throw new Error(`${metricsUrl}: ${res.status} ${res.body}`);
    return res.body;
  };
  return {
    pid: child.pid!,
    metricsUrl,
    debugUrl: `${base}/debug/controllers`,
    probesUrl,
    logs,
    exited,
    metrics,
    async metricValue(name, labels = {}) {
      return sumMetric(await metrics(), name, labels);
    },
    async waitReady(timeoutMs = 60_000) {
      await eventually(
        async () => {
          if (child.exitCode !== null)
            throw new Error(`operator exited with ${child.exitCode}: ${tail(logs)}`);
          const res = await fetch(`${probesUrl}/readyz`);
          if (res.status !== 200) throw new Error(`readyz ${res.status}`);
        },
        { timeoutMs },
      );
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

function tail(logs: Record<string, unknown>[]): string {
  return logs
    .slice(-10)
    .map((l) => JSON.stringify(l))
    .join('\n');
}
