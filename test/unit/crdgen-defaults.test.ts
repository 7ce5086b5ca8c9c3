/**
 * The generated StudyLab CRD agrees with DEFAULTS (src/api/v1alpha1/defaults.ts),
 * both ways, and the committed CRD is what the generator writes today.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  DEFAULTS,
  GROUP,
  KIND,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from '../../src/api/v1alpha1/index.js';
import type { CustomResourceDefinition } from '../../hack/crdgen/crd.js';
import { generateCrd } from '../../hack/crdgen/generate.js';
import type { JSONSchemaProps } from '../../hack/crdgen/json-schema.js';
import { checkValue } from '../../hack/crdgen/tags.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where each default of DEFAULTS lands in the schema (`[]` steps into list items). */
const DEFAULT_FIELDS: Record<Exclude<keyof typeof DEFAULTS, 'securityContext'>, string[]> = {
  paused: ['spec.paused'],
  protocol: ['spec.app.ports[].protocol', 'spec.service.ports[].protocol'],
  strategyType: ['spec.app.strategy.type'],
  serviceType: ['spec.service.type'],
  accessModes: ['spec.storage.accessModes'],
  mountPath: ['spec.storage.mountPath'],
  retentionPolicy: ['spec.storage.retentionPolicy'],
};

function at(root: JSONSchemaProps, path: string): JSONSchemaProps {
  let node: JSONSchemaProps | undefined = root;
  for (const step of path.split('.')) {
    const name = step.replace(/\[\]$/, '');
    node = node?.properties?.[name];
    if (step.endsWith('[]')) node = node?.items;
  }
  if (!node) throw new Error(`the schema has no ${path}`);
  return node;
}

/** Every field path under `node` that has a schema default. */
function defaultedPaths(node: JSONSchemaProps, path = ''): string[] {
  const here = node.default !== undefined ? [path] : [];
  const below = Object.entries(node.properties ?? {}).flatMap(([k, v]) =>
    defaultedPaths(v, path ? `${path}.${k}` : k),
  );
  const items = node.items ? defaultedPaths(node.items, `${path}[]`) : [];
  return [...here, ...below, ...items];
}

describe('crdgen: the StudyLab CRD and DEFAULTS', function () {
  this.timeout(30_000);
  let crd: CustomResourceDefinition;
  let schema: JSONSchemaProps;

  before(function () {
    crd = generateCrd(REPO_ROOT).crd;
    schema = crd.spec.versions[0]!.schema.openAPIV3Schema;
  });

  for (const [key, paths] of Object.entries(DEFAULT_FIELDS)) {
    for (const path of paths) {
      it(`DEFAULTS.${key} is the schema default of ${path}`, function () {
        expect(at(schema, path).default).to.deep.equal(DEFAULTS[key as keyof typeof DEFAULT_FIELDS]);
      });
    }
  }

  it('every schema default is one of DEFAULTS (no default the reconciler does not know)', function () {
    const expected = Object.values(DEFAULT_FIELDS).flat().sort();
    expect(defaultedPaths(schema).sort()).to.deep.equal(expected);
  });

  it('every key of DEFAULTS is checked here', function () {
    expect(Object.keys(DEFAULTS).sort()).to.deep.equal(
      [...Object.keys(DEFAULT_FIELDS), 'securityContext'].sort(),
    );
  });

  it('DEFAULTS.securityContext is applied by the reconciler, not the schema, and is a valid securityContext', function () {
    const field = at(schema, 'spec.app.securityContext');
    expect(field.default).to.equal(undefined);
    expect(field.description).to.include('Absent means the restricted default');
    expect(checkValue(field, DEFAULTS.securityContext, 'securityContext')).to.deep.equal([]);
  });

  it('every default satisfies its own field', function () {
    for (const path of defaultedPaths(schema)) {
      const field = at(schema, path);
      expect(checkValue(field, field.default, path), path).to.deep.equal([]);
    }
  });

  it('uses the names of src/api/v1alpha1/index.ts', function () {
    expect(crd.metadata.name).to.equal(`${PLURAL}.${GROUP}`);
    expect(crd.spec.group).to.equal(GROUP);
    expect(crd.spec.versions.map((v) => v.name)).to.deep.equal([VERSION]);
    expect(crd.spec.names).to.deep.include({
      kind: KIND,
      plural: PLURAL,
      singular: SINGULAR,
      listKind: `${KIND}List`,
    });
    expect(crd.spec.names.shortNames).to.deep.equal([...SHORT_NAMES]);
    expect(crd.spec.names.categories).to.deep.equal(['studylab']);
  });

  it('`generate-crd.ts --check` finds the committed CRD up to date', async function () {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'hack/generate-crd.ts', '--check'], {
      cwd: REPO_ROOT,
    });
    expect(stdout).to.include('crds/studylab.io_studylabs.yaml is up to date');
  });
});
