/**
 * Backoff for drift repair, per child. When someone keeps changing a field we
 * own (two controllers fighting over a Deployment's image, a script in a loop),
 * restoring it at once every time would make the fight as fast as the other
 * side. The first repair is immediate; a repair of the same child again within
 * `resetAfterMs` waits 1 s, then 2 s, 4 s... up to `maxMs`. A child left alone
 * for `resetAfterMs` starts over.
 *
 * Entries are grouped by lab: `forget(lab)` drops all of a lab's at once, and
 * the reconciler calls it when the lab is gone or being deleted. With that, and
 * a quiet child's entry dropped when next looked at, the memory is bounded by
 * the labs that exist, times their children.
 */
export const REPAIR_BACKOFF_DEFAULTS = { baseMs: 1000, maxMs: 300_000, resetAfterMs: 60_000 } as const;

export interface RepairBackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
}

interface History {
  /** Repairs in the current streak. */
  count: number;
  lastAt: number;
}

export class RepairBackoff {
  /** lab key -> child -> history. */
  private readonly labs = new Map<string, Map<string, History>>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly options: RepairBackoffOptions = REPAIR_BACKOFF_DEFAULTS,
  ) {}

  /** How long to wait before repairing `child` of `lab` again; 0 means now. */
  waitMs(lab: string, child: string): number {
    const h = this.current(lab, child);
    if (!h) return 0;
    const delay = Math.min(this.options.baseMs * 2 ** (h.count - 1), this.options.maxMs);
    return Math.max(0, h.lastAt + delay - this.now());
  }

  /** Records a repair of `child` just made; returns the streak's length (1 for a first repair). */
  record(lab: string, child: string): number {
    const count = (this.current(lab, child)?.count ?? 0) + 1;
    let children = this.labs.get(lab);
    if (!children) this.labs.set(lab, (children = new Map<string, History>()));
    children.set(child, { count, lastAt: this.now() });
    return count;
  }

  /** Forgets one child, or every child of `lab`. */
  forget(lab: string, child?: string): void {
    if (child === undefined) {
      this.labs.delete(lab);
      return;
    }
    const children = this.labs.get(lab);
    children?.delete(child);
    if (children?.size === 0) this.labs.delete(lab);
  }

  /** How many labs have an entry (for tests of the bound). */
  get size(): number {
    return this.labs.size;
  }

  private current(lab: string, child: string): History | undefined {
    const h = this.labs.get(lab)?.get(child);
    if (h && this.now() - h.lastAt > this.options.resetAfterMs) {
      this.forget(lab, child);
      return undefined;
    }
    return h;
  }
}
