/**
 * studylab_labs{phase}: how many labs the cache holds in each phase, counted when
 * /metrics is scraped. What an alert on labs stuck outside Ready needs; object
 * names never go into labels (a label per lab would grow with the labs).
 */
import { Gauge, type Registry } from 'prom-client';
import type { Phase, StudyLab } from '../api/v1alpha1/index.js';
import type { Store } from '../runtime/index.js';
import { PHASE_PRECEDENCE } from './status.js';

export const LABS_METRIC = 'studylab_labs';

/** A lab the operator has not written a status for yet (just created, or while no replica leads). */
export const NO_PHASE = 'Unknown';

/**
 * Registers the gauge on `registry` (once: a second call returns the first gauge).
 * Every phase has a series from the start, at 0, so a query for one phase is
 * never "no data" and an alert's `for` has a series to follow.
 */
export function registerLabsGauge(registry: Registry, labs: Pick<Store<StudyLab>, 'list'>): Gauge<'phase'> {
  const existing = registry.getSingleMetric(LABS_METRIC);
  if (existing) return existing as Gauge<'phase'>;
  return new Gauge({
    name: LABS_METRIC,
    help: `StudyLabs in the cache by status.phase (${NO_PHASE}: no phase written yet).`,
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>([...PHASE_PRECEDENCE, NO_PHASE].map((p) => [p, 0]));
      for (const lab of labs.list()) {
        const phase: Phase | undefined = lab.status?.phase;
        const key = phase && counts.has(phase) ? phase : NO_PHASE;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [phase, n] of counts) this.set({ phase }, n);
    },
  });
}
