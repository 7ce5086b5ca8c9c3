/**
 * The fluent wiring of a controller: which kinds it watches and how their events become keys. It needs
 * both the manager (its informers, metrics, logger) and the controller, so it sits above them: neither
 * imports it.
 */
import { Controller, type ControllerOptions } from './controller.js';
import { enqueueControllerOwner, enqueueObject, type MapFunc } from './handlers.js';
import type { Manager } from './manager.js';
import type { Predicate } from './predicates.js';
import type { Reconciler, Request } from './reconcile.js';
import type { KubeObject, ResourceType } from './resources.js';
import { informerSource, type Source } from './sources.js';

/**
 * Builds a Controller in controller-runtime's shape and registers it with a Manager:
 *
 *   new ControllerBuilder(mgr, 'studylab')
 *     .for(StudyLabs, { predicates: [generationChanged] })
 *     .owns(Deployments)
 *     .complete(reconciler);
 */
export class ControllerBuilder {
  private primary: { type: ResourceType; predicates: readonly Predicate<KubeObject>[] } | undefined;
  private readonly owned: { type: ResourceType; predicates: readonly Predicate<KubeObject>[] }[] = [];
  private readonly watched: {
    type: ResourceType;
    map: MapFunc;
    predicates: readonly Predicate<KubeObject>[];
  }[] = [];
  private options: ControllerOptions = {};

  constructor(
    private readonly manager: Manager,
    private readonly name: string,
  ) {}

  /** The primary kind: its events enqueue the object's own key. */
  for(type: ResourceType, opts: { predicates?: Predicate<KubeObject>[] } = {}): this {
    if (this.primary) throw new Error(`controller ${this.name}: for() may be called once`);
    this.primary = { type, predicates: [...(opts.predicates ?? [])] };
    return this;
  }

  /** A child kind: its events enqueue the key of its controller owner, which must be of the `for` kind. */
  owns(type: ResourceType, opts: { predicates?: Predicate<KubeObject>[] } = {}): this {
    this.owned.push({ type, predicates: [...(opts.predicates ?? [])] });
    return this;
  }

  /** Any kind, with your own mapping from its objects to Requests. */
  watches(
    type: ResourceType,
    map: (obj: KubeObject) => Request[],
    opts: { predicates?: Predicate<KubeObject>[] } = {},
  ): this {
    this.watched.push({ type, map, predicates: [...(opts.predicates ?? [])] });
    return this;
  }

  withOptions(options: ControllerOptions): this {
    this.options = { ...options };
    return this;
  }

  /** Creates the controller and adds it to the manager, which starts it. */
  complete(reconciler: Reconciler): Controller {
    const primary = this.primary;
    if (!primary && this.owned.length > 0) {
      throw new Error(`controller ${this.name}: owns() needs for(): owners are of the for() kind`);
    }
    const sources: Source[] = [];
    if (primary) {
      sources.push(
        informerSource(this.manager.getInformer(primary.type), enqueueObject(), primary.predicates, {
          primary: true,
        }),
      );
      for (const child of this.owned) {
        const map = enqueueControllerOwner(primary.type);
        sources.push(informerSource(this.manager.getInformer(child.type), map, child.predicates));
      }
    }
    for (const w of this.watched) {
      sources.push(informerSource(this.manager.getInformer(w.type), w.map, w.predicates));
    }
    if (sources.length === 0)
      throw new Error(`controller ${this.name}: nothing to watch; call for() or watches()`);

    const controller = new Controller(this.name, reconciler, sources, this.options, {
      metrics: this.manager.metrics,
      logger: this.manager.logger,
      tracer: this.manager.tracer,
      history: this.manager.history,
    });
    this.manager.add(controller);
    return controller;
  }
}
