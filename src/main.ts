/**
 * The operator's entry point: flags, wiring, signals. Everything else lives
 * in src/runtime (the machinery) and src/studylab (what a lab means).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import {
  LeaderElectionLostError,
  Manager,
  createLogger,
  errorFields,
  parseTraceFilter,
  type ListMode,
  type TraceFilter,
} from './runtime/index.js';
import { WATCHER_DEFAULTS } from './runtime/watcher.js';
import { LEADER_ELECTION_DEFAULTS } from './runtime/leader-election.js';
import { LOGGER_DEFAULTS } from './runtime/logger.js';
import { MANAGER_DEFAULTS } from './runtime/manager.js';
import { CHILD_CACHE, STUDYLAB_CONTROLLER_DEFAULTS, setupStudyLabController } from './studylab/controller.js';

/** Flags take seconds where the modules count milliseconds. */
const seconds = (ms: number): string => String(ms / 1000);

/**
 * Every flag, with its default read from the module that owns it: `--help` prints this table.
 * Only what is the operator's own (the Lease's name, the kubeconfig) is decided here.
 */
export const FLAGS = {
  kubeconfig: {
    type: 'string',
    default: '',
    help: 'kubeconfig file (default: $KUBECONFIG, then in-cluster)',
  },
  'metrics-bind-address': {
    type: 'string',
    default: MANAGER_DEFAULTS.metricsBindAddress,
    help: "address of the secure server: /metrics, /debug/controllers, /debug/pprof/*; '0' disables it",
  },
  'metrics-secure': {
    type: 'boolean',
    default: MANAGER_DEFAULTS.metricsSecure,
    help: 'HTTPS, each request authenticated and authorized by the API server (TokenReview, SubjectAccessReview); --metrics-secure=false: plain HTTP open to anyone, for local work on 127.0.0.1',
  },
  'metrics-cert-dir': {
    type: 'string',
    default: '',
    help: 'directory with tls.crt and tls.key, reloaded when they change (default: a self-signed certificate made at start)',
  },
  'debug-endpoints': {
    type: 'boolean',
    default: MANAGER_DEFAULTS.debugEndpoints,
    help: 'serve /debug/controllers on the secure server; --debug-endpoints=false turns it off',
  },
  profiling: {
    type: 'boolean',
    default: MANAGER_DEFAULTS.profiling,
    help: 'serve /debug/pprof/heap and /debug/pprof/profile?seconds=N on the secure server',
  },
  'health-probe-bind-address': {
    type: 'string',
    default: MANAGER_DEFAULTS.healthProbeBindAddress,
    help: "address of /healthz and /readyz (nothing else); '0' disables it",
  },
  'leader-elect': {
    type: 'boolean',
    default: false,
    help: 'elect a leader on a Lease, so several replicas can run',
  },
  'leader-election-namespace': {
    type: 'string',
    default: '',
    help: 'namespace of the Lease (default: the pod namespace, or default)',
  },
  'leader-election-id': { type: 'string', default: 'studylab-operator', help: 'name of the Lease' },
  'lease-duration': {
    type: 'string',
    default: seconds(LEADER_ELECTION_DEFAULTS.leaseDurationMs),
    help: 'seconds a standby waits before taking an unrenewed lease',
  },
  'renew-deadline': {
    type: 'string',
    default: seconds(LEADER_ELECTION_DEFAULTS.renewDeadlineMs),
    help: 'seconds the leader keeps trying to renew before it stops acting',
  },
  'retry-period': {
    type: 'string',
    default: seconds(LEADER_ELECTION_DEFAULTS.retryPeriodMs),
    help: 'seconds between lease acquire and renew attempts',
  },
  'watch-silence-timeout': {
    type: 'string',
    default: seconds(WATCHER_DEFAULTS.silenceTimeoutMs),
    help: 'seconds a watch may deliver nothing (no event, no bookmark) before it is reopened; the watch of Warning Events about claims gets no bookmarks and waits for its own timeout instead',
  },
  'list-mode': {
    type: 'string',
    default: WATCHER_DEFAULTS.listMode,
    help: "how the caches list: 'paginate' (pages of 500) or 'stream' (a watch with sendInitialEvents, KEP-3157; pages again where the API server refuses it)",
  },
  'max-concurrent-reconciles': {
    type: 'string',
    default: String(STUDYLAB_CONTROLLER_DEFAULTS.maxConcurrentReconciles),
    help: 'labs reconciled in parallel',
  },
  'high-priority-workers': {
    type: 'string',
    default: String(STUDYLAB_CONTROLLER_DEFAULTS.highPriorityWorkers),
    help: "more workers, kept for edits (a new generation of a lab's spec), so an edit never waits behind a storm; 0 for none",
  },
  namespace: { type: 'string', default: '', help: 'only watch labs in this namespace (default: all)' },
  'log-level': {
    type: 'string',
    default: process.env.LOG_LEVEL ?? LOGGER_DEFAULTS.level,
    help: 'error, warn, info or debug (env LOG_LEVEL)',
  },
  'log-format': {
    type: 'string',
    default: LOGGER_DEFAULTS.format,
    help: 'json (one object per line) or pretty (for humans)',
  },
  trace: {
    type: 'string',
    default: '',
    help: 'log every step of the loop: --trace for all labs, --trace=namespace/name for one (comma-separated for several)',
  },
  help: { type: 'boolean', default: false, help: 'print this help' },
} as const;

type Flags = { [K in keyof typeof FLAGS]: (typeof FLAGS)[K]['default'] extends boolean ? boolean : string };

export function parseFlags(argv: string[]): Flags {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map(([name, f]) => [name, { type: f.type, default: f.default }]),
  ) as NonNullable<ParseArgsConfig['options']>;
  const { args, explicit } = booleanValues(bareTrace(argv));
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  return { ...values, ...explicit } as Flags;
}

/**
 * `--metrics-secure=false`, as Go's flag package (and so every kubebuilder operator) takes it:
 * node's parseArgs gives boolean flags no value, so `--name=true|false` of a boolean flag is taken
 * out here. A later `--name` still wins over an earlier `--name=false`, as the last flag does in Go.
 */
function booleanValues(argv: string[]): { args: string[]; explicit: Record<string, boolean> } {
  const explicit: Record<string, boolean> = {};
  const args: string[] = [];
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    const flag = m ? (FLAGS as Record<string, { type: string }>)[m[1]!] : undefined;
    if (!m || flag?.type !== 'boolean') {
      if (/^--[a-z-]+$/.test(arg)) delete explicit[arg.slice(2)];
      args.push(arg);
      continue;
    }
    if (m[2] !== 'true' && m[2] !== 'false')
      throw new TypeError(`--${m[1]} takes true or false, got ${JSON.stringify(m[2])}`);
    explicit[m[1]!] = m[2] === 'true';
  }
  return { args, explicit };
}

/** `--trace` alone means every key: parseArgs wants a value for a string flag, so give it one. */
function bareTrace(argv: string[]): string[] {
  return argv.map((arg, i) => {
    const next = argv[i + 1];
    return arg === '--trace' && (next === undefined || next.startsWith('-')) ? '--trace=*' : arg;
  });
}

export function usage(): string {
  // An empty default is explained by the help text itself ("default: all", "$KUBECONFIG, then ...").
  const rows = Object.entries(FLAGS).map(
    ([name, f]) =>
      `  --${name.padEnd(28)} ${f.help}${f.default === '' ? '' : ` (default: ${JSON.stringify(f.default)})`}`,
  );
  return `usage: studylab-operator [flags]\n\n${rows.join('\n')}\n`;
}

function positiveNumber(flags: Flags, name: keyof Flags): number {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${name} must be a positive number, got ${JSON.stringify(flags[name])}`);
  return n;
}

function count(flags: Flags, name: keyof Flags): number {
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a whole number, 0 or more, got ${JSON.stringify(flags[name])}`);
  return n;
}

function listMode(flags: Flags): ListMode {
  const mode = flags['list-mode'];
  if (mode !== 'paginate' && mode !== 'stream')
    throw new Error(`--list-mode must be paginate or stream, got ${JSON.stringify(mode)}`);
  return mode;
}

function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export async function main(argv: string[]): Promise<number> {
  let flags: Flags;
  let trace: TraceFilter | undefined;
  let mode: ListMode;
  try {
    flags = parseFlags(argv);
    trace = parseTraceFilter(flags.trace);
    mode = listMode(flags);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage()}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(usage());
    return 0;
  }
  const logger = createLogger({
    level: flags['log-level'],
    format: flags['log-format'] === 'pretty' ? 'pretty' : 'json',
  });
  try {
    const podNamespace = process.env.POD_NAMESPACE;
    const podName = process.env.POD_NAME ?? hostname();
    const manager = new Manager({
      kubeConfig: loadKubeConfig(flags.kubeconfig),
      logger,
      // Names the replica, so the API server's audit log tells which one of several wrote what.
      userAgent: `studylab-operator (${podName})`,
      metricsBindAddress: flags['metrics-bind-address'],
      metricsSecure: flags['metrics-secure'],
      ...(flags['metrics-cert-dir'] ? { metricsCertDir: flags['metrics-cert-dir'] } : {}),
      debugEndpoints: flags['debug-endpoints'],
      profiling: flags.profiling,
      healthProbeBindAddress: flags['health-probe-bind-address'],
      namespace: flags.namespace || undefined,
      cacheByType: CHILD_CACHE,
      ...(trace ? { trace } : {}),
      watchSilenceTimeoutMs: positiveNumber(flags, 'watch-silence-timeout') * 1000,
      listMode: mode,
      leaderElection: flags['leader-elect']
        ? {
            namespace: flags['leader-election-namespace'] || podNamespace || 'default',
            name: flags['leader-election-id'],
            identity: `${podName}_${randomBytes(4).toString('hex')}`,
            leaseDurationMs: positiveNumber(flags, 'lease-duration') * 1000,
            renewDeadlineMs: positiveNumber(flags, 'renew-deadline') * 1000,
            retryPeriodMs: positiveNumber(flags, 'retry-period') * 1000,
          }
        : false,
    });
    setupStudyLabController(manager, {
      maxConcurrentReconciles: positiveNumber(flags, 'max-concurrent-reconciles'),
      highPriorityWorkers: count(flags, 'high-priority-workers'),
    });

    const stop = new AbortController();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        logger.info('shutting down', { signal });
        stop.abort();
      });
    }
    await manager.start(stop.signal);
    logger.info('stopped');
    return 0;
  } catch (err) {
    // Any failure (a failed start, a failed controller, a lost Lease) ends the process non-zero, and
    // Kubernetes restarts it. A lost Lease means another replica may act soon: the manager has
    // already aborted every reconcile (without waiting for them), dropped pending Events and reset
    // its connections, and its client refuses every request from the renew deadline on; the restart
    // campaigns afresh, as controller-runtime's does.
    const msg = err instanceof LeaderElectionLostError ? 'leader election lost' : 'operator failed';
    logger.error(msg, errorFields(err));
    return 1;
  }
}

// Run when executed directly (node dist/src/main.js, tsx src/main.ts), not when imported by tests.
// The entry point is the one place allowed to end the process: a failed start may leave sockets open.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exit(await main(process.argv.slice(2)));
}
