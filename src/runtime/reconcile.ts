/**
 * The reconcile contract: what a Reconciler is asked, what it answers, and what the runtime does with the answer.
 *
 * Reconciliation is level-based. A Request names an object, never what happened to it: the Reconciler
 * reads the current state (from the cache), compares it with the desired state and acts to close the gap.
 * Several events for one object while it waits in the queue collapse into one Request; an event missed
 * during a restart is no loss because the next reconcile looks at everything again. A Reconciler must
 * therefore be idempotent: called twice with nothing changed, the second call changes nothing.
 *
 * The runtime guarantees that one Request is never reconciled by two workers at once, and that a Request
 * added while it is being reconciled is reconciled again afterwards.
 */
import type { Logger } from './logger.js';
import type { ReconcileTrace } from './trace.js';

/** Which object to reconcile: a key, never an event or an object snapshot. */
export interface Request {
  /** Absent for cluster-scoped objects. */
  readonly namespace?: string;
  readonly name: string;
}

/**
 * What to do next. The empty result `{}` means "done until something changes".
 *
 * - `requeueAfterMs`: reconcile this Request again after the delay (e.g. to poll something that emits no
 *   events, or a certificate that expires). Resets the failure backoff; counted as `requeue_after`.
 * - `requeue`: reconcile again with the rate limiter's backoff, without it being an error (e.g. waiting
 *   for a dependency the controller does not watch). Counted as `requeue`. Prefer `requeueAfterMs`.
 *
 * Returning a Result and throwing are exclusive: a thrown error ignores any Result.
 */
export interface Result {
  readonly requeueAfterMs?: number;
  readonly requeue?: boolean;
}

/**
 * An error that retrying will not fix (an invalid spec, a missing permission a human must grant).
 * Throwing it (or an error whose `cause` chain contains one) stops the retries for this Request until
 * the object changes again. It is logged and counted in `controller_runtime_terminal_reconcile_errors_total`.
 * Any other thrown value is a transient error: logged, counted, and retried with exponential backoff.
 */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

/** True when `err` or anything in its `cause` chain is a TerminalError. */
export function isTerminalError(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = e.cause) {
    if (e instanceof TerminalError) return true;
    seen.add(e);
  }
  return false;
}

/** What the runtime hands to each reconcile call besides the Request. */
export interface ReconcileContext {
  /** A short random id for this one call; it is in every log line of the call. */
  readonly reconcileID: string;
  /** A child logger already tagged with controller, namespace, name and reconcileID. */
  readonly log: Logger;
  /**
   * Aborts when the controller stops (shutdown, lost leadership) or the reconcile timeout passes.
   * On shutdown and on a timeout the runtime still waits for the call to return (the key stays
   * taken until then), so honouring the signal is what makes them quick. On a lost Lease nothing
   * waits: the manager rejects at once and the process exits, and from the renew deadline on the
   * manager's client refuses every request, so a call that ignores the signal is cut off wherever
   * it is (see manager.ts).
   */
  readonly signal: AbortSignal;
  /**
   * This call's trace (trace.ts): `trace.enabled` is false unless someone asked to see this key.
   * Check it before building fields. Absent when a test builds the context by hand.
   */
  readonly trace?: ReconcileTrace;
}

/**
 * The one method a controller implements. It must not log its own outcome: the runtime logs and counts
 * success, requeues and errors, with the reconcileID.
 */
export interface Reconciler {
  reconcile(req: Request, ctx: ReconcileContext): Promise<Result>;
}
