/**
 * Read-your-writes over an informer's store.
 *
 * A reconciler that writes an object reads it back from the cache, and the
 * cache learns of the write only when the watch event arrives, a few
 * milliseconds to seconds later. A reconcile that starts in between (another
 * event for the same key was waiting) sees the object as it was before the
 * write, decides the write is still needed, and sends it again: the same
 * status twice.
 *
 * RecentWrites keeps what the API server returned for our own writes until
 * the store has caught up with it, and answers reads with whichever of the
 * two is newer. This is client-go's MutationCache and the Java Operator SDK's
 * "update and cache" idea, and it compares resourceVersions, which KEP-5504
 * made legal (stable in Kubernetes 1.35: canonical positive integers, equal
 * length compared digit by digit, longer is newer). On a server whose
 * resourceVersions are not such integers nothing is overlaid and reads are
 * the store's, exactly as without it.
 *
 * It answers for objects the store has: one missing from the store is
 * reported missing even if we wrote it (it was deleted, or never seen).
 */
import { dropManagedFields } from './informer.js';
import { objectKey } from './keys.js';
import type { KubeObject } from './resources.js';
import type { StoreReader } from './store.js';

/** How often `record` also drops entries the store has caught up with, so keys never read again do not pile up. */
const SWEEP_EVERY = 256;

/**
 * -1, 0 or 1 as `a` is older than, the same as, or newer than `b`, for
 * resourceVersions of the same resource; undefined when either is not a
 * canonical positive integer (KEP-5504's CompareResourceVersion).
 */
export function compareResourceVersions(
  a: string | undefined,
  b: string | undefined,
): -1 | 0 | 1 | undefined {
  if (!isComparable(a) || !isComparable(b)) return undefined;
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function isComparable(rv: string | undefined): rv is string {
  return rv !== undefined && /^[1-9][0-9]*$/.test(rv);
}

export class RecentWrites<T extends KubeObject = KubeObject> {
  private readonly written = new Map<string, T>();
  private recordsSinceSweep = 0;

  constructor(private readonly store: Pick<StoreReader<T>, 'get'>) {}

  /** The object the API server returned for one of our writes (an apply, a patch, a status update). */
  record(obj: T): void {
    if (!isComparable(obj.metadata?.resourceVersion)) return;
    this.written.set(objectKey(obj), dropManagedFields(obj));
    if (++this.recordsSinceSweep >= SWEEP_EVERY) this.sweep();
  }

  /** The store's object, or the one we wrote while the store has not seen that write yet. */
  get(key: string): T | undefined {
    const cached = this.store.get(key);
    const ours = this.written.get(key);
    if (!ours) return cached;
    if (isAhead(ours, cached)) return ours;
    this.written.delete(key);
    return cached;
  }

  /** Entries kept, ahead of the store or not looked at since it caught up. */
  get size(): number {
    return this.written.size;
  }

  private sweep(): void {
    this.recordsSinceSweep = 0;
    for (const [key, ours] of this.written) if (!isAhead(ours, this.store.get(key))) this.written.delete(key);
  }
}

/**
 * Our write is newer than what the store holds. Not when the store has it or something newer, nor
 * when the store no longer has the object, nor when it holds another object of the same name.
 */
function isAhead(ours: KubeObject, cached: KubeObject | undefined): boolean {
  if (!cached || cached.metadata?.uid !== ours.metadata?.uid) return false;
  return compareResourceVersions(cached.metadata?.resourceVersion, ours.metadata?.resourceVersion) === -1;
}
