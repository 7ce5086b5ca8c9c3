/** The reflector: keeps a Store equal to what a watcher says, and reports what each event changed in it. */
import { objectKey } from './keys.js';
import type { KubeObject } from './resources.js';
import type { Store } from './store.js';
import type { WatcherEvent } from './watcher.js';

/** One change a watcher event made to the store, in the words event handlers use. */
export type StoreChange<T> =
  | { readonly type: 'add'; readonly obj: T }
  | { readonly type: 'update'; readonly oldObj: T; readonly newObj: T }
  | { readonly type: 'delete'; readonly obj: T };

export interface ReflectorOptions<T> {
  /** Applied to every object before it is cached. @default none */
  readonly transform?: (obj: T) => T;
  /**
   * Told of an object left out of the store because the transform or an index function threw.
   * Retrying the same object would fail the same way, so it is skipped. @default ignored
   */
  readonly onSkipped?: (err: unknown, obj: KubeObject) => void;
}

/**
 * A function that applies one watcher event to `store` and returns what changed, so
 * `watcher.run(signal, reflector(store))` alone keeps a cache.
 *
 * Guarantees: after a 'restart' the store holds exactly the listed objects (less the skipped ones),
 * and the changes are the difference by resourceVersion: added, then updated, then deleted.
 * Caveats: a 'deleted' event is reported even for an object the store did not hold. An index
 * function that throws on a 'restart' leaves the store as it was and throws, so the watcher lists again.
 */
export function reflector<T extends KubeObject>(
  store: Store<T>,
  options: ReflectorOptions<T> = {},
): (event: WatcherEvent<T>) => StoreChange<T>[] {
  const transform = options.transform ?? ((obj: T): T => obj);
  const skipped = options.onSkipped ?? ((): void => undefined);
  return (event) => {
    switch (event.type) {
      case 'restart': {
        const cached: T[] = [];
        for (const obj of event.objects) {
          try {
            cached.push(transform(obj));
          } catch (err) {
            skipped(err, obj);
          }
        }
        const diff = store.replace(cached);
        return [
          ...diff.added.map((obj) => ({ type: 'add' as const, obj })),
          ...diff.updated.map(({ oldObj, newObj }) => ({ type: 'update' as const, oldObj, newObj })),
          ...diff.deleted.map((obj) => ({ type: 'delete' as const, obj })),
        ];
      }
      case 'added':
      case 'modified':
      case 'deleted':
        try {
          const obj = transform(event.object);
          if (event.type === 'deleted') {
            store.remove(objectKey(obj));
            return [{ type: 'delete', obj }];
          }
          const oldObj = store.upsert(obj);
          return [oldObj ? { type: 'update', oldObj, newObj: obj } : { type: 'add', obj }];
        } catch (err) {
          skipped(err, event.object);
          return [];
        }
      case 'bookmark':
        return [];
    }
  };
}
