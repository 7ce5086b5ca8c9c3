/**
 * Object keys: the one codec between an object's namespace and name and the string the caches index by
 * and the work queue holds, 'namespace/name', or 'name' for a cluster-scoped object (client-go's
 * MetaNamespaceKeyFunc). A Request and the object it names have the same key, so a cache lookup by a
 * Request's key finds its object.
 *
 * Assumptions: neither a namespace nor a name contains '/' (the API server refuses such names), so a
 * key splits back at its first slash. An empty namespace counts as none.
 */
import type { Request } from './reconcile.js';
import type { KubeObject } from './resources.js';

/** 'namespace/name', or 'name' for a cluster-scoped Request: the key the work queue holds. */
export function requestKey(req: Request): string {
  return req.namespace ? `${req.namespace}/${req.name}` : req.name;
}

/** The inverse of requestKey. */
export function requestFromKey(key: string): Request {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The Request naming `obj`, or undefined for an object without a name (nothing can look it up). */
export function requestOf(obj: KubeObject): Request | undefined {
  const name = obj.metadata?.name;
  if (!name) return undefined;
  const namespace = obj.metadata?.namespace;
  return namespace ? { namespace, name } : { name };
}

/** The cache and queue key of `obj`: requestKey of the Request naming it. Throws for an object without a name. */
export function objectKey(obj: KubeObject): string {
  const req = requestOf(obj);
  if (!req) throw new TypeError(`objectKey: object of kind ${obj.kind ?? '?'} has no metadata.name`);
  return requestKey(req);
}
