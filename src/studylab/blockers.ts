/**
 * What the reconciler gathers, beside its children, to explain a lab that is
 * not Ready (explain.ts): the lab's pods and a Pending claim's last Warning
 * Event from the caches, the taints of nodes from the API server. Best effort:
 * a failed read leaves the explanation without it, and never fails the reconcile.
 */
import type { StudyLab, StudyLabStatus } from '../api/v1alpha1/index.js';
import type { V1Node } from '@kubernetes/client-node';
import {
  errorFields,
  type Client,
  type Logger,
  type ResourceType,
  type StoreReader,
} from '../runtime/index.js';
import { claimIsPending, lastClaimWarning } from './claim-events.js';
import { ConditionType, Reason } from './conditions.js';
import {
  BLOCKING_REASONS,
  mentionsTaints,
  readinessRecheckMs,
  schedulerMessageOf,
  untoleratedTaintsOf,
  type BlockingReason,
} from './explain.js';
import { podsOfLab } from './pods.js';
import type { Observed } from './status.js';

const Nodes: ResourceType = { group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };

/** How often the taints are read again while the scheduler turns the pods away for a taint. */
export const TAINT_RECHECK_MS = 15_000;

export interface BlockerSources {
  /** The pods cache (indexed by POD_LAB_INDEX); without it the lab's pods are taken as unknown (none). */
  readonly pods?: StoreReader;
  /** Warning Events about claims, indexed by CLAIM_WARNING_INDEX; without it a Pending claim goes unexplained. */
  readonly claimWarnings?: StoreReader;
  /** For the nodes' taints; without it (a test's fake client) the explanation goes without them. */
  readonly lister?: Pick<Client, 'list'> | undefined;
}

/**
 * Fills `observed.pods` and, while the claim is Pending, `observed.claimWarning`.
 * Returns when to look again, if a change is due that no watch announces: a
 * readiness probe's grace running out, or the taints of nodes changing.
 */
export async function observeBlockers(
  lab: StudyLab,
  observed: Observed,
  sources: BlockerSources,
  ctx: { readonly log: Logger; readonly signal?: AbortSignal },
  now: Date,
): Promise<{ recheckAfterMs?: number }> {
  const rechecks: number[] = [];
  if (lab.spec.app && sources.pods) {
    observed.pods = podsOfLab(sources.pods, lab);
    const readiness = readinessRecheckMs(lab, observed.pods, now);
    if (readiness !== undefined) rechecks.push(readiness);
    const lister = sources.lister;
    if (lister && observed.pods.some((p) => mentionsTaints(schedulerMessageOf(p) ?? ''))) {
      // The scheduler no longer names the taint: read the nodes the pods may go to, and name it ourselves.
      try {
        observed.untoleratedTaints = await untoleratedTaints(lab, lister, ctx.signal);
      } catch (err) {
        ctx.log.info('could not read the taints of the nodes', errorFields(err));
      }
      rechecks.push(TAINT_RECHECK_MS);
    }
  }
  const claim = observed.pvc;
  if (lab.spec.storage && claimIsPending(claim) && sources.claimWarnings) {
    const warning = lastClaimWarning(sources.claimWarnings, claim);
    if (warning) observed.claimWarning = warning;
  }
  return rechecks.length > 0 ? { recheckAfterMs: Math.max(1, Math.min(...rechecks)) } : {};
}

/** The untolerated taints of the nodes the lab's nodeSelector allows (all nodes without one: one page). */
async function untoleratedTaints(
  lab: StudyLab,
  client: Pick<Client, 'list'>,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const selector = Object.entries(lab.spec.app?.nodeSelector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const { items } = await client.list<V1Node>(Nodes, {
    ...(selector && { labelSelector: selector }),
    limit: 500,
    ...(signal && { signal }),
  });
  return untoleratedTaintsOf(items, lab.spec.app?.tolerations ?? []);
}

/**
 * The Warning Event for a blocking reason that appears, or changes: once per
 * change of the Ready condition's reason or message, never for the same
 * explanation twice in a row. The recorder aggregates a repeat within its
 * window into the same Event's series.
 */
export function blockerEvent(
  before: StudyLabStatus | undefined,
  after: StudyLabStatus,
  observed: Pick<Observed, 'claimWarning'>,
): { reason: BlockingReason; note: string } | undefined {
  const ready = after.conditions?.find((c) => c.type === ConditionType.Ready);
  if (!ready || ready.status === 'True' || !isBlockingReason(ready.reason)) return undefined;
  // Every new claim is Pending for a moment: only one a provisioner complained about is worth a warning.
  if (ready.reason === Reason.ClaimPending && !observed.claimWarning) return undefined;
  const was = before?.conditions?.find((c) => c.type === ConditionType.Ready);
  if (was?.reason === ready.reason && was.message === ready.message) return undefined;
  return { reason: ready.reason, note: ready.message };
}

function isBlockingReason(reason: string): reason is BlockingReason {
  return (BLOCKING_REASONS as readonly string[]).includes(reason);
}
