/**
 * Which objects are a lab's to write. A child is found by name (the lab's name, in the lab's
 * namespace), and a name proves nothing: anyone may have created a Service called `web` before the
 * lab `web` existed. So an object is the lab's only if its controller owner reference names the
 * lab's uid, as controller-runtime's SetControllerReference decides.
 *
 * The one exception is a claim the lab may adopt: a PersistentVolumeClaim that carries our
 * managed-by label and this lab's instance label and has no controller. That is what a lab with
 * `retentionPolicy: Retain` leaves behind (DESIGN.md, "Data safety"), and a new lab of the same
 * name takes it back with its data. Anything else under a child's name is a conflict: reported,
 * never written.
 */
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { StudyLab } from '../api/v1alpha1/index.js';
import type { KubeObject } from '../runtime/index.js';
import { INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './labels.js';

/** An object under a child's name that is not the lab's. */
export interface ChildConflict {
  /** The object's kind: Deployment, Service, NetworkPolicy, PersistentVolumeClaim. */
  readonly kind: string;
  readonly name: string;
  /** Why it is not the lab's, as the end of a sentence that starts with "Kind name". */
  readonly why: string;
}

/**
 * Undefined when `obj`, an object of `kind` under a child's name, is the lab's to write (controlled
 * by it, or an adoptable claim); otherwise why it is not.
 */
export function conflictOf(obj: KubeObject, kind: string, lab: StudyLab): ChildConflict | undefined {
  const name = obj.metadata?.name ?? '';
  const controller = controllerOf(obj);
  if (controller) {
    if (controller.uid === lab.metadata.uid) return undefined;
    const same = controller.kind === lab.kind && controller.name === lab.metadata.name;
    return {
      kind,
      name,
      why: same
        ? `is still controlled by an earlier StudyLab ${controller.name} (uid ${controller.uid}), which is being deleted`
        : `is controlled by ${controller.kind} ${controller.name}`,
    };
  }
  if (kind === 'PersistentVolumeClaim' && isAdoptableClaim(obj, lab)) return undefined;
  const labels = obj.metadata?.labels ?? {};
  return {
    kind,
    name,
    why:
      labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE
        ? 'carries our labels but no controller reference (orphaned from an earlier lab?); delete it to let this lab create its own'
        : 'already exists and was not created by this lab; delete or rename it to let this lab create its own',
  };
}

/** "Service web already exists and ..." for a condition message or an Event. */
export function describeConflict(c: ChildConflict): string {
  return `${c.kind} ${c.name} ${c.why}`;
}

/** Whether `child` is controlled by `lab` (the lab's own children: created, adopted or kept by it). */
export function isControlledBy(child: KubeObject, lab: StudyLab): boolean {
  return controllerOf(child)?.uid === lab.metadata.uid;
}

function controllerOf(obj: KubeObject): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** A claim a lab of this name left behind (Retain): our labels, this lab's instance, no controller. */
function isAdoptableClaim(claim: KubeObject, lab: StudyLab): boolean {
  const labels = claim.metadata?.labels ?? {};
  return labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && labels[INSTANCE_LABEL] === lab.metadata.name;
}
