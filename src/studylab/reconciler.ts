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
import type { StudyLab } from '../api/v1alpha1/index.js';
import {
  ConfigMaps,
  Deployments,
  NetworkPolicies,
  PersistentVolumeClaims,
  Services,
  isNotFound,
  type Client,
  type EventRecorder,
  type KubeObject,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type ResourceType,
  type Result,
  type Store,
} from '../runtime/index.js';
import { buildDeployment, buildNetworkPolicy, buildPersistentVolumeClaim, buildService } from './builders/index.js';
import { FIELD_MANAGER } from './labels.js';
import { decideApply, withIntentHash } from './intent.js';
import { computeStatus, statusEqual, type Observed } from './status.js';
import { missingConfigMapReferences, validateLab, type Problem } from './validation.js';
import { StudyLabs } from './resources.js';

/** The caches the reconciler reads instead of the API server. */
export interface StudyLabCaches {
  labs: Store<StudyLab>;
  deployments: Store<KubeObject>;
  services: Store<KubeObject>;
  networkPolicies: Store<KubeObject>;
  claims: Store<KubeObject>;
}

export interface StudyLabReconcilerDeps {
  client: Client;
  caches: StudyLabCaches;
  events: EventRecorder;
  now?: () => Date;
}

/** While a referenced ConfigMap is missing nothing announces its arrival to us (we do not watch ConfigMaps), so look again. */
const MISSING_REFERENCE_RECHECK_MS = 15_000;

export class StudyLabReconciler implements Reconciler {
  private readonly now: () => Date;

  constructor(private readonly deps: StudyLabReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result> {
    const lab = this.deps.caches.labs.getByName(req.namespace, req.name);
    // Deleted: owned children go with it through garbage collection; a retained claim stays, by design.
    if (!lab) return {};

    if (lab.spec.paused) {
      await this.writeStatus(lab, { paused: true, problems: [] }, ctx);
      return {};
    }

    const problems = [...validateLab(lab), ...(await this.checkReferences(lab))];
    if (problems.length > 0) {
      this.warnInvalid(lab, problems);
      await this.writeStatus(lab, { problems }, ctx);
      return problems.some((p) => p.reason === 'ConfigMapNotFound') ? { requeueAfterMs: MISSING_REFERENCE_RECHECK_MS } : {};
    }

    const observed = await this.reconcileChildren(lab, ctx);
    await this.writeStatus(lab, observed, ctx);
    return {};
  }

  /** Storage first (the Deployment mounts it), then the workload, its Service and its NetworkPolicy. */
  private async reconcileChildren(lab: StudyLab, ctx: ReconcileContext): Promise<Observed> {
    const { caches } = this.deps;
    const applyErrors: Observed['applyErrors'] = [];
    const observed: Observed = { problems: [], applyErrors };

    if (lab.spec.storage) {
      const existing = this.child(caches.claims, lab);
      const { intent, refusal } = buildPersistentVolumeClaim(lab, existing);
      if (refusal) this.deps.events.event(lab, 'Warning', refusal.reason, 'Refuse', refusal.message);
      observed.storageRefusal = refusal;
      observed.pvc = await this.applyChild(PersistentVolumeClaims, intent, existing, lab, ctx, applyErrors);
    }

    const deployment = lab.spec.app ? buildDeployment(lab) : undefined;
    observed.deployment = await this.ensureChild(Deployments, deployment, caches.deployments, lab, ctx, applyErrors);
    observed.service = await this.ensureChild(Services, buildService(lab), caches.services, lab, ctx, applyErrors);
    await this.ensureChild(NetworkPolicies, buildNetworkPolicy(lab), caches.networkPolicies, lab, ctx, applyErrors);
    return observed;
  }

  /** Applies the intent when there is one; otherwise deletes the child if this lab controls it. */
  private async ensureChild(
    type: ResourceType,
    intent: KubeObject | undefined,
    store: Store<KubeObject>,
    lab: StudyLab,
    ctx: ReconcileContext,
    applyErrors: Observed['applyErrors'],
  ): Promise<KubeObject | undefined> {
    const live = this.child(store, lab);
    if (intent) return this.applyChild(type, intent, live, lab, ctx, applyErrors);
    if (live && isControlledBy(live, lab)) {
      ctx.log.info('deleting child the spec no longer asks for', { kind: type.kind });
      await this.deps.client.delete(type, lab.metadata.namespace, lab.metadata.name, {
        preconditions: { uid: live.metadata!.uid! },
        propagationPolicy: 'Background',
      });
      this.deps.events.event(lab, 'Normal', `${type.kind}Deleted`, 'Delete', `Deleted ${type.kind} ${lab.metadata.name}: the spec no longer asks for it`);
    }
    return undefined;
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
    applyErrors: Observed['applyErrors'],
  ): Promise<KubeObject | undefined> {
    const desired = withIntentHash(intent);
    const decision = decideApply(desired, live);
    if (!decision.apply) return live;
    ctx.log.debug('applying child', { kind: type.kind, reason: decision.reason, drifted: decision.drifted });
    try {
      const applied = await this.deps.client.apply(type, desired, { fieldManager: FIELD_MANAGER, force: true });
      this.recordApply(lab, type, decision.reason, decision.drifted);
      return applied;
    } catch (err) {
      if (isTransient(err)) throw err;
      const message = err instanceof Error ? err.message : String(err);
      applyErrors.push({ kind: type.kind, message });
      this.deps.events.event(lab, 'Warning', 'ApplyFailed', 'Apply', `${type.kind} ${lab.metadata.name}: ${message}`);
      return live;
    }
  }

  private recordApply(lab: StudyLab, type: ResourceType, reason: string, drifted: string[]): void {
    const name = lab.metadata.name;
    if (reason === 'absent') {
      this.deps.events.event(lab, 'Normal', `${type.kind}Created`, 'Create', `Created ${type.kind} ${name}`);
    } else if (reason === 'drift') {
      this.deps.events.event(lab, 'Normal', 'DriftRepaired', 'Update', `Restored ${type.kind} ${name}: ${drifted.join(', ')} had been changed`);
    } else {
      this.deps.events.event(lab, 'Normal', `${type.kind}Updated`, 'Update', `Updated ${type.kind} ${name} to the new spec`);
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
  private async writeStatus(lab: StudyLab, observed: Observed, ctx: ReconcileContext): Promise<void> {
    const status = computeStatus(lab, observed, this.now());
    if (statusEqual(lab.status, status)) return;
    ctx.log.debug('writing status', { phase: status.phase });
    try {
      await this.deps.client.apply(
        StudyLabs,
        { apiVersion: lab.apiVersion, kind: lab.kind, metadata: { name: lab.metadata.name, namespace: lab.metadata.namespace }, status },
        { fieldManager: FIELD_MANAGER, force: true, subresource: 'status' },
      );
    } catch (err) {
      // Deleted between the cache read and the write: nothing left to report on.
      if (!isNotFound(err)) throw err;
    }
  }

  private child(store: Store<KubeObject>, lab: StudyLab): KubeObject | undefined {
    return store.getByName(lab.metadata.namespace, lab.metadata.name);
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

function referencedConfigMaps(lab: StudyLab): string[] {
  const names = new Set<string>();
  for (const e of lab.spec.app?.env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    if (ref?.name && !ref.optional) names.add(ref.name);
  }
  for (const e of lab.spec.app?.envFrom ?? []) {
    const ref = e.configMapRef;
    if (ref?.name && !ref.optional) names.add(ref.name);
  }
  return [...names].sort();
}
