/**
 * The last Warning Event of a Pending claim: why no volume is bound, in the
 * words of the PV controller or the provisioner ("storageclass.storage.k8s.io
 * "fast" not found", "waiting for a volume to be created...").
 *
 * Watched, not listed: the API server keeps no watch cache of Events, so a list
 * with a field selector reads every Event of the namespace from etcd and filters
 * them one by one. Listing a Pending claim's Warnings cost the API server 13 ms
 * and etcd 3.5 ms in a namespace of 1000 Events (bench/request-costs.ts), against
 * 1.2 ms for a GET, and a storm of new labs has many claims Pending for seconds.
 * A watch narrowed by the same field selector (Warnings about claims: few, in a
 * healthy cluster none) is read from the cache instead, costs the API server one
 * filter per Event written, and wakes the lab when a new Warning comes, so a
 * Pending claim needs no polling.
 */
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { KubeObject, Request, ResourceType, StoreReader } from '../runtime/index.js';
import { labNamedBy } from './labels.js';
import type { ClaimWarning } from './explain.js';

/** core/v1 Events: what the PV controller and external provisioners write (events.k8s.io shows the same objects). */
export const CoreEvents: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  namespaced: true,
};

/** The Events the cache holds: Warnings about claims, whoever wrote them. */
export const CLAIM_WARNINGS_SELECTOR = 'involvedObject.kind=PersistentVolumeClaim,type=Warning';

/** The claim-warnings cache's index: an Event filed under the UID of the claim it is about. */
export const CLAIM_WARNING_INDEX = 'studylab-claim-uid';

/** A message longer than this is cut in the cache: status shows one line of it (explain.ts). */
const MAX_CACHED_MESSAGE = 1024;

interface CoreEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  involvedObject?: { kind?: string; namespace?: string; name?: string; uid?: string };
  lastTimestamp?: string;
  eventTime?: string;
  series?: { lastObservedTime?: string };
  firstTimestamp?: string;
}

/** Whether the claim is waiting for a volume (the only state whose Events we read). */
export function claimIsPending(claim: V1PersistentVolumeClaim | undefined): claim is V1PersistentVolumeClaim {
  return claim !== undefined && claim.status?.phase !== 'Bound' && claim.status?.phase !== 'Lost';
}

/** For the cache: file an Event under its claim's UID (an Event of an earlier claim of the same name has another). */
export function claimWarningIndex(event: KubeObject): string[] {
  const uid = (event as CoreEvent).involvedObject?.uid;
  return uid ? [uid] : [];
}

/** What the cache keeps of an Event: what it is about, why, and when. */
export function slimClaimEvent(obj: KubeObject): KubeObject {
  const e = obj as CoreEvent;
  const { name, namespace, uid, resourceVersion } = e.metadata ?? {};
  const slim: CoreEvent = {
    metadata: { name, namespace, uid, resourceVersion },
    ...(e.involvedObject && {
      involvedObject: {
        kind: e.involvedObject.kind,
        namespace: e.involvedObject.namespace,
        name: e.involvedObject.name,
        uid: e.involvedObject.uid,
      },
    }),
    ...(e.type && { type: e.type }),
    ...(e.reason && { reason: e.reason }),
    ...(e.message && { message: e.message.slice(0, MAX_CACHED_MESSAGE) }),
    ...(e.series?.lastObservedTime && { series: { lastObservedTime: e.series.lastObservedTime } }),
    ...(e.lastTimestamp && { lastTimestamp: e.lastTimestamp }),
    ...(e.eventTime && { eventTime: e.eventTime }),
    ...(e.firstTimestamp && { firstTimestamp: e.firstTimestamp }),
  };
  return slim;
}

/** A Warning about a claim wakes the lab the claim belongs to, found in the claims cache by the claim's name. */
export function labOfClaimEvent(claims: Pick<StoreReader, 'getByName'>): (event: KubeObject) => Request[] {
  return (event) => {
    const about = (event as CoreEvent).involvedObject;
    const namespace = about?.namespace ?? event.metadata?.namespace;
    if (!namespace || !about?.name) return [];
    const claim = claims.getByName(namespace, about.name);
    return claim ? labNamedBy(claim) : [];
  };
}

/**
 * The newest Warning Event about this claim, from the cache (this very claim: matched by UID, so an
 * Event left by an earlier claim of the same name is not taken for it).
 */
export function lastClaimWarning(
  warnings: Pick<StoreReader, 'byIndex'>,
  claim: V1PersistentVolumeClaim,
): ClaimWarning | undefined {
  const uid = claim.metadata?.uid;
  if (!uid) return undefined;
  const newest = newestOf(warnings.byIndex(CLAIM_WARNING_INDEX, uid));
  if (!newest?.reason) return undefined;
  return { reason: newest.reason, message: newest.message ?? '' };
}

function newestOf(events: readonly CoreEvent[]): CoreEvent | undefined {
  let best: CoreEvent | undefined;
  let bestTime = -Infinity;
  for (const e of events) {
    const stamp = e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp;
    const time = stamp ? Date.parse(stamp) : NaN;
    const at = Number.isNaN(time) ? -Infinity : time;
    if (!best || at >= bestTime) {
      best = e;
      bestTime = at;
    }
  }
  return best;
}
