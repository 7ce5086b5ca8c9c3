/**
 * The controller runtime's public API. Read the modules in the order an event travels:
 *
 *   resources -> client -> informer (+ store) -> handlers + predicates -> workqueue (+ rate-limiter)
 *   -> controller -> reconcile            and around them: manager, leader-election, events,
 *                                         health, metrics, logger, clock; and the secure
 *                                         server's delegated-auth, certificates, profiling
 */

// Data path: talking to the API server and caching what it says.
export * from './resources.js';
export * from './client.js';
export * from './store.js';
export * from './informer.js';
export * from './recent-writes.js';
export * from './metrics.js';
export * from './logger.js';

// Control path: from an event to a reconcile, and the machinery around it.
export * from './clock.js';
export * from './reconcile.js';
export * from './predicates.js';
export * from './handlers.js';
export * from './rate-limiter.js';
export { WorkQueue, type AddOutcome, type WorkQueueOptions, type WorkQueueSnapshot } from './workqueue.js';
export * from './sources.js';
export * from './controller.js';
export * from './builder.js';
export * from './leader-election.js';
export * from './events.js';
export * from './health.js';
export * from './manager.js';
export * from './trace.js';
export * from './debug.js';
export * from './history.js';
export * from './live.js';
export * from './delegated-auth.js';
export * from './certificates.js';
export * from './profiling.js';
