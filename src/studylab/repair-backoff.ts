/**
 * Backoff for drift repair, per child. When someone keeps changing a field we
 * own (two controllers fighting over a Deployment's image, a script in a loop),
 * restoring it at once every time would make the fight as fast as the other
 * side. The first repair is immediate; a repair of the same child again within
 * `resetAfterMs` waits 1 s, then 2 s, 4 s... up to `maxMs`. A child left alone
 * for `resetAfterMs` starts over.
 */
export const REPAIR_BACKOFF_DEFAULTS = { baseMs: 1000, maxMs: 300_000, resetAfterMs: 60_000 } as const;

interface History {
  /** Repairs in the current streak. */
  count: number;
  lastAt: number;
}

export class RepairBackoff {
  private readonly history = new Map<string, History>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly options: {
      baseMs: number;
      maxMs: number;
      resetAfterMs: number;
    } = REPAIR_BACKOFF_DEFAULTS,
  ) {}

  /** How long to wait before repairing `key` again; 0 means now. */
  waitMs(key: string): number {
    const h = this.current(key);
    if (!h) return 0;
    const delay = Math.min(this.options.baseMs * 2 ** (h.count - 1), this.options.maxMs);
    return Math.max(0, h.lastAt + delay - this.now());
  }

  /** Records a repair of `key` just made; returns the streak's length (1 for a first repair). */
  record(key: string): number {
    const count = (this.current(key)?.count ?? 0) + 1;
    this.history.set(key, { count, lastAt: this.now() });
    return count;
  }

  /** Forgets a key, e.g. when its lab is deleted. */
  forget(key: string): void {
    this.history.delete(key);
  }

  private current(key: string): History | undefined {
    const h = this.history.get(key);
    if (h && this.now() - h.lastAt > this.options.resetAfterMs) {
      // Bounded memory: a quiet child's history is dropped when next looked at.
      this.history.delete(key);
      return undefined;
    }
    return h;
  }
}
