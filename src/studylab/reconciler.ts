/**
 * The StudyLab reconciler: from one lab's spec and the cache, make the
 * children match, then report what is seen.
 *
 * Level-based: `reconcile` is told which lab, never what happened. It reads
 * the lab and its children from the cache, builds the desired children with
 * pure functions, writes only what differs (server-side apply under one field
 * manager), deletes children the spec no longer asks for, and writes status
 * only when it changed. A converged lab therefore costs no write at all.
 *
 * Guarantees:
 * - Nothing is written to an object that is not the lab's (ownership.ts): a
 *   taken name is reported as ChildConflict and looked at again with backoff.
 * - A lab with a deletionTimestamp gets no write at all: no apply, no delete,
 *   no status. The garbage collector removes its children (Retain claims
 *   stay), and a write would only fight it.
 * - Every request takes the reconcile's signal, so a lost Lease or a shutdown
 *   aborts what is in flight.
 *
 * Caveats: the cache of labs and the caches of children are fed by separate
 * watches. If a child's deletion by the garbage collector reaches us before
 * the lab's deletionTimestamp does, one reconcile can still see a live lab
 * with a missing child and re-create it; the collector then removes it again.
 */
import type { V1Service } from '@kubernetes/client-node';
import type { StudyLab } from '../api/v1alpha1/index.js';
import {
  ApiError,
  ConfigMaps,
  Deployments,
  NetworkPolicies,
  PersistentVolumeClaims,
  RecentWrites,
  Services,
  isNotFound,
  type EventSink,
  type KubeObject,
  type ObjectClient,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type ResourceType,
  type Result,
  type Store,
  type StoreReader,
} from '../runtime/index.js';
import { objectKey, requestKey } from '../runtime/keys.js';
import { blockerEvent, observeBlockers, type BlockerSources } from './blockers.js';
import {
  buildDeployment,
  buildNetworkPolicy,
  buildPersistentVolumeClaim,
  buildService,
  serviceReplacementReason,
} from './builders/index.js';
import { Reason } from './conditions.js';
import { FIELD_MANAGER } from './labels.js';
import { joinWords } from './text.js';
import { decideApply, foreignListPaths, patchReplacing, withIntentHash } from './intent.js';
import { conflictOf, describeConflicts, isControlledBy, type ChildConflict } from './ownership.js';
import { computeStatus, ownedStatus, statusChanges, statusEqual, type Observed } from './status.js';
import { missingConfigMapReferences, referencedConfigMaps, validateLab, type Problem } from './validation.js';
import { RepairBackoff, type RepairBackoffOptions } from './repair-backoff.js';
import { StudyLabs } from './resources.js';

/** The caches the reconciler reads instead of the API server. */
export interface StudyLabCaches {
  labs: Store<StudyLab>;
  deployments: Store<KubeObject>;
  services: Store<KubeObject>;
  networkPolicies: Store<KubeObject>;
  claims: Store<KubeObject>;
  /** The lab's pods, slimmed and indexed by lab (pods.ts); without it status cannot explain pods. */
  pods?: StoreReader;
  /** Warning Events about claims, indexed by claim (claim-events.ts); without it a Pending claim goes unexplained. */
  claimWarnings?: StoreReader;
}

export interface StudyLabReconcilerDeps {
  /** Writes, and reads of what is not cached; every call gets the reconcile's signal. */
  client: ObjectClient;
  /**
   * Lists made only to explain a lab that is not Ready (the taints of nodes); without it the
   * explanation goes without them.
   */
  lister?: BlockerSources['lister'];
  caches: StudyLabCaches;
  events: EventSink;
  now?: () => Date;
}

/** What one reconcile pass collects on its way through the children. */
interface Pass {
  readonly ctx: ReconcileContext;
  /** Applies the API server refused. */
  applyErrors: Observed['applyErrors'];
  /** Children whose name is taken by an object that is not the lab's. */
  conflicts: ChildConflict[];
  /** Kinds created, and kinds updated to a new intent, in this pass: one Event for each list. */
  created: string[];
  updated: string[];
  /** Set when a drift repair was backed off: reconcile again then. */
  retryAfterMs?: number;
  /** By kind, what one GET found under the lab's name for each child the cache did not have. */
  uncached: Map<string, KubeObject | undefined>;
}

/** The outcome of looking for a child under the lab's name when the object there is not the lab's. */
const TAKEN = Symbol('taken');

/** While a referenced ConfigMap is missing nothing announces its arrival to us (we do not watch ConfigMaps), so look again. */
const MISSING_REFERENCE_RECHECK_MS = 15_000;

/**
 * How often a lab looks again at a child name taken by an object that is not its own. Such an
 * object is not in our label-filtered caches, so its deletion sends us no event: we poll, from 1 s
 * up to 30 s between looks (a GET each).
 */
export const CONFLICT_RECHECK: RepairBackoffOptions = { baseMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

export class StudyLabReconciler implements Reconciler {
  private readonly now: () => Date;
  private readonly repairs: RepairBackoff;
  private readonly conflictChecks: RepairBackoff;
  /**
   * The labs as the cache has them, or as our last status write returned them
   * while the cache has not seen that write. Status events do not trigger a
   * reconcile (generationChanged), so the next reconcile is usually started by
   * a child's event and can begin before our status write reaches the cache:
   * without this it compares with the old status and writes the same one again.
   */
  private readonly labs: RecentWrites<StudyLab>;

  constructor(private readonly deps: StudyLabReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
    const clock = (): number => this.now().getTime();
    this.repairs = new RepairBackoff(clock);
    this.conflictChecks = new RepairBackoff(clock, CONFLICT_RECHECK);
    this.labs = new RecentWrites(deps.caches.labs);
  }

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result> {
    const key = requestKey(req);
    const lab = this.labs.get(key);
    if (!lab || lab.metadata.deletionTimestamp) {
      // Gone, or going: the garbage collector removes the owned children (foreground or background) and a
      // retained claim stays, by design. Any write now would fight it: re-create a child it just removed.
      this.repairs.forget(key);
      this.conflictChecks.forget(key);
      if (lab) ctx.log.debug('lab is being deleted: nothing to do');
      return {};
    }
    try {
      return await this.reconcileLab(lab, ctx);
    } catch (err) {
      // The namespace is going away with the lab in it: nothing more can be created there, nor needs to be.
      if (isNamespaceTerminating(err)) {
        ctx.log.debug('namespace is terminating: nothing to do');
        return {};
      }
      throw err;
    }
  }

  private async reconcileLab(lab: StudyLab, ctx: ReconcileContext): Promise<Result> {
    if (lab.spec.paused) {
      await this.writeStatus(lab, this.observeChildren(lab), ctx);
      return {};
    }

    const problems = [...validateLab(lab), ...(await this.checkReferences(lab, ctx.signal))];
    if (problems.length > 0) {
      // Warn once per change, not on every resync: the condition keeps saying it meanwhile.
      if (await this.writeStatus(lab, { ...this.observeChildren(lab), problems }, ctx))
        this.warnInvalid(lab, problems);
      return problems.some((p) => p.reason === 'ConfigMapNotFound')
        ? { requeueAfterMs: MISSING_REFERENCE_RECHECK_MS }
        : {};
    }

    const pass: Pass = { ctx, applyErrors: [], conflicts: [], created: [], updated: [], uncached: new Map() };
    const observed = await this.reconcileChildren(lab, pass);
    this.announceApplies(lab, pass);
    const { caches, lister } = this.deps;
    const { recheckAfterMs } = await observeBlockers(
      lab,
      observed,
      { pods: caches.pods, claimWarnings: caches.claimWarnings, lister },
      ctx,
      this.now(),
    );
    // A repair was backed off: someone keeps changing a child, and each change rolls it (Progressing,
    // then Ready again). Reporting every swing would make our status writes as fast as their edits, the
    // hot loop the backoff exists to prevent; status is written with the repair instead. A new
    // generation (the user asked for something) is still reported at once.
    const fighting =
      pass.retryAfterMs !== undefined && lab.status?.observedGeneration === lab.metadata.generation;
    if (fighting) ctx.log.debug('status write deferred to the backed-off repair');
    const changed = fighting ? false : await this.writeStatus(lab, observed, ctx);
    const refusal = observed.storageRefusal;
    if (changed && refusal) this.deps.events.event(lab, 'Warning', refusal.reason, 'Refuse', refusal.message);
    if (changed && pass.conflicts.length > 0) {
      this.deps.events.event(
        lab,
        'Warning',
        Reason.ChildConflict,
        'Apply',
        describeConflicts(pass.conflicts),
      );
    }
    if (observed.applyErrors.length > 0) {
      // Status and an Event already say what failed; the error gets the child another try, with backoff.
      const errors = observed.applyErrors.map((e) => e.error);
      throw new Error(
        `apply failed: ${observed.applyErrors.map((e) => `${e.kind}: ${e.message}`).join('; ')}`,
        { cause: errors.length === 1 ? errors[0] : new AggregateError(errors) },
      );
    }
    return this.next(lab, pass, recheckAfterMs);
  }

  /**
   * When to look again: after a backed-off repair, while a name is taken after the conflict backoff, or
   * when something that explains the lab is due to change unannounced (observeBlockers).
   */
  private next(lab: StudyLab, pass: Pass, recheckAfterMs?: number): Result {
    const key = objectKey(lab);
    let after = minOf(pass.retryAfterMs, recheckAfterMs);
    if (pass.conflicts.length > 0) {
      this.conflictChecks.record(key, 'conflict');
      after = minOf(after, this.conflictChecks.waitMs(key, 'conflict'));
    } else {
      this.conflictChecks.forget(key);
    }
    return after !== undefined ? { requeueAfterMs: after } : {};
  }

  /** The children as the cache has them, for a status written without touching them (paused, invalid). */
  private observeChildren(lab: StudyLab): Observed {
    const { caches } = this.deps;
    return {
      deployment: this.child(caches.deployments, lab),
      service: this.child(caches.services, lab),
      pvc: this.child(caches.claims, lab),
      problems: [],
      applyErrors: [],
    };
  }

  /**
   * Storage first (the Deployment mounts it), then the workload, its Service and its NetworkPolicy,
   * one after another. Applying the four at once was tried (bench/README.md, 2026-12-07): 1000 new
   * labs were all reconciled sooner, but each reconcile ended before its children's own events came
   * back, so each came back as a reconcile of its own: 3.3-3.6 reconciles and 7.5 writes per lab
   * against 2.3 and 7.2, and every lab Ready later. The look-ups before them (ownChild) cause no
   * events, so those do go out together.
   */
  private async reconcileChildren(lab: StudyLab, pass: Pass): Promise<Observed> {
    const { caches } = this.deps;
    const observed: Observed = { problems: [], applyErrors: pass.applyErrors, conflicts: pass.conflicts };
    const deployment = lab.spec.app ? buildDeployment(lab) : undefined;
    const service = buildService(lab);
    const policy = buildNetworkPolicy(lab);
    // Only for the children the spec asks for: one it does not ask for is deleted only if the cache
    // holds it as ours, so looking it up would be a read (a 404) on every reconcile of such a lab.
    await this.lookUpUncached(lab, pass, [
      [PersistentVolumeClaims, caches.claims, Boolean(lab.spec.storage)],
      [Deployments, caches.deployments, Boolean(deployment)],
      [Services, caches.services, Boolean(service)],
      [NetworkPolicies, caches.networkPolicies, Boolean(policy)],
    ]);

    if (lab.spec.storage) {
      const existing = await this.ownChild(PersistentVolumeClaims, caches.claims, lab, pass);
      if (existing !== TAKEN) {
        const { intent, refusal, inherited } = buildPersistentVolumeClaim(lab, existing);
        observed.storageRefusal = refusal;
        observed.pvc = await this.applyChild(PersistentVolumeClaims, intent, existing, lab, pass, inherited);
      }
    }

    observed.deployment = await this.ensureChild(Deployments, deployment, caches.deployments, lab, pass);
    observed.service = await this.ensureChild(Services, service, caches.services, lab, pass, (live) =>
      this.replaceImmutableService(lab, service, live, pass.ctx),
    );

    await this.ensureChild(NetworkPolicies, policy, caches.networkPolicies, lab, pass);
    return observed;
  }

  /**
   * The lab's child of `type`: from the cache, or, when the cache has none, from one GET by name.
   * The caches hold only objects with our labels, so "absent" there may be a name taken by an object
   * someone else made; an apply would then force our fields onto it. The GET costs one read per
   * absent child (a new lab's first reconcile) and tells the two apart. The window between that read
   * and our apply remains: an object created in it would be taken over.
   *
   * Returns undefined when the name is free, TAKEN (and records the conflict) when the object there
   * is not the lab's (ownership.ts).
   */
  private async ownChild(
    type: ResourceType,
    store: Store<KubeObject>,
    lab: StudyLab,
    pass: Pass,
  ): Promise<KubeObject | undefined | typeof TAKEN> {
    const found =
      store.get(objectKey(lab)) ??
      (pass.uncached.has(type.kind) ? pass.uncached.get(type.kind) : await this.getChild(type, lab, pass));
    if (!found) return undefined;
    const conflict = conflictOf(found, type.kind, lab);
    if (!conflict) return found;
    pass.ctx.log.info("child name taken by an object that is not the lab's", {
      kind: type.kind,
      cause: conflict.cause,
    });
    if (pass.ctx.trace?.enabled)
      pass.ctx.trace.step('diff', { kind: type.kind, apply: false, reason: 'conflict' });
    pass.conflicts.push(conflict);
    return TAKEN;
  }

  /**
   * One GET for each child the lab asks for that the cache lacks, all at once (a new lab's first
   * reconcile: four reads in one round trip instead of four), kept in `pass.uncached` for ownChild.
   */
  private async lookUpUncached(
    lab: StudyLab,
    pass: Pass,
    children: readonly (readonly [ResourceType, Store<KubeObject>, boolean])[],
  ): Promise<void> {
    const missing = children.filter(([, store, wanted]) => wanted && !store.get(objectKey(lab)));
    const found = await Promise.all(missing.map(([type]) => this.getChild(type, lab, pass)));
    missing.forEach(([type], i) => pass.uncached.set(type.kind, found[i]));
  }

  /**
   * A quorum read (no resourceVersion), on purpose. `resourceVersion=0` is served by the API server's
   * watch cache, which may lag etcd: a name taken a moment before the lab was created could read as
   * free, and the apply would take the object over. `resourceVersion` = the lab's (anything at least as
   * new as the lab) is safe and also served from the cache, but the cache of a kind nobody is writing
   * must first hear from etcd that it is current: on the local plane that took 90-95 ms per read,
   * against 2-4 ms for the quorum read (bench/README.md, 2026-12-07).
   */
  private getChild(type: ResourceType, lab: StudyLab, pass: Pass): Promise<KubeObject | undefined> {
    return this.deps.client.get(type, lab.metadata.namespace, lab.metadata.name!, {
      signal: pass.ctx.signal,
    });
  }

  /**
   * A Service's clusterIP is immutable, so ClusterIP <-> Headless cannot be
   * applied: the Service is deleted and created again. Returns the live
   * Service to compare with, undefined once it was deleted.
   */
  private async replaceImmutableService(
    lab: StudyLab,
    intent: V1Service | undefined,
    live: V1Service | undefined,
    ctx: ReconcileContext,
  ): Promise<V1Service | undefined> {
    const reason = intent && serviceReplacementReason(intent, live);
    if (!reason || !live || !isControlledBy(live, lab)) return live;
    ctx.log.info('replacing Service', { reason });
    await this.deleteChild(Services, live, lab, ctx.signal);
    this.deps.events.event(
      lab,
      'Normal',
      'ServiceReplaced',
      'Delete',
      `Replacing Service ${lab.metadata.name}: ${reason}`,
    );
    return undefined;
  }

  /**
   * Applies the intent when there is one, to the lab's own child or where the name is free (never
   * onto a taken name); otherwise deletes the child if this lab controls it. `prepare` may replace
   * the live child before the apply (see replaceImmutableService).
   */
  private async ensureChild(
    type: ResourceType,
    intent: KubeObject | undefined,
    store: Store<KubeObject>,
    lab: StudyLab,
    pass: Pass,
    prepare?: (live: KubeObject | undefined) => Promise<KubeObject | undefined>,
  ): Promise<KubeObject | undefined> {
    const { ctx } = pass;
    if (intent) {
      const owned = await this.ownChild(type, store, lab, pass);
      if (owned === TAKEN) return undefined;
      const live = prepare ? await prepare(owned) : owned;
      return this.applyChild(type, intent, live, lab, pass);
    }
    const live = this.child(store, lab);
    if (live && isControlledBy(live, lab)) {
      ctx.log.info('deleting child the spec no longer asks for', { kind: type.kind });
      await this.deleteChild(type, live, lab, ctx.signal);
      this.deps.events.event(
        lab,
        'Normal',
        `${type.kind}Deleted`,
        'Delete',
        `Deleted ${type.kind} ${lab.metadata.name}: the spec no longer asks for it`,
      );
    }
    return undefined;
  }

  /** Deletes exactly the object we looked at: the UID precondition protects a newer object of the same name. */
  private async deleteChild(
    type: ResourceType,
    live: KubeObject,
    lab: StudyLab,
    signal: AbortSignal,
  ): Promise<void> {
    await this.deps.client.delete(type, lab.metadata.namespace, lab.metadata.name!, {
      preconditions: { uid: live.metadata!.uid! },
      propagationPolicy: 'Background',
      signal,
    });
  }

  /**
   * Server-side apply, only when the cache shows the child absent, drifted or
   * built from another intent. An API error (a webhook, a quota, an immutable
   * field) is recorded for status and an Event, not thrown: the other children
   * still get their turn, and status tells the user which one failed and why.
   */
  private async applyChild(
    type: ResourceType,
    intent: KubeObject,
    live: KubeObject | undefined,
    lab: StudyLab,
    pass: Pass,
    unhashed: readonly string[] = [],
  ): Promise<KubeObject | undefined> {
    const { ctx } = pass;
    const labKey = objectKey(lab);
    const desired = withIntentHash(intent, unhashed);
    const decision = decideApply(desired, live);
    if (ctx.trace?.enabled) {
      ctx.trace.step('diff', {
        kind: type.kind,
        apply: decision.apply,
        reason: decision.reason,
        ...(decision.drifted.length > 0 ? { drifted: decision.drifted } : {}),
      });
    }
    if (!decision.apply) return live;
    if (decision.reason === 'drift') {
      const waitMs = this.repairs.waitMs(labKey, type.kind);
      if (waitMs > 0) {
        // Someone keeps changing what we set: repair later, so the fight goes at our pace, not theirs.
        ctx.log.info('drift repair backed off', { kind: type.kind, drifted: decision.drifted, waitMs });
        pass.retryAfterMs = Math.min(pass.retryAfterMs ?? waitMs, waitMs);
        return live;
      }
    }
    ctx.log.debug('applying child', { kind: type.kind, reason: decision.reason, drifted: decision.drifted });
    try {
      for (const path of foreignListPaths(type.kind, desired, live)) {
        ctx.log.debug('replacing a list another manager changed', { kind: type.kind, path });
        await this.deps.client.patch(
          type,
          lab.metadata.namespace,
          lab.metadata.name!,
          patchReplacing(desired, path),
          { type: 'merge', fieldManager: FIELD_MANAGER, signal: ctx.signal },
        );
      }
      const applied = await this.deps.client.apply(type, desired, {
        fieldManager: FIELD_MANAGER,
        force: true,
        signal: ctx.signal,
      });
      if (decision.reason === 'drift') this.repairs.record(labKey, type.kind);
      this.recordApply(lab, type, decision.reason, decision.drifted, pass);
      return applied;
    } catch (err) {
      if (!isRefusal(err)) throw err;
      const message = err.message;
      pass.applyErrors.push({ kind: type.kind, message, error: err });
      this.deps.events.event(
        lab,
        'Warning',
        'ApplyFailed',
        'Apply',
        `${type.kind} ${lab.metadata.name}: ${message}`,
      );
      return live;
    }
  }

  /**
   * A drift repair is told at once, with what had drifted: each is a cause of its own. Creations and
   * updates to a new spec are collected, and told as one Event per pass (announceApplies): an Event
   * is a write, and a new lab's four "Created" Events were 40% of its writes.
   */
  private recordApply(
    lab: StudyLab,
    type: ResourceType,
    reason: string,
    drifted: string[],
    pass: Pass,
  ): void {
    if (reason === 'absent') {
      pass.created.push(type.kind);
    } else if (reason === 'drift') {
      this.deps.events.event(
        lab,
        'Normal',
        'DriftRepaired',
        'Update',
        `Restored ${type.kind} ${lab.metadata.name}: ${drifted.join(', ')} had been changed`,
      );
    } else {
      pass.updated.push(type.kind);
    }
  }

  /** "Created PersistentVolumeClaim, Deployment, Service and NetworkPolicy web", in the order they were applied. */
  private announceApplies(lab: StudyLab, pass: Pass): void {
    const name = lab.metadata.name ?? '';
    if (pass.created.length > 0) {
      this.deps.events.event(
        lab,
        'Normal',
        Reason.Created,
        'Create',
        `Created ${joinWords(pass.created)} ${name}`,
      );
    }
    if (pass.updated.length > 0) {
      const generation = lab.metadata.generation ?? '?';
      const note = `Updated ${joinWords(pass.updated)} ${name} to generation ${generation} of the spec`;
      this.deps.events.event(lab, 'Normal', Reason.Updated, 'Update', note);
    }
  }

  /**
   * ConfigMaps the app references must exist, or its pods never start. They
   * are read directly (not cached: caching every ConfigMap of the cluster would
   * cost more memory than these few reads). Secrets are deliberately not
   * checked: the operator has no permission to read them.
   */
  private async checkReferences(lab: StudyLab, signal: AbortSignal): Promise<Problem[]> {
    const names = referencedConfigMaps(lab);
    if (names.length === 0) return [];
    const existing = new Set<string>();
    for (const name of names) {
      const cm = await this.deps.client.get(ConfigMaps, lab.metadata.namespace, name, { signal });
      if (cm) existing.add(name);
    }
    return missingConfigMapReferences(lab, existing);
  }

  private warnInvalid(lab: StudyLab, problems: Problem[]): void {
    const summary = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    this.deps.events.event(lab, 'Warning', 'InvalidSpec', 'Validate', summary);
  }

  /** Writes status only when it differs from what the lab already shows. */
  private async writeStatus(lab: StudyLab, observed: Observed, ctx: ReconcileContext): Promise<boolean> {
    const status = computeStatus(lab, observed, this.now());
    const same = statusEqual(lab.status, status);
    if (ctx.trace?.enabled) {
      ctx.trace.step(
        'status',
        same ? { write: false } : { write: true, changes: statusChanges(lab.status, status) },
      );
    }
    if (same) return false;
    ctx.log.debug('writing status', { phase: status.phase });
    try {
      const written = await this.deps.client.apply(
        StudyLabs,
        {
          apiVersion: lab.apiVersion,
          kind: lab.kind,
          metadata: { name: lab.metadata.name, namespace: lab.metadata.namespace },
          status: ownedStatus(status),
        },
        { fieldManager: FIELD_MANAGER, force: true, subresource: 'status', signal: ctx.signal },
      );
      // The server answers with the whole lab as stored, spec and new resourceVersion included.
      this.labs.record(written as unknown as StudyLab);
      const warning = blockerEvent(lab.status, status, observed);
      if (warning) this.deps.events.event(lab, 'Warning', warning.reason, 'Observe', warning.note);
      return true;
    } catch (err) {
      // Deleted between the cache read and the write: nothing left to report on.
      if (!isNotFound(err)) throw err;
      return false;
    }
  }

  /** The lab's child as the cache has it; an object there that is not the lab's is not its child. */
  private child(store: Store<KubeObject>, lab: StudyLab): KubeObject | undefined {
    // Children share the lab's namespace and name, so the lab's key is theirs.
    const obj = store.get(objectKey(lab));
    return obj && !conflictOf(obj, obj.kind ?? '', lab) ? obj : undefined;
  }
}

/**
 * An answer of the API server that retrying will not change (invalid, forbidden, immutable): it is
 * reported in status and an Event. Anything else (unavailable, throttled, raced, no answer, aborted)
 * is thrown, for a rate-limited retry.
 */
function isRefusal(err: unknown): err is ApiError {
  return (
    err instanceof ApiError &&
    err.status !== 409 &&
    err.status !== 429 &&
    err.status < 500 &&
    !isNamespaceTerminating(err)
  );
}

/** 403 with cause NamespaceTerminating: the namespace is being deleted and takes no new objects. */
function isNamespaceTerminating(err: unknown): boolean {
  if (!(err instanceof ApiError) || err.status !== 403) return false;
  const causes = (err.body as { details?: { causes?: { reason?: string }[] } } | undefined)?.details?.causes;
  return causes?.some((c) => c.reason === 'NamespaceTerminating') ?? false;
}

function minOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}
