/**
 * The manager owns what controllers share (client, caches, metrics, logger, event recorders) and runs
 * everything in order:
 *
 *   start:    probe + secure servers -> informers -> caches synced (/readyz ok)
 *             -> [leader election: wait for the Lease] -> controllers
 *   shutdown: (signal aborts) controllers stop taking keys and drain in-flight reconciles
 *             -> events flushed -> Lease released -> informers stopped -> servers closed
 *
 * If leadership is lost, start() rejects at once with a LeaderElectionLostError, without draining:
 * every reconcile in flight is aborted (its signal aborts, and with it each request it has open),
 * pending Events are dropped, every connection is reset so nothing already written can land later,
 * and the client's fence refuses any request from the renew deadline on.
 * The process should exit non-zero and let its restart campaign afresh, as controller-runtime does.
 * A controller that fails while this process leads ends start() the same way (after releasing the
 * Lease), so a replica never goes on renewing a Lease with nothing running.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import {
  CertificateWatcher,
  defaultHosts,
  selfSignedCertificate,
  type CertificatePair,
} from './certificates.js';
import { Client } from './client.js';
import type { Controller } from './controller.js';
import { controllersDebugHandler, DEBUG_DEFAULTS, type LeaderStatus } from './debug.js';
import { apiServerReviewer, DelegatedAuth } from './delegated-auth.js';
import { EventRecorder } from './events.js';
import { checksHandler, type Check } from './health.js';
import { HttpEndpoint, type Handler } from './http-server.js';
import { ReconcileHistory } from './history.js';
import { InformerFactory, type Informer } from './informer.js';
import { liveHandlers } from './live.js';
import { LeaderElectionLostError, LeaderElector, type LeaderElectionOptions } from './leader-election.js';
import { createLogger, errorFields, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { metricsHandler } from './metrics-server.js';
import { profilingHandlers } from './profiling.js';
import { aborted } from './signals.js';
import type { KubeObject, ResourceType } from './resources.js';
import type { Store } from './store.js';
import { Tracer, type TraceFilter } from './trace.js';
import type { ListMode } from './watcher.js';

export interface ManagerOptions {
  readonly kubeConfig: KubeConfig;
  /** @default createLogger() */
  readonly logger?: Logger;
  /** @default new Metrics({ defaultMetrics: true }) (process metrics included, as controller-runtime does) */
  readonly metrics?: Metrics;
  /**
   * Where the secure server listens: /metrics, and the debug page and profiles when they are on.
   * '0' disables it, ':0' picks a free port. @default ':8443'
   */
  readonly metricsBindAddress?: string;
  /**
   * HTTPS, and every request authenticated (TokenReview) and authorized (SubjectAccessReview on its
   * path) by the API server. false: plain HTTP open to whoever reaches the port, for local work on
   * 127.0.0.1 only. @default true
   */
  readonly metricsSecure?: boolean;
  /**
   * A directory holding tls.crt and tls.key, reloaded when they change. @default none: a self-signed
   * certificate is made at start (clients then skip verification, or pin it)
   */
  readonly metricsCertDir?: string;
  /** Serve /debug/controllers on the secure server. @default true */
  readonly debugEndpoints?: boolean;
  /** Serve /debug/pprof/heap and /debug/pprof/profile on the secure server. @default false */
  readonly profiling?: boolean;
  /** Where /healthz and /readyz are served; '0' disables. @default ':8081' */
  readonly healthProbeBindAddress?: string;
  /** @default false (no leader election) */
  readonly leaderElection?: LeaderElectionOptions | false;
  /** Restrict the caches of namespaced kinds to this namespace. @default all namespaces */
  readonly namespace?: string;
  /** The User-Agent of API requests. */
  readonly userAgent?: string;
  /**
   * Narrow what is cached per kind, like controller-runtime's cache ByObject:
   * an operator that caches only the children it labels does not hold every
   * Deployment of the cluster in memory.
   */
  readonly cacheByType?: readonly CacheByType[];
  /** Trace the loop for these keys (see trace.ts). @default off */
  readonly trace?: TraceFilter;
  /** Every informer's watchdog: reopen a watch silent for this long. @default WATCHER_DEFAULTS.silenceTimeoutMs */
  readonly watchSilenceTimeoutMs?: number;
  /** How every informer lists: pages, or a streaming list (KEP-3157). @default WATCHER_DEFAULTS.listMode */
  readonly listMode?: ListMode;
}

/** Selectors for the shared informer of one kind. */
export interface CacheByType {
  readonly type: ResourceType;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /**
   * Applied to every object of this kind before it enters the cache (see InformerOptions.transform):
   * keep only what reconcilers read, so a kind with many large objects (pods) costs little memory.
   * @default dropManagedFields
   */
  readonly transform?: (obj: KubeObject) => KubeObject;
  /** See WatcherOptions.serverSendsBookmarks: false for a kind without a watch cache. @default true */
  readonly serverSendsBookmarks?: boolean;
}

export const MANAGER_DEFAULTS = {
  metricsBindAddress: ':8443',
  metricsSecure: true,
  debugEndpoints: true,
  profiling: false,
  healthProbeBindAddress: ':8081',
  /** A TokenReview or SubjectAccessReview that takes longer is a 503: a scraper should not hang. */
  accessReviewTimeoutMs: 10_000,
} as const;

export class Manager {
  readonly client: Client;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly informers: InformerFactory;
  /** Shared by the informers and controllers: a no-op unless `trace` was given. */
  readonly tracer: Tracer;
  /** Every controller's recent reconciles, per key, for the live page (bounded, see history.ts). */
  readonly history = new ReconcileHistory();
  /** Where the probe server listens, once started (undefined when disabled). */
  healthProbeAddress: AddressInfo | undefined;
  /** Where the secure (metrics) server listens, once started (undefined when disabled). */
  metricsAddress: AddressInfo | undefined;

  private readonly options: ManagerOptions;
  private readonly controllers: Controller[] = [];
  private readonly recorders = new Map<string, EventRecorder>();
  private readonly healthChecks = new Map<string, Check>();
  private readonly readyChecks = new Map<string, Check>();
  private readonly probes: HttpEndpoint;
  private readonly metricsEndpoint: HttpEndpoint;
  /** Undefined when the secure server runs in plain, open HTTP (metricsSecure: false). */
  private readonly auth: DelegatedAuth | undefined;
  private elector: LeaderElector | undefined;
  /** Set when the Lease was lost: nothing more is written, not even pending Events. */
  private lost = false;
  private certificates: CertificateWatcher | undefined;
  /** Ends the live page's open streams, which would otherwise keep the server from closing. */
  private readonly streamsClosing = new AbortController();
  private synced = false;
  private started = false;

  constructor(options: ManagerOptions) {
    this.options = { ...options };
    this.metrics = options.metrics ?? new Metrics({ defaultMetrics: true });
    this.logger = options.logger ?? createLogger();
    this.client = new Client(options.kubeConfig, {
      metrics: this.metrics,
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      fence: () => {
        if (this.elector && !this.elector.mayAct()) {
          throw new LeaderElectionLostError(
            `no request after the renew deadline of Lease ${this.elector.lease}`,
          );
        }
      },
    });
    this.tracer = options.trace ? new Tracer(this.logger, options.trace) : Tracer.off;
    this.informers = new InformerFactory(this.client, {
      logger: this.logger,
      metrics: this.metrics,
      tracer: this.tracer,
    });

    this.probes = new HttpEndpoint('health probes', this.logger);
    this.healthChecks.set('ping', () => undefined);
    this.readyChecks.set('informer-sync', () => {
      if (!this.synced) throw new Error('caches not synced yet');
    });
    this.probes.handle('/healthz', checksHandler('healthz', this.healthChecks));
    this.probes.handle('/readyz', checksHandler('readyz', this.readyChecks));

    this.metricsEndpoint = new HttpEndpoint('metrics', this.logger);
    if (options.metricsSecure ?? MANAGER_DEFAULTS.metricsSecure) {
      // A client of its own: a slow review gives up sooner than a reconcile's request would, and it has
      // no fence, since a standby (or a replica that lost the Lease) still answers scrapes.
      const reviews = new Client(options.kubeConfig, {
        metrics: this.metrics,
        timeoutMs: MANAGER_DEFAULTS.accessReviewTimeoutMs,
        ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      });
      this.auth = new DelegatedAuth(apiServerReviewer(reviews), { logger: this.logger });
    }
    this.addSecureHandler('/metrics', metricsHandler(this.metrics.registry));
    // Lab keys and reconcile errors: not for everyone, so on the secure server, behind its own URL.
    if (options.debugEndpoints ?? MANAGER_DEFAULTS.debugEndpoints) {
      const source = {
        ready: () => this.synced,
        leaderStatus: () => this.leaderStatus(),
        informerStats: () => this.informers.informers().map((i) => i.stats()),
        controllerStats: () => this.controllers.map((c) => c.stats()),
        history: this.history,
      };
      this.addDebugHandler(DEBUG_DEFAULTS.path, controllersDebugHandler(source));
      for (const [path, handler] of liveHandlers(source, this.streamsClosing.signal))
        this.addDebugHandler(path, handler);
    }
    if (options.profiling ?? MANAGER_DEFAULTS.profiling) {
      for (const [path, handler] of profilingHandlers()) this.addSecureHandler(path, handler);
    }
  }

  /** The shared informer for `type` (restricted to the manager's namespace and the kind's cacheByType selectors, if any). */
  getInformer<T extends KubeObject = KubeObject>(type: ResourceType): Informer<T> {
    const namespace = type.namespaced ? this.options.namespace : undefined;
    const narrowed = this.options.cacheByType?.find(
      (c) => c.type.group === type.group && c.type.kind === type.kind,
    );
    return this.informers.informerFor<T>(type, {
      ...(namespace ? { namespace } : {}),
      ...(narrowed?.labelSelector ? { labelSelector: narrowed.labelSelector } : {}),
      ...(narrowed?.fieldSelector ? { fieldSelector: narrowed.fieldSelector } : {}),
      ...(narrowed?.transform ? { transform: narrowed.transform as unknown as (obj: T) => T } : {}),
      ...(narrowed?.serverSendsBookmarks === false ? { serverSendsBookmarks: false } : {}),
      ...(this.options.watchSilenceTimeoutMs ? { silenceTimeoutMs: this.options.watchSilenceTimeoutMs } : {}),
      ...(this.options.listMode ? { listMode: this.options.listMode } : {}),
    });
  }

  /** The cache behind getInformer(type): what reconcilers read instead of the API server. */
  getStore<T extends KubeObject = KubeObject>(type: ResourceType): Store<T> {
    return this.getInformer<T>(type).store;
  }

  /** One recorder per reporting controller, flushed on shutdown. */
  eventRecorder(reportingController: string): EventRecorder {
    let recorder = this.recorders.get(reportingController);
    if (!recorder) {
      recorder = new EventRecorder(
        this.client,
        { reportingController },
        { logger: this.logger, metrics: this.metrics },
      );
      this.recorders.set(reportingController, recorder);
    }
    return recorder;
  }

  /** Registers a controller; the manager starts it (once leading) and stops it. */
  add(controller: Controller): void {
    if (this.started) throw new Error(`cannot add controller ${controller.name}: the manager has started`);
    this.controllers.push(controller);
  }

  addHealthCheck(name: string, check: Check): void {
    this.healthChecks.set(name, check);
  }

  addReadyCheck(name: string, check: Check): void {
    this.readyChecks.set(name, check);
  }

  /**
   * Serves `handler` on the secure server under `path` (e.g. '/debug/queue', or '/debug/' for a tree),
   * behind its authentication and authorization: a caller needs `get` on the path as a non-resource
   * URL. Nothing is added when debug endpoints are off.
   */
  addDebugHandler(path: string, handler: Handler): void {
    if (!(this.options.debugEndpoints ?? MANAGER_DEFAULTS.debugEndpoints)) return;
    this.addSecureHandler(path, handler);
  }

  private addSecureHandler(path: string, handler: Handler): void {
    this.metricsEndpoint.handle(path, this.auth ? this.auth.wrap(handler) : handler);
  }

  /** True once every informer's cache has synced. */
  get ready(): boolean {
    return this.synced;
  }

  /** True while this manager's controllers run as leader (always true without leader election, once started). */
  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : this.synced;
  }

  /** For the debug page: whether this process leads, and on which Lease. */
  leaderStatus(): LeaderStatus {
    const elector = this.elector;
    const le = this.options.leaderElection;
    if (!le) return { enabled: false, isLeader: this.isLeader() };
    return {
      enabled: true,
      isLeader: this.isLeader(),
      lease: `${le.namespace}/${le.name}`,
      identity: elector?.identity ?? le.identity ?? '',
      leader: elector?.leader ?? '',
    };
  }

  get registeredControllers(): readonly Controller[] {
    return [...this.controllers];
  }

  /**
   * Runs until `signal` aborts, then shuts down gracefully and resolves. Rejects with a
   * LeaderElectionLostError if leadership is lost, or with the cause if starting fails.
   * SIGTERM/SIGINT are the caller's to map onto `signal`.
   */
  async start(signal: AbortSignal): Promise<void> {
    if (this.started) throw new Error('the manager was already started');
    this.started = true;
    const informersStop = new AbortController();
    try {
      this.healthProbeAddress = await this.probes.listen(
        this.options.healthProbeBindAddress ?? MANAGER_DEFAULTS.healthProbeBindAddress,
      );
      this.metricsAddress = await this.metricsEndpoint.listen(
        this.options.metricsBindAddress ?? MANAGER_DEFAULTS.metricsBindAddress,
        this.auth ? await this.servingCertificate() : undefined,
      );

      this.informers.start(informersStop.signal);
      if (!(await this.waitForCaches(signal))) return;
      this.synced = true;
      this.logger.info('Caches synced');

      if (this.options.leaderElection) {
        await this.runAsLeader(this.options.leaderElection, signal);
      } else {
        await this.runControllers(signal);
      }
    } finally {
      if (this.lost) this.discardEvents();
      else await this.flushEvents();
      informersStop.abort();
      this.certificates?.stop();
      this.streamsClosing.abort();
      await Promise.all([this.probes.close(), this.metricsEndpoint.close()]);
      this.synced = false;
      this.logger.info('Manager stopped');
    }
  }

  /**
   * The files of metricsCertDir, watched so a rotated certificate is served without a restart; or,
   * without a directory, a self-signed certificate kept in memory.
   */
  private async servingCertificate(): Promise<CertificatePair> {
    const dir = this.options.metricsCertDir;
    if (!dir) {
      this.logger.info('Serving a self-signed certificate (no certificate directory given)');
      return selfSignedCertificate(defaultHosts(hostname()));
    }
    const watcher = new CertificateWatcher(dir, this.logger);
    const pair = await watcher.start();
    this.certificates = watcher;
    watcher.onChange((p) => this.metricsEndpoint.setCertificate(p));
    return pair;
  }

  /** Resolves true once synced, false if `signal` aborted first. */
  private async waitForCaches(signal: AbortSignal): Promise<boolean> {
    this.logger.info('Waiting for caches to sync', { informers: this.informers.informers().length });
    try {
      await this.informers.waitForSync(signal);
    } catch (err) {
      if (signal.aborted) return false;
      throw err;
    }
    return !signal.aborted;
  }

  /**
   * Campaigns for the Lease and runs the controllers while leading. On a graceful stop the Lease is
   * released only after the controllers have drained, so the next leader never overlaps with our
   * in-flight reconciles. On a lost Lease nothing is awaited: see the class comment.
   */
  private async runAsLeader(options: LeaderElectionOptions, signal: AbortSignal): Promise<void> {
    const elector = new LeaderElector(this.client, options, { logger: this.logger, metrics: this.metrics });
    this.elector = elector;
    const election = new AbortController();
    let controllersDone: Promise<void> = Promise.resolve();
    let failure: { error: unknown } | undefined;
    const campaign = elector.run(election.signal, {
      onStartedLeading: (leaderSignal) => {
        controllersDone = this.runControllers(AbortSignal.any([signal, leaderSignal]));
        controllersDone.catch((error: unknown) => {
          // Stop campaigning (which releases the Lease) rather than lead with nothing running.
          if (!signal.aborted && !leaderSignal.aborted) {
            failure = { error };
            election.abort();
          }
        });
      },
      onStoppedLeading: () => this.logger.info('Stopped leading'),
      onNewLeader: (id) => this.logger.info('Leader is', { leader: id, self: id === elector.identity }),
    });

    await Promise.race([campaign, aborted(signal)]);
    if (failure) throw failure.error;
    if (signal.aborted) {
      await controllersDone;
      // The last reconciles' Events are writes too: finish them while the Lease is still ours, or they would
      // land while the next leader already acts.
      await this.flushEvents();
      election.abort();
      await campaign;
      return;
    }
    // The campaign ended although nobody asked it to: the Lease could not be renewed. The controllers
    // were aborted with the leader signal; their in-flight calls end with it, unawaited.
    this.lost = true;
    const reset = this.client.resetConnections();
    this.logger.error('Lost the Lease: every reconcile aborted, connections reset', { connections: reset });
    throw new LeaderElectionLostError(`leader election lost: Lease ${options.namespace}/${options.name}`);
  }

  private async flushEvents(): Promise<void> {
    await Promise.all([...this.recorders.values()].map((r) => r.flush()));
  }

  private discardEvents(): void {
    for (const r of this.recorders.values()) r.discard();
  }

  /**
   * Starts every controller and resolves once all have stopped (after `signal` aborts). The first one
   * that fails stops the others, and its error is thrown once they have.
   */
  private async runControllers(signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const results = await Promise.allSettled(
        this.controllers.map((c) =>
          c.start(stop.signal).catch((err: unknown) => {
            this.logger.error('Controller failed', { controller: c.name, ...errorFields(err) });
            stop.abort(err);
            throw err;
          }),
        ),
      );
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) throw failure.reason;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
