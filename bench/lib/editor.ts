/**
 * What a user waits for while the operator is busy: spec edits made during a storm of work (a
 * restart onto thousands of converged labs, or a thousand labs created at once), each timed from its
 * PATCH until the lab's Deployment shows the new image. A priority queue is what keeps these short:
 * an edit changes a lab's generation, the storm's keys come from an initial list or are new.
 */
import { performance } from 'node:perf_hooks';
import type { V1Deployment } from '@kubernetes/client-node';
import type { StudyLab } from '../../src/api/v1alpha1/index.js';
import { Deployments } from '../../src/runtime/index.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/studylab/labels.js';
import { StudyLabs } from '../../src/studylab/resources.js';
import { round, type StormResult } from './figures.js';
import { labName } from './labs.js';
import type { Bench } from './plane.js';
import { percentile } from './stats.js';
import { NamespaceWatch } from './watch.js';

/** How the editor paces its edits during a storm. */
export interface EditPace {
  /** One edit starts every `everyMs`, whether or not the earlier ones are done. */
  everyMs: number;
  /** No more edits than this in one storm. */
  max: number;
}

/**
 * Edits converged labs of one namespace at a steady pace while a storm lasts. Open it before the
 * storm: its watch lists every Deployment of the namespace, which takes a while at 10 000 labs and
 * must not be counted in the first edit's time.
 */
export class Editor {
  private constructor(
    private readonly bench: Bench,
    private readonly ns: string,
    private readonly deployments: NamespaceWatch<V1Deployment>,
  ) {}

  static async open(bench: Bench, ns: string): Promise<Editor> {
    const deployments = new NamespaceWatch<V1Deployment>(
      bench.plane.admin,
      Deployments,
      ns,
      `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    );
    await deployments.start();
    return new Editor(bench, ns, deployments);
  }

  /**
   * Edits labs [0, labs) one after another, a new one every `pace.everyMs`, while `busy()` holds,
   * and resolves with each edit's time once every edit started is seen through. Edits run
   * concurrently, one per lab at a time, so a slow one does not hold back the pace.
   */
  async editWhile(labs: number, busy: () => boolean, pace: EditPace, tag: string): Promise<number[]> {
    const samples: number[] = [];
    const inFlight = new Map<string, Promise<void>>();
    for (let e = 0; e < pace.max && busy(); e++) {
      const name = labName(e % labs);
      if (!inFlight.has(name)) {
        const edit = this.edit(name, `registry.example/studylab/app:${tag}-${e}`).then(({ ms }) => {
          samples.push(ms);
          inFlight.delete(name);
        });
        inFlight.set(name, edit);
      }
      await new Promise((r) => setTimeout(r, pace.everyMs));
    }
    await Promise.all(inFlight.values());
    return samples;
  }

  close(): Promise<void> {
    return this.deployments.stop();
  }

  /** One edit of lab `name` to `image`: its time until the Deployment shows it, and the lab's new generation. */
  async edit(name: string, image: string): Promise<{ ms: number; generation: number }> {
    const t0 = performance.now();
    const edited = await this.bench.plane.admin.patch<StudyLab>(
      StudyLabs,
      this.ns,
      name,
      { spec: { app: { image } } },
      { type: 'merge' },
    );
    const t1 = await this.deployments.until(
      (m) => m.get(name)?.spec?.template?.spec?.containers?.[0]?.image === image,
      this.bench.options.timeoutMs,
      `Deployment ${name} with ${image}`,
    );
    return { ms: t1 - t0, generation: edited.metadata.generation! };
  }
}

/** The figures of one storm's edits; `seconds` is how long the storm lasted. */
export function stormResult(labs: number, samples: readonly number[], seconds: number): StormResult {
  return {
    labs,
    edits: samples.length,
    p50Ms: round(percentile(samples, 50) ?? 0, 1),
    p99Ms: round(percentile(samples, 99) ?? 0, 1),
    maxMs: round(samples.length ? Math.max(...samples) : 0, 1),
    seconds: round(seconds, 2),
  };
}
