/**
 * Reliability 6: bad input at scale. Every StudyLab of the shared bad table
 * is refused by the API server with a message naming its field. Then at least
 * 1000 random specs the schema accepts go through the operator's builders:
 * none may throw, and each either validates as Invalid with a reason, or
 * every object built from it is accepted by the API server in a server-side
 * dry run. A failure prints the seed: STUDYLAB_FC_SEED=<seed> replays it.
 */
import { writeFileSync } from 'node:fs';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { expect } from 'chai';
import fc from 'fast-check';
import { GROUP, KIND, PLURAL, VERSION, type StudyLab } from '../../src/api/v1alpha1/index.js';
import {
  ConfigMaps,
  Deployments,
  NetworkPolicies,
  PersistentVolumeClaims,
  Services,
  type KubeObject,
  type ResourceType,
} from '../../src/runtime/index.js';
import {
  buildDeployment,
  buildNetworkPolicy,
  buildPersistentVolumeClaim,
  buildService,
} from '../../src/studylab/builders/index.js';
import { withIntentHash } from '../../src/studylab/intent.js';
import { FIELD_MANAGER } from '../../src/studylab/labels.js';
import { StudyLabs } from '../../src/studylab/resources.js';
import { computeStatus } from '../../src/studylab/status.js';
import { missingConfigMapReferences, validateLab } from '../../src/studylab/validation.js';
import { BAD_STUDYLABS, refusal, refusalMismatches } from '../support/bad-studylabs.js';
import { figures, inParallel, labObject, Scenario } from './support.js';
import { labName, validSchemaSpec } from './random-specs.js';

/** The seed CI uses (see the random-spec test). */
const FIXED_SEED = 20261202;
const RANDOM_SPECS = Number(process.env.STUDYLAB_FC_RUNS ?? 1000);

describe('reliability 6: bad input at scale', function () {
  this.timeout(300_000);
  let s: Scenario;

  before(async function () {
    s = await Scenario.start('input');
    // The random specs refer to ConfigMaps "settings" (which exists) and "other" (which does not).
    await s.admin.create(ConfigMaps, {
      metadata: { namespace: s.namespace, name: 'settings' },
      data: { k: 'v' },
    });
  });

  it(`refuses each of the ${BAD_STUDYLABS.length} bad StudyLabs with a message naming its field`, async function () {
    expect(BAD_STUDYLABS.length).to.be.at.least(50);
    const custom = s.cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    const wrong: string[] = [];
    let rejected = 0;
    await inParallel([...BAD_STUDYLABS], 8, async (bad, i) => {
      const outcome = await custom
        .createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: s.namespace,
          plural: PLURAL,
          body: {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: KIND,
            metadata: { name: `bad-${i}` },
            spec: bad.spec,
          },
          fieldValidation: 'Strict',
          dryRun: 'All',
        })
        .then(
          () => undefined,
          (err: unknown) => refusal(err),
        );
      if (!outcome) return void wrong.push(`${bad.name}: accepted`);
      const mismatches = refusalMismatches(bad, outcome);
      if (mismatches.length === 0) rejected++;
      else wrong.push(`${bad.name}: ${mismatches.join('; ')}`);
    });
    figures.invalidTried += BAD_STUDYLABS.length;
    figures.invalidRejected += rejected;
    expect(wrong).to.deep.equal([]);
  });

  it(`builds ${RANDOM_SPECS} random valid-schema specs without throwing; the API server accepts every object, or the lab is Invalid with a reason`, async function () {
    // A fixed seed, so CI tries the same 1000 specs every run; STUDYLAB_FC_SEED=random explores new ones.
    const seedEnv = process.env.STUDYLAB_FC_SEED ?? String(FIXED_SEED);
    const seed = seedEnv === 'random' ? Date.now() % 2 ** 31 : Number(seedEnv);
    const samples = fc.sample(
      fc.tuple(fc.nat(), validSchemaSpec).chain(([n, spec]) => labName(n).map((name) => ({ name, spec }))),
      { numRuns: RANDOM_SPECS, seed },
    );
    const failures: string[] = [];
    let invalid = 0;
    let accepted = 0;
    await inParallel(samples, 16, async ({ name, spec }, i) => {
      const show = `#${i} ${name} ${JSON.stringify(spec)}`;
      let lab: StudyLab;
      try {
        // The API server fills in the defaults, as it does for a real lab: the builders see what the operator would.
        lab = await s.admin.create(StudyLabs, labObject(s.namespace, name, spec), { dryRun: true });
      } catch (err) {
        failures.push(`${show}: the schema refused the generated spec (a generator bug): ${String(err)}`);
        return;
      }
      const problems = [...validateLab(lab), ...missingConfigMapReferences(lab, new Set(['settings']))];
      if (problems.length > 0) {
        const status = computeStatus(lab, { problems, applyErrors: [] }, new Date());
        const ready = status.conditions?.find((c) => c.type === 'Ready');
        if (
          status.phase !== 'Invalid' ||
          !ready?.reason ||
          !problems.every((p) => ready.message.includes(p.field))
        )
          failures.push(`${show}: problems ${JSON.stringify(problems)} but status ${JSON.stringify(status)}`);
        else invalid++;
        return;
      }
      let children: [ResourceType, KubeObject | undefined][];
      try {
        children = [
          [Deployments, lab.spec.app ? buildDeployment(lab) : undefined],
          [Services, buildService(lab)],
          [NetworkPolicies, buildNetworkPolicy(lab)],
          [
            PersistentVolumeClaims,
            lab.spec.storage ? buildPersistentVolumeClaim(lab, undefined).intent : undefined,
          ],
        ];
      } catch (err) {
        failures.push(`${show}: a builder threw: ${String(err)}`);
        return;
      }
      for (const [type, obj] of children) {
        if (!obj) continue;
        try {
          await s.admin.apply(type, withIntentHash(obj), {
            fieldManager: FIELD_MANAGER,
            force: true,
            dryRun: true,
          });
        } catch (err) {
          failures.push(`${show}: the API server refused the ${type.kind}: ${String(err)}`);
          return;
        }
      }
      accepted++;
    });
    // STUDYLAB_FC_DUMP=<file>: every failure, one a line, to sort by kind when there are many.
    if (process.env.STUDYLAB_FC_DUMP) writeFileSync(process.env.STUDYLAB_FC_DUMP, failures.join('\n'));
    figures.randomTried += samples.length;
    figures.randomAccepted += accepted;
    figures.randomInvalid += invalid;
    expect(failures.slice(0, 10), `seed ${seed}: ${failures.length} failures`).to.deep.equal([]);
    expect(accepted + invalid).to.equal(RANDOM_SPECS);
    expect(accepted, 'most random specs are buildable').to.be.at.least(RANDOM_SPECS / 4);
  });
});
