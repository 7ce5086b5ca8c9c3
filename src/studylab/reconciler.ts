/**
 * The StudyLab reconciler: from one lab's spec and the cache, make the
 * children match, then report what is seen.
 *
 * Level-based: `reconcile` is told which lab, never what happened. It reads
 * the lab and its children from the cache, builds the desired children with
 * pure functions, writes only what differs (server-side apply under one field
 * manager), deletes children the spec no longer asks for, and writes status
 * only when it changed. A converged lab therefore costs no write at all.
 */
import type { V1Service } from '@kubernetes/client-node';
import type { StudyLab } from '../api/v1alpha1/index.js';
import {
  ConfigMaps,
  Deployments,
  NetworkPolicies,
  PersistentVolumeClaims,
  RecentWrites,
  Services,
  isNotFound,
  objectKey,
  requestKey,
  type Client,
  type EventRecorder,
  type KubeObject,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type ResourceType,
  type Result,
  type Store,
  type StoreReader,
} from '../runtime/index.js';
import { blockerEvent, observeBlockers } from './blockers.js';
import {
  buildDeployment,
  buildNetworkPolicy,
  buildPersistentVolumeClaim,
  buildService,
  serviceReplacementReason,
} from './builders/index.js';
import { FIELD_MANAGER } from './labels.js';
import { decideApply, foreignListPaths, patchReplacing, withIntentHash } from './intent.js';
import { computeStatus, statusChanges, statusEqual, type Observed } from './status.js';
import { missingConfigMapReferences, referencedConfigMaps, validateLab, type Problem } from './validation.js';
import { RepairBackoff } from './repair-backoff.js';
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
}

export interface StudyLabReconcilerDeps {
  client: Client;
  caches: StudyLabCaches;
  events: EventRecorder;
  now?: () => Date;
}

/** What one reconcile pass collects on its way through the children. */
interface Pass {
  /** Applies the API server refused. */
  applyErrors: Observed['applyErrors'];
  /** Set when a drift repair was backed off: reconcile again then. */
  retryAfterMs?: number;
}

/** While a referenced ConfigMap is missing nothing announces its arrival to us (we do not watch ConfigMaps), so look again. */
const MISSING_REFERENCE_RECHECK_MS = 15_000;

export class StudyLabReconciler implements Reconciler {
  private readonly now: () => Date;
  private readonly repairs: RepairBackoff;
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
    this.repairs = new RepairBackoff(() => this.now().getTime());
    this.labs = new RecentWrites(deps.caches.labs);
  }

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result> {
    const lab = this.labs.get(requestKey(req));
    // Deleted: owned children go with it through garbage collection; a retained claim stays, by design.
    if (!lab) return {};

    if (lab.spec.paused) {
      await this.writeStatus(lab, this.observeChildren(lab), ctx);
      return {};
    }

    const problems = [...validateLab(lab), ...(await this.checkReferences(lab))];
    if (problems.length > 0) {
      // Warn once per change, not on every resync: the condition keeps saying it meanwhile.
      if (await this.writeStatus(lab, { ...this.observeChildren(lab), problems }, ctx))
        this.warnInvalid(lab, problems);
      return problems.some((p) => p.reason === 'ConfigMapNotFound')
        ? { requeueAfterMs: MISSING_REFERENCE_RECHECK_MS }
        : {};
    }

    const pass: Pass = { applyErrors: [] };
    const observed = await this.reconcileChildren(lab, ctx, pass);
    const { caches, client } = this.deps;
    const { recheckAfterMs } = await observeBlockers(
      lab,
      observed,
      { pods: caches.pods, client },
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
    if (observed.applyErrors.length > 0) {
      // Status and an Event already say what failed; the error gets the child another try, with backoff.
      throw new Error(
        `apply failed: ${observed.applyErrors.map((e) => `${e.kind}: ${e.message}`).join('; ')}`,
      );
    }
    const after = Math.min(pass.retryAfterMs ?? Infinity, recheckAfterMs ?? Infinity);
    return after !== Infinity ? { requeueAfterMs: after } : {};
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

  /** Storage first (the Deployment mounts it), then the workload, its Service and its NetworkPolicy. */
  private async reconcileChildren(lab: StudyLab, ctx: ReconcileContext, pass: Pass): Promise<Observed> {
    const { caches } = this.deps;
    const observed: Observed = { problems: [], applyErrors: pass.applyErrors };

    if (lab.spec.storage) {
      const existing = this.child(caches.claims, lab);
      const { intent, refusal, inherited } = buildPersistentVolumeClaim(lab, existing);
      observed.storageRefusal = refusal;
      observed.pvc = await this.applyChild(
        PersistentVolumeClaims,
        intent,
        existing,
        lab,
        ctx,
        pass,
        inherited,
      );
    }

    const deployment = lab.spec.app ? buildDeployment(lab) : undefined;
    observed.deployment = await this.ensureChild(
      Deployments,
      deployment,
      this.child(caches.deployments, lab),
      lab,
      ctx,
      pass,
    );

    const service = buildService(lab);
    const liveService = await this.replaceImmutableService(
      lab,
      service,
      this.child(caches.services, lab),
      ctx,
    );
    observed.service = await this.ensureChild(Services, service, liveService, lab, ctx, pass);

    const policy = buildNetworkPolicy(lab);
    await this.ensureChild(NetworkPolicies, policy, this.child(caches.networkPolicies, lab), lab, ctx, pass);
    return observed;
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
    await this.deleteChild(Services, live, lab);
    this.deps.events.event(
      lab,
      'Normal',
      'ServiceReplaced',
      'Delete',
      `Replacing Service ${lab.metadata.name}: ${reason}`,
    );
    return undefined;
  }

  /** Applies the intent when there is one; otherwise deletes the child if this lab controls it. */
  private async ensureChild(
    type: ResourceType,
    intent: KubeObject | undefined,
    live: KubeObject | undefined,
    lab: StudyLab,
    ctx: ReconcileContext,
    pass: Pass,
  ): Promise<KubeObject | undefined> {
    if (intent) return this.applyChild(type, intent, live, lab, ctx, pass);
    if (live && isControlledBy(live, lab)) {
      ctx.log.info('deleting child the spec no longer asks for', { kind: type.kind });
      await this.deleteChild(type, live, lab);
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
  private async deleteChild(type: ResourceType, live: KubeObject, lab: StudyLab): Promise<void> {
    await this.deps.client.delete(type, lab.metadata.namespace, lab.metadata.name!, {
      preconditions: { uid: live.metadata!.uid! },
      propagationPolicy: 'Background',
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
    ctx: ReconcileContext,
    pass: Pass,
    unhashed: readonly string[] = [],
  ): Promise<KubeObject | undefined> {
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
    const repairKey = `${objectKey(lab)}/${type.kind}`;
    if (decision.reason === 'drift') {
      const waitMs = this.repairs.waitMs(repairKey);
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
          {
            type: 'merge',
            fieldManager: FIELD_MANAGER,
          },
        );
      }
      const applied = await this.deps.client.apply(type, desired, {
        fieldManager: FIELD_MANAGER,
        force: true,
      });
      if (decision.reason === 'drift') this.repairs.record(repairKey);
      this.recordApply(lab, type, decision.reason, decision.drifted);
      return applied;
    } catch (err) {
      if (isTransient(err)) throw err;
      const message = err instanceof Error ? err.message : String(err);
      pass.applyErrors.push({ kind: type.kind, message });
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

  private recordApply(lab: StudyLab, type: ResourceType, reason: string, drifted: string[]): void {
    const name = lab.metadata.name;
    if (reason === 'absent') {
      this.deps.events.event(lab, 'Normal', `${type.kind}Created`, 'Create', `Created ${type.kind} ${name}`);
    } else if (reason === 'drift') {
      this.deps.events.event(
        lab,
        'Normal',
        'DriftRepaired',
        'Update',
        `Restored ${type.kind} ${name}: ${drifted.join(', ')} had been changed`,
      );
    } else {
      this.deps.events.event(
        lab,
        'Normal',
        `${type.kind}Updated`,
        'Update',
        `Updated ${type.kind} ${name} to the new spec`,
      );
    }
  }

  /**
   * ConfigMaps the app references must exist, or its pods never start. They
   * are read directly (not cached: caching every ConfigMap of the cluster would
   * cost more memory than these few reads). Secrets are deliberately not
   * checked: the operator has no permission to read them.
   */
  private async checkReferences(lab: StudyLab): Promise<Problem[]> {
    const names = referencedConfigMaps(lab);
    if (names.length === 0) return [];
    const existing = new Set<string>();
    for (const name of names) {
      const cm = await this.deps.client.get(ConfigMaps, lab.metadata.namespace, name);
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
          status,
        },
        { fieldManager: FIELD_MANAGER, force: true, subresource: 'status' },
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

  private child(store: Store<KubeObject>, lab: StudyLab): KubeObject | undefined {
    // Children share the lab's namespace and name, so the lab's key is theirs.
    return store.get(objectKey(lab));
  }
}

function isControlledBy(child: KubeObject, lab: StudyLab): boolean {
  return child.metadata?.ownerReferences?.some((r) => r.controller && r.uid === lab.metadata.uid) ?? false;
}

/** Errors worth a rate-limited retry rather than a report: the API server is unavailable, throttling, or raced us. */
function isTransient(err: unknown): boolean {
  const status = (err as { status?: number }).status;
  return status === undefined || status === 409 || status === 429 || status >= 500;
}
