/**
 * Equality of JSON-like values (objects as the API server sends them, or as code builds them to send):
 * the one deep comparison the runtime and the reconciler use, and the plain-object check it rests on.
 *
 * The semantics are JSON's, because what is compared is sent or received as JSON:
 * - Arrays are equal only element by element, in order: Kubernetes lists are ordered (containers,
 *   ports), and a status whose conditions moved is a status to write.
 * - Object keys are compared as sets: their order is not data.
 * - A key whose value is undefined is the same as a missing key: JSON carries no undefined, so an
 *   object built with `message: undefined` equals the one the API server sends back without it
 *   (node's isDeepStrictEqual tells the two apart).
 * - Keys are own enumerable string keys; prototypes are not compared.
 * - Anything else is compared with ===, so NaN equals nothing.
 *
 * Caveat: any non-array object counts as plain (that is all JSON produces), so class instances such as
 * Dates compare by their own enumerable keys, which two Dates do not have: keep them out.
 */

/** An object that is neither null nor an array: a JSON object, for values parsed from JSON. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether `a` and `b` are the same JSON value (see the module doc for what counts as the same). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]))
    );
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keysA = definedKeys(a);
    const keysB = definedKeys(b);
    return keysA.length === keysB.length && keysA.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function definedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o).filter((k) => o[k] !== undefined);
}
