/**
 * The controller runtime's public API: what a controller written on this runtime needs, and nothing
 * else. The manager's own parts (its servers, debug and live pages, delegated auth, certificates,
 * profiling, the work queue) and test helpers (FakeClock) are imported from their modules by the few
 * that need them. Read the modules in the order an event travels:
 *
 *   resources -> client -> watcher -> reflector (+ store) -> informer -> sources (handlers +
 *   predicates) -> workqueue (+ rate-limiter) -> controller -> reconcile
 *   and around them: builder, manager, leader-election, events, metrics, logger, clock, keys, backoff
 */

// Talking to the API server, and caching what it says.
export {
  ConfigMaps,
  Deployments,
  EventsV1,
  Leases,
  Namespaces,
  NetworkPolicies,
  PersistentVolumeClaims,
  Pods,
  Services,
  apiVersionOf,
  type KubeObject,
  type ResourceType,
} from './resources.js';
export {
  ApiError,
  Client,
  RequestError,
  isAlreadyExists,
  isConflict,
  isGone,
  isInvalid,
  isNotFound,
  type ApplyOptions,
  type CallOptions,
  type ClientOptions,
  type DeleteOptions,
  type ListOptions,
  type ListResult,
  type ObjectClient,
  type PatchOptions,
  type PatchType,
  type WatchEvent,
  type WatchEventType,
  type WatchOptions,
} from './client.js';
export {
  Watcher,
  WATCHER_DEFAULTS,
  type ListMode,
  type WatcherEvent,
  type WatcherOptions,
  type WatcherState,
} from './watcher.js';
export { reflector, type StoreChange } from './reflector.js';
export { Store, type IndexFunc, type StoreReader } from './store.js';
export { Informer, dropManagedFields, type InformerEventHandler, type InformerOptions } from './informer.js';
export { RecentWrites, compareResourceVersions } from './recent-writes.js';
export { objectKey, requestFromKey, requestKey } from './keys.js';

// From an event to a reconcile.
export {
  TerminalError,
  isTerminalError,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
} from './reconcile.js';
export {
  and,
  annotationsChanged,
  generationChanged,
  labelsChanged,
  matching,
  not,
  or,
  resourceVersionChanged,
  type Predicate,
} from './predicates.js';
export { enqueueControllerOwner, enqueueObject, type HandlerEvent, type MapFunc } from './handlers.js';
export { informerSource, type Source } from './sources.js';
export {
  bucketRateLimiter,
  defaultControllerRateLimiter,
  exponentialFailureRateLimiter,
  maxOfRateLimiters,
  type RateLimiter,
} from './rate-limiter.js';
export {
  Controller,
  type ControllerDeps,
  type ControllerOptions,
  type ControllerStats,
  type ReconcileRecord,
} from './controller.js';
export { ControllerBuilder } from './builder.js';

// Around the controllers: wiring, leadership, what the operator says about itself.
export { Manager, type CacheByType, type ManagerOptions } from './manager.js';
export type { Check } from './health.js';
export type { Handler } from './http-server.js';
export { LeaderElectionLostError, type LeaderElectionOptions } from './leader-election.js';
export { EventRecorder, type EventRecorderOptions, type EventSink, type EventType } from './events.js';
export { Metrics, RECONCILE_RESULTS, type MetricsOptions, type ReconcileOutcome } from './metrics.js';
export { createLogger, errorFields, type Logger, type LoggerOptions } from './logger.js';
export { systemClock, type Clock, type Timer } from './clock.js';
export { parseTraceFilter, type ReconcileTrace, type TraceFilter } from './trace.js';
