/**
 * The desired PersistentVolumeClaim of a lab, and the storage decisions that
 * come with it: what may change on an existing claim and what is refused.
 *
 * A claim holds a user's data, so the rules are conservative (see DESIGN.md,
 * "Data safety"): a claim is never deleted or replaced because the spec
 * changed. It can grow; it cannot shrink, change its StorageClass or its
 * access modes. A change that cannot be made is refused: the intent keeps
 * the existing value, the lab reports the refusal, and nothing is forced.
 */
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { DEFAULTS, type StudyLab } from '../../api/v1alpha1/index.js';
import { BuilderInputError, childMetadata, identityOf } from './metadata.js';
import { compareQuantities, parseQuantity } from './quantity.js';

/** Reasons of a refused storage change, CamelCase for conditions and Events. */
export const StorageRefusalReason = {
  /** spec.storage.size is smaller than the claim's request: a volume cannot shrink. */
  ShrinkRefused: 'StorageShrinkRefused',
  /** spec.storage.storageClassName differs from the claim's class, which is immutable. */
  StorageClassChangeRefused: 'StorageClassChangeRefused',
  /** spec.storage.accessModes differ from the claim's, which are immutable. */
  AccessModesChangeRefused: 'AccessModesChangeRefused',
  /** A size could not be read as a quantity, so no comparison was possible; the claim's size is kept. */
  SizeNotComparable: 'StorageSizeNotComparable',
  /** More than one of the above at once; the message lists each. */
  ChangesRefused: 'StorageChangesRefused',
} as const;
export type StorageRefusalReason = (typeof StorageRefusalReason)[keyof typeof StorageRefusalReason];

/** One storage change the operator will not make. */
export interface StorageRefusal {
  readonly field: string;
  readonly reason: StorageRefusalReason;
  readonly message: string;
}

/** The claim intent plus what it decided against the existing claim. */
export interface ClaimPlan {
  /** The server-side apply intent. */
  readonly intent: V1PersistentVolumeClaim;
  /** Every refused change, one per field. Empty when the spec can be carried out as written. */
  readonly refusals: readonly StorageRefusal[];
  /** The refusals as one (for a condition or an Event): the single refusal, or ChangesRefused listing all. */
  readonly refusal?: StorageRefusal;
  /** Set when the intent grows the existing claim. */
  readonly expansion?: { readonly from: string; readonly to: string };
  /**
   * Paths the intent carries over from the existing claim although the spec does not ask for them
   * (the class the cluster's default StorageClass filled in). They are not part of what the lab
   * intends, so they must not change its intent hash: the claim's first apply had no such field.
   */
  readonly inherited: readonly string[];
}

/**
 * Builds the claim intent for `spec.storage`, deciding against `existing`
 * (the live claim of the same name, if any).
 *
 * Retention and owner references: with `Delete` the intent carries the
 * controller reference to the lab, so the garbage collector deletes the claim
 * with the lab. With `Retain` the intent carries no ownerReferences field at
 * all. That is enough to drop a reference applied before (a switch from
 * Delete to Retain): under server-side apply our field manager owns the
 * ownerReferences entry it applied (the list is keyed by uid), and an entry
 * an apply no longer contains is removed from the object when no other
 * manager owns it. So the reconciler only has to apply this intent, under
 * the same field manager (FIELD_MANAGER) that applied the reference. A
 * reference added by another manager (`kubectl edit`, an Update) is not ours
 * to drop and stays.
 *
 * Throws BuilderInputError when the lab has no `spec.storage`.
 */
export function buildPersistentVolumeClaim(lab: StudyLab, existing?: V1PersistentVolumeClaim): ClaimPlan {
  const storage = lab.spec.storage;
  if (!storage) throw new BuilderInputError('buildPersistentVolumeClaim needs a lab with spec.storage');
  const id = identityOf(lab);
  const owned = (storage.retentionPolicy ?? DEFAULTS.retentionPolicy) === 'Delete';
  const wantedModes = [...(storage.accessModes ?? DEFAULTS.accessModes)];

  const refusals: StorageRefusal[] = [];
  const size = decideSize(storage.size, existing, refusals);
  const storageClassName = decideStorageClass(storage.storageClassName, existing, refusals);
  const inherited =
    storage.storageClassName === undefined && storageClassName !== undefined ? ['spec.storageClassName'] : [];
  const accessModes = decideAccessModes(wantedModes, existing, refusals);

  const intent: V1PersistentVolumeClaim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: childMetadata(id, owned),
    spec: {
      accessModes,
      resources: { requests: { storage: size.value } },
      ...(storageClassName !== undefined && { storageClassName }),
    },
  };
  const refusal = summarize(refusals);
  return {
    intent,
    refusals,
    inherited,
    ...(refusal && { refusal }),
    ...(size.expansion && { expansion: size.expansion }),
  };
}

function decideSize(
  wanted: string,
  existing: V1PersistentVolumeClaim | undefined,
  refusals: StorageRefusal[],
): { value: string; expansion?: { from: string; to: string } } {
  const current = existing?.spec?.resources?.requests?.storage;
  if (current === undefined) return { value: wanted };
  if (!parseQuantity(wanted) || !parseQuantity(current)) {
    refusals.push({
      field: 'spec.storage.size',
      reason: StorageRefusalReason.SizeNotComparable,
      message: `cannot compare spec.storage.size ${wanted} with the claim's ${current}; the claim keeps ${current}`,
    });
    return { value: current };
  }
  const order = compareQuantities(wanted, current);
  if (order < 0) {
    refusals.push({
      field: 'spec.storage.size',
      reason: StorageRefusalReason.ShrinkRefused,
      message: `spec.storage.size ${wanted} is smaller than the claim's ${current}: a volume cannot shrink; the claim keeps ${current} (set the size to at least ${current})`,
    });
    return { value: current };
  }
  return order > 0 ? { value: wanted, expansion: { from: current, to: wanted } } : { value: wanted };
}

/**
 * The class is immutable once the claim exists. An existing class is always
 * kept in the intent, even when the lab names none: the cluster's default
 * class may have been filled in, and dropping a class we applied before
 * would ask SSA to clear an immutable field. A lab that names no class
 * accepts whatever the claim has; a lab that names another one is refused.
 */
function decideStorageClass(
  wanted: string | undefined,
  existing: V1PersistentVolumeClaim | undefined,
  refusals: StorageRefusal[],
): string | undefined {
  if (!existing) return wanted;
  const current = existing.spec?.storageClassName ?? undefined;
  if (wanted !== undefined && wanted !== current) {
    refusals.push({
      field: 'spec.storage.storageClassName',
      reason: StorageRefusalReason.StorageClassChangeRefused,
      message:
        current === undefined
          ? `the claim exists without a StorageClass and cannot be given ${JSON.stringify(wanted)}: the class of a claim is immutable`
          : `the claim's StorageClass is ${JSON.stringify(current)} and cannot become ${JSON.stringify(wanted)}: the class of a claim is immutable`,
    });
  }
  return current;
}

function decideAccessModes(
  wanted: string[],
  existing: V1PersistentVolumeClaim | undefined,
  refusals: StorageRefusal[],
): string[] {
  const current = existing?.spec?.accessModes;
  if (!current || current.length === 0) return wanted;
  if (!sameSet(wanted, current)) {
    refusals.push({
      field: 'spec.storage.accessModes',
      reason: StorageRefusalReason.AccessModesChangeRefused,
      message: `the claim's access modes are [${current.join(', ')}] and cannot become [${wanted.join(', ')}]: access modes of a claim are immutable`,
    });
  }
  return [...current];
}

function summarize(refusals: StorageRefusal[]): StorageRefusal | undefined {
  if (refusals.length <= 1) return refusals[0];
  return {
    field: 'spec.storage',
    reason: StorageRefusalReason.ChangesRefused,
    message: refusals.map((r) => `${r.field}: ${r.message}`).join('; '),
  };
}

/** Access modes are a set (`@listType set`): order does not matter. */
function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}
