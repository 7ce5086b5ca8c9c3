/**
 * The last Warning Event of a Pending claim: why no volume is bound, in the
 * words of the PV controller or the provisioner ("storageclass.storage.k8s.io
 * "fast" not found", "waiting for a volume to be created...").
 *
 * Read once per reconcile, and only while the claim is Pending: a watch on
 * Events would cache every Event of the cluster (they are many, and most are
 * about pods), to explain the rare lab whose claim never binds. A Pending
 * claim is looked at again every CLAIM_PENDING_RECHECK_MS, since nothing we
 * watch announces a new Event; the claim binding is announced by its own watch.
 */
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { Client, KubeObject, ResourceType } from '../runtime/index.js';
import type { ClaimWarning } from './explain.js';

/** core/v1 Events: what the PV controller and external provisioners write (events.k8s.io shows the same objects). */
export const CoreEvents: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  namespaced: true,
};

/** How often a Pending claim's Events are read again. */
export const CLAIM_PENDING_RECHECK_MS = 15_000;

/** A claim younger than this is not asked about: most bind within seconds, and each read is a request. */
export const CLAIM_EVENTS_GRACE_MS = 5_000;

interface CoreEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  series?: { lastObservedTime?: string };
  firstTimestamp?: string;
}

/** Whether the claim is waiting for a volume (the only state whose Events we read). */
export function claimIsPending(claim: V1PersistentVolumeClaim | undefined): boolean {
  return claim !== undefined && claim.status?.phase !== 'Bound' && claim.status?.phase !== 'Lost';
}

/**
 * The newest Warning Event about this claim (this very claim: matched by UID,
 * so an Event left by an earlier claim of the same name is not taken for it).
 */
export async function lastClaimWarning(
  client: Pick<Client, 'list'>,
  claim: V1PersistentVolumeClaim,
  signal?: AbortSignal,
): Promise<ClaimWarning | undefined> {
  const namespace = claim.metadata?.namespace;
  const name = claim.metadata?.name;
  const uid = claim.metadata?.uid;
  if (!namespace || !name) return undefined;
  const selector = [
    'involvedObject.kind=PersistentVolumeClaim',
    `involvedObject.name=${name}`,
    ...(uid ? [`involvedObject.uid=${uid}`] : []),
    'type=Warning',
  ].join(',');
  const { items } = await client.list<CoreEvent>(CoreEvents, {
    namespace,
    fieldSelector: selector,
    ...(signal && { signal }),
  });
  const newest = newestOf(items);
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
