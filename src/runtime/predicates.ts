/**
 * Predicates filter a watch's events before they become requests, so a controller is not woken by
 * changes it does not care about (its own status writes, resyncs, label-only edits...).
 *
 * A predicate method that is absent lets the event through. Filtering is an optimisation only: a
 * reconciler must still be correct if it is called for an event a predicate would have dropped.
 */
import { deepEqual } from './equality.js';
import type { KubeObject } from './resources.js';

export interface Predicate<T> {
  create?(o: T): boolean;
  update?(oldO: T, newO: T): boolean;
  delete?(o: T): boolean;
}

/**
 * Updates pass only when metadata.generation changed, i.e. the spec changed (the API server bumps it on
 * spec writes, not on status or metadata writes). The usual filter for a controller's primary kind.
 * Kinds without a generation (ConfigMaps, Secrets) never pass an update through it.
 */
export const generationChanged: Predicate<KubeObject> = {
  update: (oldO, newO) => oldO.metadata?.generation !== newO.metadata?.generation,
};

/** Updates pass only when the labels changed. */
export const labelsChanged: Predicate<KubeObject> = {
  update: (oldO, newO) => !deepEqual(oldO.metadata?.labels ?? {}, newO.metadata?.labels ?? {}),
};

/** Updates pass only when the annotations changed. */
export const annotationsChanged: Predicate<KubeObject> = {
  update: (oldO, newO) => !deepEqual(oldO.metadata?.annotations ?? {}, newO.metadata?.annotations ?? {}),
};

/** Updates pass only when the object really changed: drops the informer's periodic resync (same resourceVersion). */
export const resourceVersionChanged: Predicate<KubeObject> = {
  update: (oldO, newO) => oldO.metadata?.resourceVersion !== newO.metadata?.resourceVersion,
};

/** Every event whose object (the new one, for updates) satisfies `test`. */
export function matching<T>(test: (o: T) => boolean): Predicate<T> {
  return { create: test, update: (_oldO, newO) => test(newO), delete: test };
}

/** Passes when every predicate passes. */
export function and<T>(...ps: Predicate<T>[]): Predicate<T> {
  return {
    create: (o) => ps.every((p) => passesCreate(p, o)),
    update: (a, b) => ps.every((p) => passesUpdate(p, a, b)),
    delete: (o) => ps.every((p) => passesDelete(p, o)),
  };
}

/** Passes when any predicate passes. */
export function or<T>(...ps: Predicate<T>[]): Predicate<T> {
  return {
    create: (o) => ps.some((p) => passesCreate(p, o)),
    update: (a, b) => ps.some((p) => passesUpdate(p, a, b)),
    delete: (o) => ps.some((p) => passesDelete(p, o)),
  };
}

/** Passes when `p` does not (an absent method of `p` passes, so its negation drops). */
export function not<T>(p: Predicate<T>): Predicate<T> {
  return {
    create: (o) => !passesCreate(p, o),
    update: (a, b) => !passesUpdate(p, a, b),
    delete: (o) => !passesDelete(p, o),
  };
}

export function passesCreate<T>(p: Predicate<T>, o: T): boolean {
  return p.create ? p.create(o) : true;
}

export function passesUpdate<T>(p: Predicate<T>, oldO: T, newO: T): boolean {
  return p.update ? p.update(oldO, newO) : true;
}

export function passesDelete<T>(p: Predicate<T>, o: T): boolean {
  return p.delete ? p.delete(o) : true;
}
