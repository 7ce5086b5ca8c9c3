/**
 * Time as the runtime sees it: an injectable clock, so tests can prove backoff
 * growth, lease expiry and event aggregation windows without sleeping.
 */

/** A cancellable timer handle; opaque to callers. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch (like Date.now()). */
  now(): number;
  /**
   * Calls `fn` once after `ms`. A pending timer keeps the process alive (it is work still to do, like
   * a retry or a lease renewal), unless `background` says it is mere bookkeeping.
   */
  setTimer(fn: () => void, ms: number, options?: { background?: boolean }): Timer;
}

/** The wall clock and node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms, options) {
    const handle = setTimeout(fn, Math.max(0, ms));
    if (options?.background) handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** Resolves after `ms` on `clock`, or as soon as `signal` aborts (never rejects). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to (like k8s.io/utils/clock/testing).
 * `advance()` fires due timers in time order, each seeing `now()` equal to its own deadline.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const timer: PendingTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return { cancel: () => (this.timers = this.timers.filter((t) => t !== timer)) };
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.earliestDueBy(target);
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.at);
      next.fn();
    }
    this.current = target;
  }

  /** Timers not yet fired (for assertions such as "one timer, not one per item"). */
  get pendingTimers(): number {
    return this.timers.length;
  }

  private earliestDueBy(target: number): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.timers) {
      if (t.at > target) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/**
 * A Kubernetes MicroTime: RFC 3339 with exactly six fractional digits ('2026-01-01T00:00:00.123000Z').
 * Lease acquireTime/renewTime and events.k8s.io eventTime reject the millisecond form Date produces.
 */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
