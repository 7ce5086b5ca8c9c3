/**
 * Backoff for drift repair, per child. When someone keeps changing a field we
 * own (two controllers fighting over a Deployment's image, a script in a loop),
 * restoring it at once every time would make the fight as fast as the other
 * side. The first repair is immediate; a repair of the same child again within
 * `resetAfterMs` waits 1 s, then 2 s, 4 s... up to `maxMs`. A child left alone
 * for `resetAfterMs` starts over.
 *
 * Bounded memory: an entry older than `resetAfterMs` means nothing (the
 * streak is over), so every `record` drops the labs whose last repair is that
 * old, oldest first. What is held is at most the labs repaired in the
 * `resetAfterMs` before the latest repair, times their children, whether or not
 * anyone calls `forget` (a lab deleted while another replica led, a delete
 * event this one never saw).
 * `forget(lab)` drops a lab's entries at once; the reconciler calls it when the
 * lab is gone or being deleted.
 */
import { exponentialDelay } from '../runtime/backoff.js';

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

interface LabHistory {
  readonly children: Map<string, History>;
  /** The latest lastAt of its children: once this is stale, all of them are. */
  lastAt: number;
}

export class RepairBackoff {
  /** lab key -> its children's histories, in the order of each lab's last repair (oldest first). */
  private readonly labs = new Map<string, LabHistory>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly options: RepairBackoffOptions = REPAIR_BACKOFF_DEFAULTS,
  ) {}

  /** How long to wait before repairing `child` of `lab` again; 0 means now. */
  waitMs(lab: string, child: string): number {
    const h = this.current(lab, child);
    if (!h) return 0;
    const delay = exponentialDelay(h.count, { initialMs: this.options.baseMs, maxMs: this.options.maxMs });
    return Math.max(0, h.lastAt + delay - this.now());
  }

  /** Records a repair of `child` just made; returns the streak's length (1 for a first repair). */
  record(lab: string, child: string): number {
    const count = (this.current(lab, child)?.count ?? 0) + 1;
    const now = this.now();
    const entry = this.labs.get(lab) ?? { children: new Map<string, History>(), lastAt: now };
    entry.children.set(child, { count, lastAt: now });
    // A clock stepped back must not make the lab look older than one of its children.
    entry.lastAt = Math.max(entry.lastAt, now);
    // Re-inserted, so the map stays ordered by last repair and the stale labs are at its front.
    this.labs.delete(lab);
    this.labs.set(lab, entry);
    this.dropStale(now);
    return count;
  }

  /** Forgets one child, or every child of `lab`. */
  forget(lab: string, child?: string): void {
    if (child === undefined) {
      this.labs.delete(lab);
      return;
    }
    const entry = this.labs.get(lab);
    entry?.children.delete(child);
    if (entry?.children.size === 0) this.labs.delete(lab);
  }

  /** How many labs have an entry (for tests of the bound). */
  get size(): number {
    return this.labs.size;
  }

  private current(lab: string, child: string): History | undefined {
    const h = this.labs.get(lab)?.children.get(child);
    if (h && this.isStale(h.lastAt, this.now())) {
      this.forget(lab, child);
      return undefined;
    }
    return h;
  }

  /** Drops the labs at the front whose last repair is stale; stops at the first that is not. */
  private dropStale(now: number): void {
    for (const [lab, entry] of this.labs) {
      if (!this.isStale(entry.lastAt, now)) return;
      this.labs.delete(lab);
    }
  }

  private isStale(lastAt: number, now: number): boolean {
    return now - lastAt > this.options.resetAfterMs;
  }
}
