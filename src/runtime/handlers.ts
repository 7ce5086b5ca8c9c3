/**
 * Event handlers turn a watched object's events into Requests for a controller: its own key for the
 * primary kind, its controller owner's key for owned children, or any mapping for other watches.
 * What happened (add, update, delete) is deliberately lost here: reconciliation is level-based.
 */
import type { InformerEventHandler } from './informer.js';
import { requestKey, requestOf } from './keys.js';
import { passesCreate, passesDelete, passesUpdate, type Predicate } from './predicates.js';
import type { Request } from './reconcile.js';
import type { KubeObject } from './resources.js';
import type { Priority } from './priority.js';

/** Maps one object to the Requests it should wake. */
export type MapFunc = (obj: KubeObject) => Request[];

/** Which handler call an enqueue came from (for traces; reconcilers never see it). */
export type HandlerEvent = 'add' | 'update' | 'delete';

/** Receives each Request, with the event and object that caused it, and how soon it should run. */
export type Enqueue = (req: Request, event: HandlerEvent, obj: KubeObject, priority: Priority) => void;

/**
 * How soon an event's Request should run. `high` for a new generation of a primary object's spec:
 * an edit a person made to something that already runs. `normal` for a new primary object, and for
 * any deletion (a child gone is an outage to repair). `low` for what only reports a state: an object
 * of the initial list, a resync (the same resourceVersion again), a child's add or update.
 *
 * So an edit is not queued behind a thousand labs created at once, nor behind a restart's initial
 * list; and while labs arrive faster than they are reconciled, their children's status changes
 * wait until the new labs are served, and several of them are read in one reconcile instead of one
 * reconcile (and status write) each. A key that has waited 10 s below the top priority takes one
 * hand-out in four (see WorkQueue), so none waits for long.
 * controller-runtime lowers the initial list the same way; the rest is ours. One exception to it: an
 * object of the initial list whose status says it has not seen its own generation
 * (status.observedGeneration below metadata.generation) is an edit nobody served yet, made while no
 * operator ran (an upgrade, a leader's failover): `high`, not behind the whole list.
 */
export function priorityOf(
  event: HandlerEvent,
  obj: KubeObject,
  options: { primary: boolean; isInInitialList?: boolean; oldObj?: KubeObject },
): Priority {
  if (event === 'delete') return 'normal';
  if (event === 'add') {
    if (!options.primary) return 'low';
    if (!options.isInInitialList) return 'normal';
    return unservedGeneration(obj) ? 'high' : 'low';
  }
  const before = options.oldObj?.metadata;
  const rv = obj.metadata?.resourceVersion;
  if (rv !== undefined && before?.resourceVersion === rv) return 'low';
  if (!options.primary) return 'low';
  return before?.generation !== obj.metadata?.generation ? 'high' : 'normal';
}

/** Whether the object's status reports a generation older than its own (API conventions: observedGeneration). */
function unservedGeneration(obj: KubeObject): boolean {
  const observed = (obj as { status?: { observedGeneration?: unknown } }).status?.observedGeneration;
  const generation = obj.metadata?.generation;
  return typeof observed === 'number' && typeof generation === 'number' && observed < generation;
}

/** The object's own key: used for the controller's primary (`for`) kind. */
export function enqueueObject(): MapFunc {
  return (obj) => {
    const req = requestOf(obj);
    return req ? [req] : [];
  };
}

/**
 * The key of the object's controller owner (the ownerReference with `controller: true`), if that owner
 * is of the given group and kind; nothing otherwise. Used for owned children (`owns`): a change to a
 * Deployment wakes the StudyLab that controls it. A namespaced owner lives in its child's namespace
 * (the API forbids cross-namespace owners); pass `namespaced: false` for cluster-scoped owner kinds.
 */
export function enqueueControllerOwner(owner: {
  group: string;
  kind: string;
  namespaced?: boolean;
}): MapFunc {
  return (obj) => {
    const ref = obj.metadata?.ownerReferences?.find((r) => r.controller === true);
    if (!ref || ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) return [];
    const namespace = owner.namespaced === false ? undefined : obj.metadata?.namespace;
    return [namespace ? { namespace, name: ref.name } : { name: ref.name }];
  };
}

/** 'apps/v1' -> 'apps'; 'v1' (the core group) -> ''. */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * An informer handler that filters events through `predicates` (all must pass), maps them with `map`
 * and hands each Request to `enqueue`. An update maps both the old and the new object, so a child whose
 * owner changed wakes both owners (the old one must notice it lost a child); a Request both map to is
 * handed over once, as controller-runtime's handlers do (a second add could land while a worker
 * already holds the key, and cost a second reconcile for nothing). `dropped`, when given,
 * hears of every event a predicate filtered out (a trace shows them).
 */
export function toInformerHandler(
  map: MapFunc,
  predicates: readonly Predicate<KubeObject>[],
  enqueue: Enqueue,
  dropped?: (event: HandlerEvent, obj: KubeObject) => void,
  options: { primary?: boolean } = {},
): InformerEventHandler<KubeObject> {
  const primary = options.primary ?? false;
  const enqueueAll = (event: HandlerEvent, priority: Priority, ...objs: KubeObject[]): void => {
    const seen = new Set<string>();
    for (const obj of objs) {
      for (const req of map(obj)) {
        const key = requestKey(req);
        if (seen.has(key)) continue;
        seen.add(key);
        enqueue(req, event, obj, priority);
      }
    }
  };
  return {
    onAdd(obj, isInInitialList) {
      if (predicates.every((p) => passesCreate(p, obj)))
        enqueueAll('add', priorityOf('add', obj, { primary, isInInitialList }), obj);
      else dropped?.('add', obj);
    },
    onUpdate(oldObj, newObj) {
      if (predicates.every((p) => passesUpdate(p, oldObj, newObj)))
        enqueueAll('update', priorityOf('update', newObj, { primary, oldObj }), oldObj, newObj);
      else dropped?.('update', newObj);
    },
    onDelete(obj) {
      if (predicates.every((p) => passesDelete(p, obj))) enqueueAll('delete', 'normal', obj);
      else dropped?.('delete', obj);
    },
  };
}
