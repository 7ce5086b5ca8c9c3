/**
 * Sources: where a controller's Requests come from. A source turns events into keys (through a map
 * function and predicates, see handlers.ts) and says when its initial state has been delivered.
 */
import { toInformerHandler, type HandlerEvent, type MapFunc } from './handlers.js';
import type { Informer } from './informer.js';
import type { Predicate } from './predicates.js';
import type { Request } from './reconcile.js';
import type { KubeObject } from './resources.js';
import type { Priority } from './priority.js';

/** Where a controller's Requests come from: usually an informer plus a map function and predicates. */
export interface Source {
  /**
   * Starts delivering Requests to `enqueue` (with the event and object behind each, when known);
   * stops when `signal` aborts. `dropped` hears of events a predicate filtered out.
   */
  start(
    enqueue: (req: Request, event?: HandlerEvent, obj?: KubeObject, priority?: Priority) => void,
    signal: AbortSignal,
    dropped?: (event: HandlerEvent, obj: KubeObject) => void,
  ): void;
  /** Resolves once the source's initial state has been delivered (the cache is synced). */
  waitForSync(signal: AbortSignal): Promise<void>;
}

/** A Source over a (shared) informer: its events go through `predicates`, then `map`. */
export function informerSource<T extends KubeObject>(
  informer: Informer<T>,
  map: MapFunc,
  predicates: readonly Predicate<KubeObject>[] = [],
  options: { primary?: boolean } = {},
): Source {
  return {
    start(enqueue, signal, dropped) {
      const handler = toInformerHandler(
        map,
        predicates,
        (req, event, obj, priority) => {
          // Shared informers outlive a controller; once it stopped, its handler stays silent.
          if (!signal.aborted) enqueue(req, event, obj, priority);
        },
        dropped && ((event, obj) => !signal.aborted && dropped(event, obj)),
        options,
      );
      informer.addEventHandler(handler);
    },
    waitForSync: (signal) => informer.waitForSync(signal),
  };
}
