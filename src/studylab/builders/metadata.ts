/** The metadata every child intent shares: name, namespace, labels and the owner reference to its lab. */
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, type StudyLab } from '../../api/v1alpha1/index.js';
import { labelsFor } from '../labels.js';

/**
 * A builder was called with a lab it cannot build from: a lab without name,
 * namespace or uid (not read from the API server), or without the section the
 * child comes from. The reconciler validates first, so this is a programming
 * error, never a user's.
 */
export class BuilderInputError extends Error {
  override readonly name = 'BuilderInputError';
}

/** The identity of a lab as its children need it. */
export interface LabIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

/** Name, namespace and uid of the lab; throws BuilderInputError when one is missing. */
export function identityOf(lab: StudyLab): LabIdentity {
  const { name, namespace, uid } = lab.metadata;
  if (!name || !namespace || !uid) {
    throw new BuilderInputError(
      `a StudyLab needs metadata.name, metadata.namespace and metadata.uid to build its children (got ${JSON.stringify({ name, namespace, uid })})`,
    );
  }
  return { name, namespace, uid };
}

/**
 * The controller reference to the lab. blockOwnerDeletion makes a foreground
 * deletion of the lab wait for the child; controller marks the lab as the one
 * manager of the child, so owner watches map the child's events to the lab.
 */
export function ownerReferenceFor(lab: LabIdentity): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: lab.name,
    uid: lab.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * Metadata of a child intent, named after the lab. `owned: false` leaves the
 * ownerReferences field out entirely (not `[]`): under server-side apply, an
 * absent field is one we give up, and the entry we applied before is removed.
 */
export function childMetadata(lab: LabIdentity, owned: boolean): V1ObjectMeta {
  const meta: V1ObjectMeta = { name: lab.name, namespace: lab.namespace, labels: labelsFor(lab.name) };
  if (owned) meta.ownerReferences = [ownerReferenceFor(lab)];
  return meta;
}

/** A deep copy of a user's value, so an intent never shares objects with the lab it was built from. */
export function copyOf<T>(value: T): T {
  return structuredClone(value);
}

/** The value when it is a non-empty list, else undefined: an empty list says nothing SSA should own. */
export function nonEmpty<T>(list: readonly T[] | undefined): T[] | undefined {
  return list && list.length > 0 ? copyOf([...list]) : undefined;
}

/** The value when it is a non-empty map, else undefined. */
export function nonEmptyMap<T>(map: Record<string, T> | undefined): Record<string, T> | undefined {
  return map && Object.keys(map).length > 0 ? copyOf(map) : undefined;
}
