/**
 * How soon a key should be handed out by the work queue. Handlers choose (handlers.ts: priorityOf):
 * `low` for what merely reports a state (an informer's initial list, a resync, a child's add or
 * update), `high` for what a person just asked for (a new generation of a spec), `normal` for the
 * rest (a new object, a deletion, a retry). Its own module because the queue and the metrics both
 * name the three.
 */
export type Priority = 'low' | 'normal' | 'high';

/** Lowest first, as the ranks go. */
export const PRIORITIES: readonly Priority[] = ['low', 'normal', 'high'];

export const RANK: Record<Priority, number> = { low: 0, normal: 1, high: 2 };
