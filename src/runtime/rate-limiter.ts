/**
 * Rate limiters decide how long a key waits before it is retried (client-go's workqueue rate limiters).
 *
 * The controller default is the maximum of two: a per-key exponential backoff, so one failing object
 * backs off on its own (5 ms, 10 ms, 20 ms ... capped at 1000 s), and an overall token bucket (10 qps,
 * burst 100), so a storm of failures cannot flood the API server.
 */
import { exponentialDelay } from './backoff.js';
import { systemClock, type Clock } from './clock.js';

export interface RateLimiter {
  /** How long `key` should wait now (ms); calling it counts as one more failure of `key`. */
  when(key: string): number;
  /** Forgets `key`'s failures: the next `when` starts from the base delay again. */
  forget(key: string): void;
  /** How many failures of `key` are being counted. */
  retries(key: string): number;
}

/** The defaults, in one place so docs and code cannot disagree. */
export const RATE_LIMITER_DEFAULTS = {
  baseDelayMs: 5,
  maxDelayMs: 1_000_000,
  qps: 10,
  burst: 100,
} as const;

/** Per-key backoff: baseMs * 2^failures, capped at maxMs (the un-jittered exponentialDelay). */
export function exponentialFailureRateLimiter(
  baseMs: number = RATE_LIMITER_DEFAULTS.baseDelayMs,
  maxMs: number = RATE_LIMITER_DEFAULTS.maxDelayMs,
): RateLimiter {
  const failures = new Map<string, number>();
  return {
    when(key) {
      const attempt = (failures.get(key) ?? 0) + 1;
      failures.set(key, attempt);
      return exponentialDelay(attempt, { initialMs: baseMs, maxMs });
    },
    forget: (key) => void failures.delete(key),
    retries: (key) => failures.get(key) ?? 0,
  };
}

/**
 * An overall token bucket shared by all keys (golang.org/x/time/rate's reservation semantics):
 * `burst` tokens, refilled at `qps` per second; a caller that finds the bucket empty reserves a
 * future token and is told how long to wait for it. Not per key, so `forget` and `retries` are no-ops.
 */
export function bucketRateLimiter(
  qps: number = RATE_LIMITER_DEFAULTS.qps,
  burst: number = RATE_LIMITER_DEFAULTS.burst,
  clock: Clock = systemClock,
): RateLimiter {
  let tokens = burst;
  let last = clock.now();
  return {
    when() {
      const now = clock.now();
      if (now > last) {
        tokens = Math.min(burst, tokens + ((now - last) / 1000) * qps);
        last = now;
      }
      tokens -= 1;
      return tokens >= 0 ? 0 : Math.ceil((-tokens / qps) * 1000);
    },
    forget: () => undefined,
    retries: () => 0,
  };
}

/** The longest wait any of `limiters` asks for; every limiter sees every call. */
export function maxOfRateLimiters(...limiters: RateLimiter[]): RateLimiter {
  return {
    when: (key) => Math.max(0, ...limiters.map((l) => l.when(key))),
    forget: (key) => limiters.forEach((l) => l.forget(key)),
    retries: (key) => Math.max(0, ...limiters.map((l) => l.retries(key))),
  };
}

/** max(exponential 5 ms .. 1000 s per key, token bucket 10 qps / burst 100 overall), as in controller-runtime. */
export function defaultControllerRateLimiter(clock: Clock = systemClock): RateLimiter {
  const d = RATE_LIMITER_DEFAULTS;
  return maxOfRateLimiters(
    exponentialFailureRateLimiter(d.baseDelayMs, d.maxDelayMs),
    bucketRateLimiter(d.qps, d.burst, clock),
  );
}
