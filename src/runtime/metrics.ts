/** Prometheus metrics with controller-runtime's names, so its dashboards and alerts work unchanged. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PRIORITIES } from './priority.js';

/** The results controller-runtime counts in controller_runtime_reconcile_total. */
export const RECONCILE_RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
/** How one reconcile ended: the label values of controller_runtime_reconcile_total{result}. */
export type ReconcileOutcome = (typeof RECONCILE_RESULTS)[number];

/** What became of an Event the recorder was given: event_recorder_events_total{result}. */
export const EVENT_RECORDER_RESULTS = ['created', 'patched', 'rate_limited', 'failed'] as const;
export type EventRecorderResult = (typeof EVENT_RECORDER_RESULTS)[number];

/** controller-runtime's reconcile_time buckets (seconds). */
const RECONCILE_TIME_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
/** client-go's workqueue buckets: ExponentialBuckets(10e-9, 10, 12), i.e. 10ns up to 1000s. */
const WORKQUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));
/** client-go's rest_client_request_duration_seconds buckets. */
const REST_CLIENT_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0];

export interface MetricsOptions {
  /** Also collect Node.js process metrics (CPU, memory, event loop lag) into this registry. @default false */
  readonly defaultMetrics?: boolean;
}

/**
 * Every metric the runtime records, registered in a Registry of its own.
 *
 * Never the global prom-client registry: registering a name twice there throws,
 * which breaks tests that build several managers in one process.
 * Object names never go into labels (unbounded cardinality); kinds and
 * controller names do, because there are few of them.
 */
export class Metrics {
  readonly registry: Registry;

  // controller-runtime: per controller.
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalReconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly maxConcurrentReconciles: Gauge<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;

  // client-go workqueue, as controller-runtime labels it: per queue (name) and controller.
  readonly workqueueDepth: Gauge<'name' | 'controller' | 'priority'>;
  readonly workqueueAdds: Counter<'name' | 'controller'>;
  readonly workqueueQueueDuration: Histogram<'name' | 'controller'>;
  readonly workqueueWorkDuration: Histogram<'name' | 'controller'>;
  readonly workqueueUnfinishedWork: Gauge<'name' | 'controller'>;
  readonly workqueueLongestRunning: Gauge<'name' | 'controller'>;
  readonly workqueueRetries: Counter<'name' | 'controller'>;

  // client-go REST client: every request to the API server, watches included.
  readonly restClientRequests: Counter<'code' | 'method' | 'host'>;
  readonly restClientRequestDuration: Histogram<'verb' | 'host'>;

  readonly leaderElectionMasterStatus: Gauge<'name'>;

  // Ours: what the informers do, per kind.
  readonly informerRelists: Counter<'kind'>;
  readonly informerWatchRestarts: Counter<'kind'>;
  readonly informerEvents: Counter<'kind' | 'type'>;
  readonly informerHandlerErrors: Counter<'kind'>;

  // Ours: what the event recorders (events.ts) did, per reporting controller.
  readonly eventRecorderEvents: Counter<'controller' | 'result'>;

  private readonly initialisedControllers = new Set<string>();

  constructor(options: MetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];

    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.terminalReconcileErrors = new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: RECONCILE_TIME_BUCKETS,
      registers,
    });
    this.maxConcurrentReconciles = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    });
    this.activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    });

    const queueLabels = ['name', 'controller'] as const;
    this.workqueueDepth = new Gauge({
      name: 'workqueue_depth',
      // controller-runtime's priority queue labels its depth the same way.
      help: 'Current depth of workqueue, by priority',
      labelNames: [...queueLabels, 'priority'],
      registers,
    });
    this.workqueueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: queueLabels,
      registers,
    });
    this.workqueueQueueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: queueLabels,
      buckets: WORKQUEUE_BUCKETS,
      registers,
    });
    this.workqueueWorkDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: queueLabels,
      buckets: WORKQUEUE_BUCKETS,
      registers,
    });
    this.workqueueUnfinishedWork = new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help:
        'How many seconds of work has been done that is in progress and has not been observed by ' +
        'work_duration. Large values indicate stuck threads.',
      labelNames: queueLabels,
      registers,
    });
    this.workqueueLongestRunning = new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running.',
      labelNames: queueLabels,
      registers,
    });
    this.workqueueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: queueLabels,
      registers,
    });

    this.restClientRequests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests, partitioned by status code, method, and host.',
      labelNames: ['code', 'method', 'host'],
      registers,
    });
    this.restClientRequestDuration = new Histogram({
      name: 'rest_client_request_duration_seconds',
      help: 'Request latency in seconds. Broken down by verb and host.',
      labelNames: ['verb', 'host'],
      buckets: REST_CLIENT_BUCKETS,
      registers,
    });

    this.leaderElectionMasterStatus = new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.',
      labelNames: ['name'],
      registers,
    });

    this.informerRelists = new Counter({
      name: 'informer_relists_total',
      help: 'Number of list attempts an informer made after its first one (after a watch 410 Gone, or retrying a failed list).',
      labelNames: ['kind'],
      registers,
    });
    this.informerWatchRestarts = new Counter({
      name: 'informer_watch_restarts_total',
      help: 'Number of times an informer reopened its watch (server timeout, error, or silence watchdog).',
      labelNames: ['kind'],
      registers,
    });
    this.informerEvents = new Counter({
      name: 'informer_events_total',
      help: 'Watch events an informer received, by type (ADDED, MODIFIED, DELETED, BOOKMARK).',
      labelNames: ['kind', 'type'],
      registers,
    });
    this.informerHandlerErrors = new Counter({
      name: 'informer_handler_errors_total',
      help: 'Errors thrown by informer event handlers (caught and logged; the informer keeps running).',
      labelNames: ['kind'],
      registers,
    });

    this.eventRecorderEvents = new Counter({
      name: 'event_recorder_events_total',
      help: 'Events handled by the event recorder, by reporting controller and result (created, patched, rate_limited, failed).',
      labelNames: ['controller', 'result'],
      registers,
    });

    if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  }

  /**
   * Creates every per-controller series at 0 (and records the worker count),
   * so a dashboard sees a controller before its first event and rate() has a
   * starting point. Idempotent per controller name.
   */
  initController(name: string, maxConcurrent: number): void {
    this.maxConcurrentReconciles.set({ controller: name }, maxConcurrent);
    if (this.initialisedControllers.has(name)) return;
    this.initialisedControllers.add(name);

    const controller = { controller: name };
    for (const result of RECONCILE_RESULTS) this.reconcileTotal.inc({ controller: name, result }, 0);
    this.reconcileErrors.inc(controller, 0);
    this.terminalReconcileErrors.inc(controller, 0);
    this.reconcileTime.zero(controller);
    // inc(0) creates a gauge series without overwriting a value a worker may already have set.
    this.activeWorkers.inc(controller, 0);

    // controller-runtime names a controller's queue after the controller.
    const queue = { name, controller: name };
    for (const priority of PRIORITIES) this.workqueueDepth.inc({ ...queue, priority }, 0);
    this.workqueueAdds.inc(queue, 0);
    this.workqueueRetries.inc(queue, 0);
    this.workqueueUnfinishedWork.inc(queue, 0);
    this.workqueueLongestRunning.inc(queue, 0);
    this.workqueueQueueDuration.zero(queue);
    this.workqueueWorkDuration.zero(queue);
  }

  /** Creates the informer series of `kind` at 0. Idempotent. */
  initInformer(kind: string): void {
    this.informerRelists.inc({ kind }, 0);
    this.informerWatchRestarts.inc({ kind }, 0);
    this.informerHandlerErrors.inc({ kind }, 0);
  }

  /** Creates the series of the event recorder `controller` at 0. Idempotent. */
  initEventRecorder(controller: string): void {
    for (const result of EVENT_RECORDER_RESULTS) this.eventRecorderEvents.inc({ controller, result }, 0);
  }
}
