/** The labels every child of a lab carries, and the field manager that owns what the operator writes. */
import type { KubeObject, Request } from '../runtime/index.js';

/**
 * The server-side apply field manager of every write the operator makes.
 * Keep it stable: renaming it orphans the ownership of fields applied under
 * the old name, and SSA then never removes them.
 */
export const FIELD_MANAGER = 'studylab-operator';

/** Recommended label: the application's name. Always `studylab`. */
export const NAME_LABEL = 'app.kubernetes.io/name';
/** Recommended label: which lab the object belongs to (the lab's metadata.name). */
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
/** Recommended label: the tool that manages the object. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

export const NAME_VALUE = 'studylab';
export const MANAGED_BY_VALUE = 'studylab-operator';

/** The labels on every child (and on the pods): the stable selector labels plus managed-by. */
export function labelsFor(labName: string): Record<string, string> {
  return { ...selectorLabelsFor(labName), [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
}

/**
 * The labels that select a lab's pods. Only labels that never change for a
 * lab belong here: a Deployment's selector is immutable, so adding a label
 * later would mean deleting the Deployment.
 */
export function selectorLabelsFor(labName: string): Record<string, string> {
  return { [NAME_LABEL]: NAME_VALUE, [INSTANCE_LABEL]: labName };
}

/**
 * The lab an object we manage belongs to, named by its instance label: how a child found by label
 * (a claim, which a retained one has no owner reference to tell; a pod, owned by a ReplicaSet)
 * wakes its lab. None for an object we do not manage.
 */
export function labNamedBy(obj: KubeObject): Request[] {
  const labels = obj.metadata?.labels ?? {};
  const instance = labels[INSTANCE_LABEL];
  if (labels[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE || !instance) return [];
  return [{ namespace: obj.metadata?.namespace, name: instance }];
}
