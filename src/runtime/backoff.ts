/**
 * Backoff and jitter, the one place the runtime and the reconciler compute how long to wait before
 * trying again. Every retry in the operator (an informer reconnecting, a key failing in the queue,
 * a drift repaired again, a Lease asked for again) goes through these three functions, so they all
 * grow and spread the same way.
 */

/** The un-jittered delay before retry number `attempt` (1-based): initialMs doubling up to maxMs. */
export function exponentialDelay(attempt: number, backoff: { initialMs: number; maxMs: number }): number {
  const exponent = Math.max(0, attempt - 1);
  // 2^exponent overflows to Infinity long after it passed maxMs; the cap on the exponent keeps it finite.
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(exponent, 52));
}

/**
 * The delay before retry number `attempt` (1-based): exponentialDelay, then jittered into [d/2, d)
 * so clients that failed together do not come back together.
 */
export function backoffDelay(
  attempt: number,
  backoff: { initialMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = exponentialDelay(attempt, backoff);
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}

/** `ms` stretched by up to `maxFactor` of itself, into [ms, ms (1 + maxFactor)) (client-go's wait.Jitter). */
export function jitter(ms: number, maxFactor: number, random: () => number = Math.random): number {
  return ms * (1 + random() * maxFactor);
}
