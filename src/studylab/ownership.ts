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
import { joinWords } from './text.js';

/** Why an object under a child's name is not the lab's. */
export type ConflictCause =
  /** No controller reference and not our labels: somebody else's object. */
  | 'foreign'
  /** Our labels but no controller reference: left behind by an earlier lab (orphan deletion). */
  | 'orphaned'
  /** Controlled by an earlier lab of the same name, which the garbage collector has not removed yet. */
  | 'earlier-lab'
  /** Controlled by another object altogether. */
  | 'other-controller';

/** An object under a child's name that is not the lab's. */
export interface ChildConflict {
  /** The object's kind: Deployment, Service, NetworkPolicy, PersistentVolumeClaim. */
  readonly kind: string;
  readonly name: string;
  readonly cause: ConflictCause;
  /** The controller, for 'earlier-lab' and 'other-controller': "StudyLab web (uid ...)". */
  readonly controller?: string;
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
    const earlier = controller.kind === lab.kind && controller.name === lab.metadata.name;
    return {
      kind,
      name,
      cause: earlier ? 'earlier-lab' : 'other-controller',
      controller: `${controller.kind} ${controller.name}${earlier ? ` (uid ${controller.uid})` : ''}`,
    };
  }
  if (kind === 'PersistentVolumeClaim' && isAdoptableClaim(obj, lab)) return undefined;
  const labels = obj.metadata?.labels ?? {};
  return { kind, name, cause: labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? 'orphaned' : 'foreign' };
}

/**
 * One sentence per cause, naming every object it applies to, for a condition message or an Event:
 * "Deployment web and Service web already exist and were not created by this lab; ...".
 */
export function describeConflicts(conflicts: readonly ChildConflict[]): string {
  const byCause = new Map<string, ChildConflict[]>();
  for (const c of conflicts) {
    const key = `${c.cause}/${c.controller ?? ''}`;
    byCause.set(key, [...(byCause.get(key) ?? []), c]);
  }
  return [...byCause.values()].map(describeGroup).join('; ');
}

function describeGroup(group: readonly ChildConflict[]): string {
  const [first] = group;
  const objects = joinWords(group.map((c) => `${c.kind} ${c.name}`));
  const one = group.length === 1;
  const [is, exists, was, it] = one ? ['is', 'exists', 'was', 'it'] : ['are', 'exist', 'were', 'them'];
  switch (first?.cause) {
    case 'earlier-lab':
      return `${objects} ${is} still controlled by an earlier ${first.controller ?? 'lab'}, which is being deleted; this lab takes the name once the garbage collector has removed ${it}`;
    case 'other-controller':
      return `${objects} ${is} controlled by ${first.controller ?? 'another object'}; delete or rename ${it} to let this lab create its own`;
    case 'orphaned':
      return `${objects} ${exists} with our labels but no controller reference (orphaned from an earlier lab?); delete ${it} to let this lab create its own`;
    default:
      return `${objects} already ${exists} and ${was} not created by this lab; delete or rename ${it} to let this lab create its own`;
  }
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
