/**
 * A token bucket per key that drops what exceeds it (client-go's event spam filter), unlike the work
 * queue's rate limiters (rate-limiter.ts), which never drop a key but say how long it waits.
 */
import { LruMap } from './lru.js';

/** A token bucket per key (burst, one token per refillMs), remembered for the `capacity` most recent keys. */
export class PerKeyTokenBucket {
  private readonly buckets: LruMap<string, { tokens: number; at: number }>;

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
    capacity: number,
  ) {
    this.buckets = new LruMap(capacity);
  }

  /** Takes a token for `key` if one is left. */
  take(key: string, now: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    const tokens = Math.min(this.burst, b.tokens + Math.max(0, now - b.at) / this.refillMs);
    const allowed = tokens >= 1;
    this.buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now });
    return allowed;
  }
}
