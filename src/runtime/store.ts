/** The cache reconcilers read instead of the API server: objects by key, plus named indexes. */
import { objectKey } from './keys.js';
import type { KubeObject } from './resources.js';
import { currentTrace } from './trace.js';

/** The values an object is filed under in one index ([] = not in this index). */
export type IndexFunc<T> = (obj: T) => string[];

/** What changed when the store's contents were replaced by a fresh list. */
export interface StoreDiff<T> {
  added: T[];
  /** Objects whose resourceVersion changed; unchanged objects are not listed. */
  updated: { oldObj: T; newObj: T }[];
  deleted: T[];
}

/** The read side of a Store: what reconcilers and handlers get. */
export type StoreReader<T extends KubeObject = KubeObject> = Pick<
  Store<T>,
  'get' | 'getByName' | 'list' | 'byIndex' | 'indexValues' | 'keys' | 'size'
>;

/**
 * A map of objects keyed 'namespace/name', with indexes kept consistent on
 * every change: an index maps a value to the set of keys filed under it.
 *
 * Objects are shared with every reader and handler: treat them as read-only
 * and copy (structuredClone) before changing anything.
 *
 * Only the reflector that feeds the store (see reflector.ts) calls upsert, remove and replace.
 */
export class Store<T extends KubeObject = KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  /** index name -> index value -> keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  /** The kind cached here, named in trace lines. */
  private readonly kind: string;

  constructor(indexers: Record<string, IndexFunc<T>> = {}, options: { readonly kind?: string } = {}) {
    this.kind = options.kind ?? '';
    for (const [name, fn] of Object.entries(indexers)) this.addIndexer(name, fn);
  }

  get(key: string): T | undefined {
    const obj = this.items.get(key);
    const trace = currentTrace();
    if (trace) {
      trace.step('cache', {
        kind: this.kind,
        object: key,
        found: obj !== undefined,
        ...(obj?.metadata?.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
      });
    }
    return obj;
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  get size(): number {
    return this.items.size;
  }

  /** Objects filed under `value` in the index `index`. Throws for an unknown index, which is a typo. */
  byIndex(index: string, value: string): T[] {
    const keys = this.indexOrThrow(index).get(value);
    if (!keys) return [];
    return [...keys].map((key) => this.items.get(key)).filter((obj): obj is T => obj !== undefined);
  }

  /** Every value the index `index` currently has (e.g. all labs with pods). */
  indexValues(index: string): string[] {
    return [...this.indexOrThrow(index).keys()];
  }

  /** Whether an index of that name exists (addIndexer refuses a second one). */
  hasIndex(name: string): boolean {
    return this.indexers.has(name);
  }

  /** Adds an index; objects already cached are filed at once. */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name)) throw new Error(`store: index '${name}' already exists`);
    const index = new Map<string, Set<string>>();
    for (const [key, obj] of this.items) file(index, fn(obj), key);
    this.indexers.set(name, fn);
    this.indices.set(name, index);
  }

  /** Inserts or replaces the object; returns the one it replaced. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    // Computed before anything changes, so an index function that throws leaves the store as it was.
    const newValues = this.indexValuesOf(obj);
    const old = this.items.get(key);
    this.items.set(key, obj);
    if (old !== undefined) this.unfileAll(key, old);
    for (const [name, values] of newValues) file(this.indexOrThrow(name), values, key);
    return old;
  }

  /** Removes the object; returns it, or undefined when it was not cached. */
  remove(key: string): T | undefined {
    const old = this.items.get(key);
    if (old === undefined) return undefined;
    this.items.delete(key);
    this.unfileAll(key, old);
    return old;
  }

  /**
   * Replaces the whole contents with `objs` (a fresh list) and returns what
   * changed, comparing by resourceVersion, so a relist can tell handlers
   * exactly what they missed.
   */
  replace(objs: readonly T[]): StoreDiff<T> {
    const diff: StoreDiff<T> = { added: [], updated: [], deleted: [] };
    const fresh = new Map<string, T>();
    for (const obj of objs) fresh.set(objectKey(obj), obj);

    for (const [key, oldObj] of this.items) {
      if (!fresh.has(key)) diff.deleted.push(oldObj);
    }
    for (const [key, newObj] of fresh) {
      const oldObj = this.items.get(key);
      if (oldObj === undefined) diff.added.push(newObj);
      else if (resourceVersionOf(oldObj) !== resourceVersionOf(newObj)) diff.updated.push({ oldObj, newObj });
    }

    // Built aside and swapped in, so an index function that throws leaves the store as it was.
    const indices = new Map<string, Map<string, Set<string>>>();
    for (const [name, fn] of this.indexers) {
      const index = new Map<string, Set<string>>();
      for (const [key, obj] of fresh) file(index, fn(obj), key);
      indices.set(name, index);
    }
    this.items.clear();
    for (const [key, obj] of fresh) this.items.set(key, obj);
    for (const [name, index] of indices) this.indices.set(name, index);
    return diff;
  }

  private indexValuesOf(obj: T): Map<string, string[]> {
    const values = new Map<string, string[]>();
    for (const [name, fn] of this.indexers) values.set(name, fn(obj));
    return values;
  }

  /** Index functions are pure, so the old object's values are where its key was filed. */
  private unfileAll(key: string, oldObj: T): void {
    for (const [name, fn] of this.indexers) unfile(this.indexOrThrow(name), fn(oldObj), key);
  }

  private indexOrThrow(name: string): Map<string, Set<string>> {
    const index = this.indices.get(name);
    if (!index)
      throw new Error(`store: no index named '${name}' (have: ${[...this.indices.keys()].join(', ')})`);
    return index;
  }
}

function resourceVersionOf(obj: KubeObject): string | undefined {
  return obj.metadata?.resourceVersion;
}

function file(index: Map<string, Set<string>>, values: string[], key: string): void {
  for (const value of values) {
    let keys = index.get(value);
    if (!keys) index.set(value, (keys = new Set()));
    keys.add(key);
  }
}

function unfile(index: Map<string, Set<string>>, values: string[], key: string): void {
  for (const value of values) {
    const keys = index.get(value);
    if (!keys) continue;
    keys.delete(key);
    // Empty sets are dropped so indexValues() only lists values that still have objects.
    if (keys.size === 0) index.delete(value);
  }
}
