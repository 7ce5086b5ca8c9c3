import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { StudyLab } from '../../src/api/v1alpha1/index.js';
import { LABS_METRIC, registerLabsGauge } from '../../src/studylab/metrics.js';

function lab(name: string, phase?: string): StudyLab {
  return {
    apiVersion: 'studylab.io/v1alpha1',
    kind: 'StudyLab',
    metadata: { name, namespace: 'labs' },
    spec: {},
    ...(phase ? { status: { phase } } : {}),
  } as StudyLab;
}

async function values(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric(LABS_METRIC)!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.phase), v.value]));
}

describe('studylab_labs{phase}', function () {
  it('has every phase at 0 before any lab exists', async function () {
    const registry = new Registry();
    registerLabsGauge(registry, { list: () => [] });
    expect(await values(registry)).to.deep.equal({
      Paused: 0,
      Invalid: 0,
      Degraded: 0,
      Pending: 0,
      Progressing: 0,
      Ready: 0,
      Unknown: 0,
    });
  });

  it('counts the cache at each scrape, labs without a phase as Unknown, and names no lab', async function () {
    const registry = new Registry();
    let labs = [lab('a', 'Ready'), lab('b', 'Ready'), lab('c', 'Degraded'), lab('d')];
    registerLabsGauge(registry, { list: () => labs });
    expect(await values(registry)).to.include({ Ready: 2, Degraded: 1, Unknown: 1, Pending: 0 });

    labs = [lab('a', 'Ready')];
    expect(await values(registry)).to.include({ Ready: 1, Degraded: 0, Unknown: 0 });
    const text = await registry.metrics();
    expect(text).to.not.match(/"a"|name=/);
  });

  it('is registered once per registry', function () {
    const registry = new Registry();
    const first = registerLabsGauge(registry, { list: () => [] });
    expect(registerLabsGauge(registry, { list: () => [lab('x')] })).to.equal(first);
  });
});
