/**
 * Every sample, applied the way samples/README.md tells a user to (`kubectl apply -f samples/`),
 * with the operator running under the shipped RBAC: each lab reaches the phase the README's table
 * promises, so the table cannot drift from what the operator does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { CustomObjectsApi, EventsV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KIND, type StudyLab } from '../../src/api/v1alpha1/index.js';
import { kubectl, REPO_ROOT } from '../../src/testenv/index.js';
import { cluster, eventually, readLab, testNamespace, type Cluster } from '../support/cluster.js';
import { installOperatorPrerequisites } from '../support/install.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

const SAMPLES_DIR = `${REPO_ROOT}/samples`;

interface SampleLab {
  file: string;
  name: string;
  /** The first word of the README's "phase it reaches" column: Ready, Paused, ... */
  phase: string;
}

/** The labs of every sample file, each with the phase samples/README.md says it reaches. */
function sampleLabs(): SampleLab[] {
  const readme = readFileSync(`${SAMPLES_DIR}/README.md`, 'utf8');
  const phases = new Map<string, string>();
  for (const row of readme.matchAll(/^\| \[(\d{2}-[^\]]+\.yaml)\]\([^)]*\) \|.*\| ([A-Z][a-z]+)[^|]*\|$/gm)) {
    phases.set(row[1]!, row[2]!);
  }
  const labs: SampleLab[] = [];
  for (const file of readdirSync(SAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const phase = phases.get(file);
    if (!phase) throw new Error(`samples/README.md gives no phase for ${file}`);
    for (const doc of parseAllDocuments(readFileSync(`${SAMPLES_DIR}/${file}`, 'utf8'))) {
      const o = doc.toJSON() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
      if (o?.apiVersion === API_VERSION && o.kind === KIND)
        labs.push({ file, name: o.metadata!.name!, phase });
    }
  }
  return labs;
}

describe('samples on the full local plane (e2e)', function () {
  this.timeout(180_000);
  const labs = sampleLabs();
  let c: Cluster;
  let ns: string;
  let operator: OperatorProcess;
  let custom: CustomObjectsApi;

  const getLab = (name: string): Promise<StudyLab> => readLab(custom, ns, name);

  before(async function () {
    c = await cluster();
    const { kubeconfig } = await installOperatorPrerequisites();
    ns = await testNamespace('samples');
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    // Only this namespace: another suite's operator (or labs) cannot interfere.
    operator = await startOperator({ kubeconfig, args: [`--namespace=${ns}`] });
    await operator.waitReady();
    kubectl(c, ['apply', '-n', ns, '-f', SAMPLES_DIR]);
  });

  after(async function () {
    await operator?.stop();
  });

  it('finds a lab in every sample file', function () {
    const files = readdirSync(SAMPLES_DIR).filter((f) => f.endsWith('.yaml'));
    expect(new Set(labs.map((l) => l.file))).to.have.property('size', files.length);
  });

  it('brings every lab to the phase samples/README.md gives it', async function () {
    const wrong = await eventually(
      async () => {
        const off: string[] = [];
        for (const lab of labs) {
          const live = await getLab(lab.name);
          const s = live.status;
          if (s?.observedGeneration !== live.metadata.generation || s?.phase !== lab.phase) {
            const reasons = (s?.conditions ?? []).map((x) => `${x.type}=${x.status}(${x.reason})`).join(' ');
            off.push(`${lab.file} ${lab.name}: ${s?.phase ?? 'no status'}, want ${lab.phase}: ${reasons}`);
          }
        }
        if (off.length > 0) throw new Error(off.join('\n'));
        return off;
      },
      { timeoutMs: 150_000, intervalMs: 1000 },
    );
    expect(wrong).to.deep.equal([]);
  });

  it('wrote each child once: no lab has an Updated or DriftRepaired Event, as no spec changed', async function () {
    const events = c.kubeConfig.makeApiClient(EventsV1Api);
    const reasonsByLab = async (): Promise<Map<string, string[]>> => {
      const byLab = new Map<string, string[]>();
      for (const e of (await events.listNamespacedEvent({ namespace: ns })).items) {
        if (e.regarding?.kind !== KIND) continue;
        byLab.set(e.regarding.name!, [...(byLab.get(e.regarding.name!) ?? []), e.reason ?? '']);
      }
      return byLab;
    };
    // Events are sent in the background: wait until every created child has been told of.
    const byLab = await eventually(async () => {
      const seen = await reasonsByLab();
      for (const lab of labs.filter((l) => l.phase !== 'Paused')) {
        expect(seen.get(lab.name) ?? [], lab.name).to.satisfy((r: string[]) =>
          r.some((x) => x.endsWith('Created')),
        );
      }
      return seen;
    });
    const rewrites = [...byLab].flatMap(([lab, reasons]) =>
      reasons.filter((r) => r.endsWith('Updated') || r === 'DriftRepaired').map((r) => `${lab}: ${r}`),
    );
    expect(rewrites).to.deep.equal([]);
  });

  it('unpauses the paused sample, which then becomes Ready', async function () {
    const paused = labs.filter((l) => l.phase === 'Paused');
    expect(paused, 'a paused sample').to.not.be.empty;
    for (const lab of paused) {
      kubectl(c, ['patch', 'slab', lab.name, '-n', ns, '--type=merge', '-p', '{"spec":{"paused":false}}']);
    }
    await eventually(
      async () => {
        for (const lab of paused) {
          const live = await getLab(lab.name);
          expect(live.status?.observedGeneration, lab.name).to.equal(live.metadata.generation);
          expect(live.status?.phase, lab.name).to.equal('Ready');
        }
      },
      { timeoutMs: 60_000 },
    );
  });
});
