/**
 * Deciding whether a child needs a server-side apply, from the cache alone.
 *
 * Why: an apply that changes nothing still costs a request, and "a reconcile
 * of a converged lab sends no write at all" is a promise of this operator.
 * Two checks together say when an apply is due:
 *
 * 1. The intent changed: a hash of the intent is stored in an annotation on
 *    the child. A different hash means the spec asks for something else, which
 *    includes fields we used to set and no longer do (only an apply removes
 *    those, and only the hash sees an absence).
 * 2. The child drifted: every field the intent sets must have the same value
 *    on the live object. Fields the intent does not mention (defaults filled
 *    in by the API server, fields of other managers) are ignored, so their
 *    changes never trigger a write.
 *
 * Caveat: lists are compared element by element when both have the same
 * length; a list another manager appended to counts as drift, and the apply
 * that follows leaves their entries in place (server-side apply merges).
 */
import { createHash } from 'node:crypto';
import { isPlainObject } from '../runtime/equality.js';
import { compareQuantities } from './builders/quantity.js';

export const INTENT_HASH_ANNOTATION = 'studylab.io/intent-hash';

/** A stable hash of an intent: keys sorted, so property order never matters. */
export function intentHash(intent: unknown): string {
  return createHash('sha256').update(stableStringify(intent)).digest('hex').slice(0, 16);
}

/**
 * Returns the intent with its hash annotation, ready to apply (the input is not modified).
 * `unhashed` names dotted paths left out of the hash: values the intent only carries over from the
 * live object, which would otherwise make the first and second hash of a new child differ.
 */
export function withIntentHash<T extends { metadata?: object }>(
  intent: T,
  unhashed: readonly string[] = [],
): T {
  const hash = intentHash(unhashed.reduce<unknown>(withoutPath, intent));
  const metadata = (intent.metadata ?? {}) as { annotations?: Record<string, string> };
  return {
    ...intent,
    metadata: { ...metadata, annotations: { ...metadata.annotations, [INTENT_HASH_ANNOTATION]: hash } },
  };
}

export interface ApplyDecision {
  apply: boolean;
  /** 'absent' | 'intent-changed' | 'drift' | 'in-sync' */
  reason: 'absent' | 'intent-changed' | 'drift' | 'in-sync';
  /** Paths of the fields whose live value differs from the intent (for logs and traces). */
  drifted: string[];
}

/** Compares an intent carrying its hash annotation (see withIntentHash) with the live object from the cache. */
export function decideApply(intent: object, live: object | undefined): ApplyDecision {
  if (!live) return { apply: true, reason: 'absent', drifted: [] };
  const wanted = annotationsOf(intent)[INTENT_HASH_ANNOTATION];
  const drifted = driftedFields(intent, live);
  if (annotationsOf(live)[INTENT_HASH_ANNOTATION] !== wanted) {
    return { apply: true, reason: 'intent-changed', drifted };
  }
  return drifted.length > 0
    ? { apply: true, reason: 'drift', drifted }
    : { apply: false, reason: 'in-sync', drifted };
}

/** Paths where `live` does not carry what `intent` sets. */
export function driftedFields(intent: unknown, live: unknown, path = ''): string[] {
  // The API server drops empty lists and maps (`ingress: []` comes back absent), and the zero value of a
  // field tagged omitempty (`initialDelaySeconds: 0`, `value: ''`): the same thing.
  if (live === undefined && (isEmpty(intent) || isZero(intent))) return [];
  if (Array.isArray(intent)) {
    if (!Array.isArray(live) || live.length !== intent.length) return [path || '.'];
    return intent.flatMap((item, i) => driftedFields(item, live[i], `${path}[${i}]`));
  }
  if (isPlainObject(intent)) {
    if (!isPlainObject(live)) return [path || '.'];
    return Object.entries(intent).flatMap(([k, v]) => driftedFields(v, live[k], path ? `${path}.${k}` : k));
  }
  return scalarsEqual(intent, live, path) ? [] : [path || '.'];
}

/**
 * Quantities come back normalised (`0.5` cpu is stored as `500m`, a size of
 * `1073741824` as `1Gi`), so values under resource requests and limits
 * compare as quantities, not strings. A quantity may be written as a number
 * (int-or-string): it comes back as a string.
 */
function scalarsEqual(a: unknown, b: unknown, path: string): boolean {
  if (a === b) return true;
  const x = typeof a === 'number' ? String(a) : a;
  const y = typeof b === 'number' ? String(b) : b;
  if (typeof x === 'string' && typeof y === 'string' && /(^|\.)(requests|limits|capacity)\./.test(path)) {
    try {
      return compareQuantities(x, y) === 0;
    } catch {
      return false;
    }
  }
  return false;
}

function isZero(v: unknown): boolean {
  return v === 0 || v === false || v === '';
}

function isEmpty(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).length === 0);
}

function annotationsOf(obj: object): Record<string, string> {
  return (obj as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations ?? {};
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Lists that server-side apply cannot repair alone. SSA merges a list-map by
 * key: when someone edits a Service port from 80 to 8081, the entry keyed 8081
 * belongs to them, and applying ours (keyed 80) adds a second port instead of
 * replacing theirs. For these lists the reconciler first replaces the whole
 * list with a merge patch, then applies as usual.
 */
export const EXCLUSIVE_LISTS: Readonly<Record<string, readonly string[]>> = { Service: ['spec.ports'] };

/** Paths of exclusive lists where the live object holds an entry the intent does not describe. */
export function foreignListPaths(kind: string, intent: object, live: object | undefined): string[] {
  if (!live) return [];
  return (EXCLUSIVE_LISTS[kind] ?? []).filter((path) => {
    const wanted = valueAt(intent, path);
    const actual = valueAt(live, path);
    if (!Array.isArray(wanted) || !Array.isArray(actual)) return false;
    return actual.some((entry) => !wanted.some((w) => driftedFields(w, entry).length === 0));
  });
}

/** `{spec: {ports: [...]}}` for path `spec.ports`: a merge patch that replaces that one field. */
export function patchReplacing(intent: object, path: string): object {
  const keys = path.split('.');
  return keys.reduceRight<unknown>((inner, key) => ({ [key]: inner }), valueAt(intent, path)) as object;
}

/** A copy of `obj` without the value at dotted `path` (the input is not modified). */
function withoutPath(obj: unknown, path: string): unknown {
  if (!isPlainObject(obj)) return obj;
  const [key, ...rest] = path.split('.') as [string, ...string[]];
  if (!(key in obj)) return obj;
  const { [key]: inner, ...others } = obj;
  return rest.length === 0 ? others : { ...others, [key]: withoutPath(inner, rest.join('.')) };
}

function valueAt(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (isPlainObject(v) ? v[k] : undefined), obj);
}
